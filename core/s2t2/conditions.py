"""The five conditions compared on the same held-out proteins and the same residue budget.

1. ``zero-shot``: the text LM with its own tokenizer, no training.
2. ``source-finetune``: its own tokenizer, LoRA on the body.
3. ``fresh-embeddings``: the protein BPE tokenizer, a fresh embedding table (tied head) trained
   with LoRA on the body.
4. ``s2t2``: the protein BPE tokenizer through the sparse plan P; only P's scores are learned,
   the body is frozen.
5. ``s2t2-finetune``: S2T2 for the first ``s2t2_fraction`` of the budget, then LoRA on the body
   and P together for the rest.

Every trained condition sees the same number of training residues (``residues``), the same
windows in a seeded order, and is scored by bits per character on the same test windows (the
data split is fixed by ``split_seed``; ``seed`` varies initialisation and order).
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import torch

from ..files import save_atomic
from ..paths import data_path
from .data import protein_sequences, split_sequences
from .model import S2T2LM, FreshTokenLM, SourceTokenLM, add_lora, load_body
from .plan import nonzeros_per_row
from .tokenizer import characters_per_token, train_protein_bpe
from .train import bits_per_character, fit, windows

CONDITIONS = ("zero-shot", "source-finetune", "fresh-embeddings", "s2t2", "s2t2-finetune")


@dataclass(frozen=True)
class S2T2Config:
    vocab_size: int = 512  # the protein BPE's vocabulary
    window: int = 256  # residues per training / test window
    residues: int = 80_000  # training budget in residues (half a pass over the ~163k training residues;
    # every condition's loss plateaus within the first ~20 steps, measured)
    batch_size: int = 4
    learning_rate: float = 1e-3  # LoRA and fresh embeddings
    plan_learning_rate: float = 1e-3  # P's scores
    lora_rank: int = 8
    plan_iterations: int = 10  # dual row / column updates (column mass error ~1e-2 of a column at 10)
    column_marginal: str = "frequency"
    plan_head: str = "probabilities"  # S2T2's next-token head: source probabilities or logits through P
    s2t2_fraction: float = 0.5  # s2t2-finetune: share of the budget spent on P alone
    split_seed: int = 0

    def __post_init__(self):
        if self.residues < 1 or self.window < 1 or self.batch_size < 1 or self.vocab_size < 8:
            raise ValueError(f"invalid S2T2 config {self}")
        if not 0.0 < self.s2t2_fraction < 1.0:
            raise ValueError(f"s2t2_fraction must be in (0, 1), got {self.s2t2_fraction}")


@lru_cache(maxsize=4)
def prepared_data(vocab_size: int, window: int, split_seed: int) -> dict:
    """The split, its windows and the protein BPE tokenizer (deterministic, cached per process)."""
    parts = split_sequences(protein_sequences(), seed=split_seed)
    return {
        "sequences": parts,
        "windows": {name: windows(seqs, window) for name, seqs in parts.items()},
        "tokenizer": train_protein_bpe(parts["train"], vocab_size),
    }


def build_model(condition: str, config: S2T2Config, seed: int):
    """The untrained model of ``condition`` (the body a fresh private copy)."""
    if condition not in CONDITIONS:
        raise ValueError(f"unknown condition {condition!r}; choose from {', '.join(CONDITIONS)}")
    data = prepared_data(config.vocab_size, config.window, config.split_seed)
    lora = config.lora_rank if condition in ("source-finetune", "fresh-embeddings") else None
    body, source_tokenizer = load_body(lora, seed)
    if condition in ("zero-shot", "source-finetune"):
        return SourceTokenLM(body, source_tokenizer)
    if condition == "fresh-embeddings":
        return FreshTokenLM(body, data["tokenizer"], seed)
    return S2T2LM(
        body,
        data["tokenizer"],
        source_tokenizer,
        data["sequences"]["train"],
        seed,
        config.plan_iterations,
        config.column_marginal,
        config.plan_head,
    )


def train_condition(
    condition: str, config: S2T2Config, seed: int, progress: Callable[[str], None] | None = None
) -> tuple[torch.nn.Module, dict]:
    """Build, train (within the budget) and score one condition; (model, metrics with the loss curve)."""
    start = time.perf_counter()
    model = build_model(condition, config, seed)
    data = prepared_data(config.vocab_size, config.window, config.split_seed)
    train = data["windows"]["train"]

    def fit_for(residues: int, stage: str) -> list[float]:
        def report(seen, total, loss):
            if progress:
                progress(f"{condition} seed {seed} {stage}: {seen:,}/{total:,} residues, loss {loss:.3f} bits/residue")

        return fit(
            model,
            train,
            residues,
            config.learning_rate,
            config.plan_learning_rate,
            config.batch_size,
            seed,
            progress=report,
        )

    losses: list[float] = []
    if condition == "s2t2-finetune":
        first = int(config.residues * config.s2t2_fraction)
        losses += fit_for(first, "P alone")
        add_lora(model.causal_lm, config.lora_rank, seed)
        losses += fit_for(config.residues - first, "P + LoRA")
    elif condition != "zero-shot":
        losses += fit_for(config.residues, "training")
    if progress:
        progress(f"{condition} seed {seed}: scoring the test windows")
    metrics = {
        "test_bpc": bits_per_character(model, data["windows"]["test"]),
        "chars_per_token": tokenizer_compression(model, data["sequences"]["test"]),
        "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "train_seconds": time.perf_counter() - start,
        "losses": losses,
    }
    if isinstance(model, S2T2LM):
        counts = nonzeros_per_row(model.plan().detach()).float()
        metrics |= {
            "plan_nonzeros_mean": counts.mean().item(),
            "plan_nonzeros_median": counts.median().item(),
            "plan_nonzeros_max": counts.max().item(),
            "plan_sources": int(model.source_ids.numel()),
        }
    return model, metrics


def tokenizer_compression(model, sequences: list[str]) -> float:
    """Residues per token of the model's tokenizer on ``sequences``."""
    if isinstance(model, SourceTokenLM):
        tokens = sum(len(model.encode(s)) for s in sequences)
        return sum(len(s) for s in sequences) / tokens
    return characters_per_token(model.target_tokenizer, sequences)


