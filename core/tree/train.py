"""Training a tiny LM on the grammar's sequences and scoring which rule it follows; :func:`run` is one sweep cell.

Objective: next-token cross-entropy over the whole sequence ``input . MARKER output END`` (language modelling,
as in Qin et al. 2024 and Murty et al. 2023; ``loss_on_input=False`` scores the output tokens only, as a
seq2seq model would). AdamW with a linear warm-up, then a constant learning rate by default (a decay would
freeze the late training dynamics the study records; ``schedule="cosine"`` decays to 10%), gradient norm
clipped at 1. Everything random (data, initialisation, batches) derives from the seed.

Scored every ``eval_every`` steps (and at step 0), by teacher forcing:

* ``ood_hierarchical`` / ``ood_linear`` / ``ood_other``: on the generalization items (relative clause on the
  subject, the rules disagree), the model's choice at the measured position among the task's candidates
  ({do, does, don't, doesn't}; the present-tense verb forms) is the hierarchical rule's answer, the linear
  rule's, or another candidate.
* ``id_accuracy``: held-out training-distribution questions whose whole output is the argmax (equal to greedy
  decoding being exactly right); ``id_first``: their measured token alone.
* ``ood_hierarchical_rc_v`` / ``_rc_vo`` / ``_rc_sv``: the hierarchical fraction per kind of relative clause on
  the subject (:mod:`.grammar`); only the object gap (``rc_sv``) defeats "front the first auxiliary after a noun".
* ``train_loss``: mean training loss since the previous evaluation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F
from discolab.core.errors import DiscolabError
from discolab.core.moe.tasks import IGNORE
from discolab.core.moe.train import warmup_cosine_lr

from .grammar import (
    AUXILIARY_TOKENS,
    INTRANSITIVE,
    RELATIVE_CLAUSES,
    TRANSITIVE,
    Item,
    TreeData,
    TreeDataConfig,
    build_data,
)
from .model import MODEL_KEYS, logits, make_model

DATA_KEYS = tuple(f.name for f in fields(TreeDataConfig))
TRAIN_KEYS = ("steps", "batch_size", "lr", "warmup", "weight_decay", "schedule", "eval_every", "loss_on_input")
SCHEDULES = ("constant", "cosine")
TRAJECTORY_METRICS = ("ood_hierarchical", "ood_linear", "ood_other", "id_accuracy", "id_first", "train_loss")


@dataclass
class TrainConfig:
    steps: int = 3000
    batch_size: int = 64
    lr: float = 1e-3
    warmup: int = 100
    weight_decay: float = 0.0
    schedule: str = "constant"
    eval_every: int = 250
    loss_on_input: bool = True

    def __post_init__(self):
        if self.steps < 1 or self.batch_size < 1 or self.lr <= 0 or self.warmup < 0 or self.eval_every < 1:
            raise DiscolabError(f"bad training settings: {self}")
        if self.schedule not in SCHEDULES:
            raise DiscolabError(f"unknown schedule {self.schedule!r}; choose from {', '.join(SCHEDULES)}")

    def lr_at(self, step: int) -> float:
        if self.schedule == "constant" and step >= self.warmup:
            return self.lr
        return warmup_cosine_lr(step, self.lr, self.warmup, self.steps)


@dataclass
class Encoded:
    """Items as padded id tensors with what scoring needs."""

    ids: torch.Tensor  # (N, L), PAD = 0 after the end
    targets: torch.Tensor  # (N, L - 1): next tokens, IGNORE on padding (and on the input, if not scored)
    measure_at: torch.Tensor  # (N,)
    hierarchical: torch.Tensor  # (N,) token ids
    linear: torch.Tensor


def encode(items: list[Item], index: dict[str, int], block_size: int, loss_on_input: bool = True) -> Encoded:
    ids = torch.zeros(len(items), block_size, dtype=torch.long)
    output_mask = torch.zeros(len(items), block_size, dtype=torch.bool)
    for row, item in enumerate(items):
        ids[row, : len(item.tokens)] = torch.tensor([index[t] for t in item.tokens])
        output_mask[row, item.input_length + 2 : len(item.tokens)] = True  # after "." and the marker
    targets = ids[:, 1:].clone()
    targets[ids[:, 1:] == 0] = IGNORE
    if not loss_on_input:
        targets[~output_mask[:, 1:]] = IGNORE
    hierarchical = torch.tensor([index[item.hierarchical] for item in items])
    linear = torch.tensor([index[item.linear] for item in items])
    measure_at = torch.tensor([item.measure_at for item in items])
    return Encoded(ids, targets, measure_at, hierarchical, linear)


def output_targets(encoded: Encoded, items: list[Item]) -> torch.Tensor:
    """Next-token targets on the output tokens only (for the exact-match score)."""
    targets = torch.full_like(encoded.targets, IGNORE)
    for row, item in enumerate(items):
        start = item.input_length + 2
        targets[row, start - 1 : len(item.tokens) - 1] = encoded.ids[row, start : len(item.tokens)]
    return targets


def candidates(data: TreeData) -> torch.Tensor:
    """Token ids the measured choice is made among: the auxiliaries, or every present-tense verb form."""
    if data.config.task == "question":
        words = AUXILIARY_TOKENS
    else:
        lexicon = data.config.lexicon
        words = [form for verb in (*lexicon.intransitive, *lexicon.transitive) for form in verb[:2]]
        assert set(words) <= {f for v in (*INTRANSITIVE, *TRANSITIVE) for f in v[:2]}
    index = data.index
    return torch.tensor([index[w] for w in words])


class Scorer:
    """Teacher-forced scores of a model on the seed's test sets (built once, reused every evaluation)."""

    def __init__(self, data: TreeData):
        index, block = data.index, data.block_size
        self.ood = encode(data.ood_test, index, block)
        self.id = encode(data.id_test, index, block)
        self.id_output = output_targets(self.id, data.id_test)
        self.candidates = candidates(data)
        subject = [item.template.subject for item in data.ood_test]
        self.groups = {name: torch.tensor([s == name for s in subject]) for name in RELATIVE_CLAUSES}
        if data.config.task == "question":
            number = torch.tensor([_number(i.hierarchical) != _number(i.linear) for i in data.ood_test])
            negation = torch.tensor([("n't" in i.hierarchical) != ("n't" in i.linear) for i in data.ood_test])
            self.groups |= {"number": number & ~negation, "negation": negation & ~number, "both": number & negation}

    def breakdown(self, model) -> dict:
        """Final diagnostics: the linear fraction per kind of relative clause on the subject and, for questions, both
        fractions per way the two auxiliaries differ (number, negation, both). The hierarchical fraction per kind of
        clause is part of every evaluation (:meth:`__call__`)."""
        with torch.no_grad():
            model.eval()
            choice = self.choice(model, self.ood)
        hierarchical, linear = choice == self.ood.hierarchical, choice == self.ood.linear
        out = {}
        for name, mask in self.groups.items():
            if mask.any():
                if name not in RELATIVE_CLAUSES:
                    out[f"ood_hierarchical_{name}"] = hierarchical[mask].float().mean().item()
                out[f"ood_linear_{name}"] = linear[mask].float().mean().item()
        return out

    def choice(self, model, encoded: Encoded) -> torch.Tensor:
        out = logits(model, encoded.ids)
        at = out[torch.arange(len(out)), encoded.measure_at - 1][:, self.candidates]
        return self.candidates[at.argmax(-1)]

    @torch.no_grad()
    def __call__(self, model) -> dict:
        was_training = model.training
        model.eval()
        choice = self.choice(model, self.ood)
        hierarchical = (choice == self.ood.hierarchical).float().mean().item()
        linear = (choice == self.ood.linear).float().mean().item()
        out = logits(model, self.id.ids[:, :-1])  # position t predicts token t + 1
        predicted = out.argmax(-1)
        mask = self.id_output != IGNORE
        exact = ((predicted == self.id_output) | ~mask).all(dim=1).float().mean().item()
        first = out[torch.arange(len(out)), self.id.measure_at - 1].argmax(-1)
        model.train(was_training)
        by_clause = {
            f"ood_hierarchical_{name}": (choice == self.ood.hierarchical)[self.groups[name]].float().mean().item()
            for name in RELATIVE_CLAUSES
            if self.groups[name].any()
        }
        return {
            "ood_hierarchical": hierarchical,
            "ood_linear": linear,
            "ood_other": 1.0 - hierarchical - linear,
            "id_accuracy": exact,
            "id_first": (first == self.id.hierarchical).float().mean().item(),
            **by_clause,
        }


