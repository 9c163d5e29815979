"""The five conditions compared on the same held-out proteins.

1. ``zero-shot``: the text LM with its own tokenizer, no training.
2. ``source-finetune``: its own tokenizer, LoRA on the body.
3. ``fresh-embeddings``: the protein BPE tokenizer, a fresh embedding table (tied head) trained
   with LoRA on the body.
4. ``s2t2``: the protein BPE tokenizer through the sparse plan P; P's scores and LoRA on the body
   are learned together from the first step (the paper's setting).
5. ``s2t2-frozen``: the ablation of 4 with the body frozen: only P's scores are learned.

The two source-tokenizer conditions take ``source_head``: ``full`` (the next-token distribution
over all 49,152 tokens) or ``residue-tokens`` (renormalised over the tokens spelled with residue
letters, :mod:`.model`), the control for S2T2's head, which renormalises over the source tokens
seen on proteins. A full-head run also scores the same trained model with the renormalised head
(``<eval_split>_bpc_residue_head``): what renormalising is worth, paired, at no training cost.

Every trained condition reads the training windows in the same seeded order, in batches of
``batch_size``, until it has seen ``residues`` residues, and is scored by bits per character on
the windows of ``eval_split``: ``validation`` to choose learning rates and budgets, ``test`` only
for the final comparison (the data split is fixed by ``split_seed``; ``seed`` varies
initialisation and order).
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import torch

from ..files import save_atomic
from ..paths import data_path
from .data import protein_sequences, split_sequences
from .model import HEADS, S2T2LM, SOURCE_HEADS, FreshTokenLM, SourceTokenLM, load_body, residue_token_ids
from .plan import nonzeros_per_row
from .tokenizer import characters_per_token, train_protein_bpe
from .train import bits_per_character, fit, windows

CONDITIONS = ("zero-shot", "source-finetune", "fresh-embeddings", "s2t2", "s2t2-frozen")
SOURCE_CONDITIONS = ("zero-shot", "source-finetune")  # the text LM's own tokenizer: ``source_head`` applies
LORA_CONDITIONS = ("source-finetune", "fresh-embeddings", "s2t2")  # LoRA on the body
EVAL_SPLITS = ("validation", "test")
COLUMN_MARGINALS = ("frequency", "uniform")


@dataclass(frozen=True)
class S2T2Config:
    vocab_size: int = 512  # the protein BPE's vocabulary
    window: int = 256  # residues per training / evaluation window
    residues: int = 80_000  # training budget in residues (one pass over the training proteins is 163,133)
    batch_size: int = 4
    learning_rate: float = 1e-3  # LoRA and fresh embeddings
    plan_learning_rate: float = 1e-3  # P's scores
    lora_rank: int = 8
    plan_iterations: int = 10  # dual row / column updates (column mass error ~1e-2 of a column at 10)
    column_marginal: str = "frequency"
    plan_head: str = "probabilities"  # S2T2's next-token head: source probabilities or logits through P
    source_head: str = "full"  # the source-tokenizer conditions' head: all tokens, or renormalised over residue tokens
    eval_split: str = "test"  # the windows scored: validation (choosing settings) or test (the comparison)
    split_seed: int = 0

    def __post_init__(self):
        if self.residues < 1 or self.window < 1 or self.batch_size < 1 or self.vocab_size < 8:
            raise ValueError(f"invalid S2T2 config {self}")
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")


CHOICES = {  # the config fields that take one of a few values
    "column_marginal": COLUMN_MARGINALS,
    "plan_head": HEADS,
    "source_head": SOURCE_HEADS,
    "eval_split": EVAL_SPLITS,
}


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
    lora = config.lora_rank if condition in LORA_CONDITIONS else None
    body, source_tokenizer = load_body(lora, seed)
    if condition in SOURCE_CONDITIONS:
        vocabulary = None
        if config.source_head == "residue-tokens":
            vocabulary = residue_token_ids(source_tokenizer, data["sequences"]["train"])
        return SourceTokenLM(body, source_tokenizer, vocabulary)
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
    condition: str,
    config: S2T2Config,
    seed: int,
    progress: Callable[[str], None] | None = None,
    budgets: Sequence[int] = (),
) -> tuple[torch.nn.Module, dict]:
    """Build, train (within the budget) and score one condition; (model, metrics with the loss curve).

    The score is ``<eval_split>_bpc``. ``budgets``: residue counts up to ``config.residues`` at which
    the eval split is also scored during the run, in ``<eval_split>_bpc_by_budget`` ({residues: BPC},
    ``config.residues`` always included). The learning rate is constant and the window order a seeded
    stream, so after b residues this run is the model a run with ``residues=b`` ends with: one run
    scores every budget.
    """
    if any(b > config.residues for b in budgets):
        raise ValueError(f"budgets {sorted(budgets)} go past the run's {config.residues:,} residues")
    start = time.perf_counter()
    model = build_model(condition, config, seed)
    data = prepared_data(config.vocab_size, config.window, config.split_seed)
    evaluated = data["windows"][config.eval_split]
    pending = sorted(b for b in set(budgets) if b < config.residues)
    by_budget: dict[int, float] = {}

    def report(seen, total, loss):
        while pending and seen >= pending[0]:
            by_budget[pending.pop(0)] = bits_per_character(model, evaluated)
        if progress:
            progress(f"{condition} seed {seed}: {seen:,}/{total:,} residues, loss {loss:.3f} bits/residue")

    losses: list[float] = []
    if condition != "zero-shot":
        train = data["windows"]["train"]
        losses = fit(
            model,
            train,
            config.residues,
            config.learning_rate,
            config.plan_learning_rate,
            config.batch_size,
            seed,
            progress=report,
        )
    if progress:
        progress(f"{condition} seed {seed}: scoring the {config.eval_split} windows")
    score = bits_per_character(model, evaluated)
    metrics = {f"{config.eval_split}_bpc": score}
    if isinstance(model, SourceTokenLM) and model.vocabulary is None:
        # the same model with its head renormalised over the residue tokens: what renormalising alone is worth
        model.vocabulary = residue_token_ids(model.tokenizer, data["sequences"]["train"])
        metrics[f"{config.eval_split}_bpc_residue_head"] = bits_per_character(model, evaluated)
        model.vocabulary = None
    metrics |= {
        "chars_per_token": tokenizer_compression(model, data["sequences"][config.eval_split]),
        "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "train_seconds": time.perf_counter() - start,
        "losses": losses,
    }
    if budgets:
        metrics[f"{config.eval_split}_bpc_by_budget"] = {**by_budget, config.residues: score}
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