def plan_dir(condition: str, seed: int) -> Path:
    return data_path("s2t2", f"{condition}-seed-{seed}")


def save_plan(model: S2T2LM, config: S2T2Config, seed: int, metrics: dict, folder: Path) -> Path:
    """P (sparse), the token strings of both vocabularies, the config and the scores, in ``folder``/plan.pt."""
    folder.mkdir(parents=True, exist_ok=True)
    plan = model.plan().detach().to_sparse()
    payload = {
        "indices": plan.indices(),
        "values": plan.values(),
        "shape": tuple(plan.shape),
        "source_ids": model.source_ids,
        "source_tokens": model.source_tokens,
        "target_tokens": [model.target_tokenizer.id_to_token(i) for i in range(plan.shape[0])],
        "config": asdict(config),
        "seed": seed,
        "metrics": {k: v for k, v in metrics.items() if k != "losses"},
    }
    path = folder / "plan.pt"
    save_atomic(payload, path)  # a reader never sees half a file
    return path


def saved_plans() -> list[Path]:
    """Every plan.pt under DATA_HOME/s2t2, newest first."""
    return sorted(data_path("s2t2").glob("*/plan.pt"), key=lambda p: p.stat().st_mtime, reverse=True)


def load_plan(path: Path) -> dict:
    """A saved plan with P dense (``plan``), the token strings, config, seed and metrics."""
    try:
        payload = torch.load(path, weights_only=True)
        sparse = torch.sparse_coo_tensor(payload["indices"], payload["values"], payload["shape"], check_invariants=True)
        payload["plan"] = sparse.to_dense()
    except (OSError, RuntimeError, KeyError, EOFError, pickle.UnpicklingError) as err:
        raise ValueError(f"{path} is not a readable S2T2 plan: {err}") from None
    return payload


def plan_mapping(payload: dict, targets: list[str] | None = None, top: int = 5) -> list[dict]:
    """Per target token (all, or those named): its nonzeros and its ``top`` source tokens by weight."""
    plan, names = payload["plan"], payload["target_tokens"]
    if targets is None:
        rows = range(len(names))
    else:
        unknown = [t for t in targets if t not in names]
        if unknown:
            raise ValueError(f"not in the protein vocabulary: {', '.join(unknown)}")
        rows = [names.index(t) for t in targets]
    out = []
    for t in rows:
        weights, columns = plan[t].topk(min(top, plan.shape[1]))
        sources = [(payload["source_tokens"][c], round(w.item(), 4)) for w, c in zip(weights, columns) if w > 0]
        out.append({"target": names[t], "nonzeros": int((plan[t] > 0).sum()), "sources": sources})
    return out