def _number(auxiliary: str) -> str:
    return "sg" if auxiliary.startswith("does") else "pl"


def split_config(config: dict) -> tuple[TreeDataConfig, dict, TrainConfig]:
    """(data, model sizes, training) from a flat cell config; unknown keys are an error, not silently ignored."""
    unknown = set(config) - set(DATA_KEYS) - set(MODEL_KEYS) - set(TRAIN_KEYS)
    if unknown:
        known = ", ".join((*DATA_KEYS, *MODEL_KEYS, *TRAIN_KEYS))
        raise DiscolabError(f"unknown tree config keys {sorted(unknown)}; known: {known}")
    data = TreeDataConfig(**{k: v for k, v in config.items() if k in DATA_KEYS})
    model = {k: v for k, v in config.items() if k in MODEL_KEYS}
    train = TrainConfig(**{k: v for k, v in config.items() if k in TRAIN_KEYS})
    return data, model, train


def run(config: dict, seed: int, progress: Callable[[str], None] | None = None) -> list[dict]:
    """One cell: build the seed's data and model, train, score every ``eval_every`` steps.

    Returns rows ``{"metric", "value", "step"}``: the :data:`TRAJECTORY_METRICS` at each evaluation, and at the
    last step also the parameter count, vocabulary and block sizes and the training time.
    """
    return train_model(config, seed, progress)[2]


def train_model(
    config: dict, seed: int, progress: Callable[[str], None] | None = None
) -> tuple[torch.nn.Module, TreeData, list[dict]]:
    """:func:`run`, also returning the trained model and the data (for inspection)."""
    data_config, model_sizes, train = split_config(config)
    data = build_data(data_config, seed)
    torch.manual_seed(seed)
    model = make_model(len(data.vocab), data.block_size, **model_sizes)
    train_set = encode(data.train, data.index, data.block_size, train.loss_on_input)
    scorer = Scorer(data)
    generator = torch.Generator().manual_seed(seed + 7919)
    optimizer = torch.optim.AdamW(model.parameters(), lr=train.lr, weight_decay=train.weight_decay, betas=(0.9, 0.98))
    rows = [{"metric": k, "value": v, "step": 0} for k, v in scorer(model).items()]
    start, losses = time.perf_counter(), []
    model.train()
    for step in range(1, train.steps + 1):
        for group in optimizer.param_groups:
            group["lr"] = train.lr_at(step - 1)
        batch = torch.randint(len(data.train), (train.batch_size,), generator=generator)
        ids, targets = train_set.ids[batch], train_set.targets[batch]
        length = int((ids != 0).sum(1).max())  # trim the common padding
        out = logits(model, ids[:, : length - 1])
        loss = F.cross_entropy(
            out.reshape(-1, out.shape[-1]), targets[:, : length - 1].reshape(-1), ignore_index=IGNORE
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
        if step % train.eval_every == 0 or step == train.steps:
            scores = {**scorer(model), "train_loss": sum(losses) / len(losses)}
            rows += [{"metric": k, "value": v, "step": step} for k, v in scores.items()]
            losses = []
            if progress:
                progress(
                    f"step {step}/{train.steps}: loss {scores['train_loss']:.4f}, "
                    f"OOD hierarchical {scores['ood_hierarchical']:.3f} linear {scores['ood_linear']:.3f}, "
                    f"ID exact {scores['id_accuracy']:.3f}"
                )
    final = {
        **scorer.breakdown(model),
        "params": sum(p.numel() for p in model.parameters()),
        "vocab_size": len(data.vocab),
        "block_size": data.block_size,
        "train_seconds": time.perf_counter() - start,
    }
    rows += [{"metric": k, "value": v, "step": train.steps} for k, v in final.items()]
    return model, data, rows
