"""Reproduction: distributional scaling on Zhou et al.'s count task.

Task (Zhou et al., 2023, "What Algorithms can Transformers Learn?"): the input ``a b >`` asks for
the numbers from a to b, ``a a+1 ... b <eos>``. Numbers are tokens 0..63. Training spans have
length b - a + 1 in 1..8; the out-of-distribution (OOD) test asks for spans of length 9..12.
Positions are learned absolute embeddings; training places each sequence at a random start
position, so every position is trained and what a longer span needs is the rule (stop at b).

Models: tiny decoder-only transformers (:mod:`.count_model`) at several sizes (depth x width),
each trained from many seeds (the seed sets initialisation and data order). Metrics per run:
``ood_exact`` (exact-match accuracy on every OOD span with a in 0..63-k: the sharp metric),
``ood_loglik`` (mean per-token log-likelihood of the OOD targets, teacher-forced: the continuous
metric), ``id_exact`` (exact match on held-out training-length spans) and ``params``.

Question (Zhao et al., 2024, "Distributional Scaling Laws for Emergent Capabilities"): across
seeds, is OOD accuracy bimodal at intermediate sizes; does P(success) move smoothly with size
while the seed-averaged curve looks sudden?

Run: ``python -m discolab.experiments.count_task [--quick] [--workers 2] [--seeds 20]``; the
results go to the runs database as experiment ``count-task`` (``count-task-quick``) and the
analysis (``discolab.core.scaling``) is printed and plotted.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch
from discolab.core.paths import data_path
from discolab.core.runs import RunsDB
from discolab.core.scaling import analyze
from discolab.core.scaling.plots import save_report_figure
from discolab.experiments.count_model import GPT, GPTConfig
from discolab.experiments.sweep import Sweep, add_sweep_arguments, run_sweep
from torch.nn import functional as F

NUMBERS = 64
SEP, EOS, PAD = NUMBERS, NUMBERS + 1, NUMBERS + 2
VOCAB = NUMBERS + 3
TRAIN_SPANS = (1, 8)
TEST_SPANS = (9, 12)
BLOCK = 3 + TEST_SPANS[1] + 1  # a b > + outputs + eos
SIZES = [(1, 16), (1, 32), (2, 32), (2, 48), (3, 48)]  # (layers, width)
QUICK_SIZES = [(1, 16), (2, 32)]
TRAINING = {"steps": 1500, "batch": 64, "lr": 3e-3, "weight_decay": 0.1}


def example(a: int, span: int) -> list[int]:
    b = a + span - 1
    return [a, b, SEP, *range(a, b + 1), EOS]


def all_examples(spans: tuple[int, int]) -> list[list[int]]:
    """Every (a, span) with the span in range and b < NUMBERS."""
    return [example(a, k) for k in range(spans[0], spans[1] + 1) for a in range(NUMBERS - k + 1)]


def training_batch(rng: np.random.Generator, batch: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inputs, targets (PAD-masked to the output tokens) and start positions for spans of training
    length. Each sequence starts at a random position, so that every position embedding is trained
    although no training output is longer than 8: what a long span needs beyond that is the rule
    itself (stop at b), not an unseen position."""
    spans = rng.integers(TRAIN_SPANS[0], TRAIN_SPANS[1] + 1, size=batch)
    starts = [int(rng.integers(0, NUMBERS - k + 1)) for k in spans]
    inputs, targets = padded([example(a, int(k)) for a, k in zip(starts, spans)])
    offsets = torch.from_numpy(rng.integers(0, BLOCK - inputs.shape[1] + 1, size=batch))
    return inputs, targets, offsets


def padded(sequences: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    length = max(len(s) for s in sequences)
    tokens = torch.full((len(sequences), length), PAD, dtype=torch.long)
    for i, s in enumerate(sequences):
        tokens[i, : len(s)] = torch.tensor(s)
    inputs, targets = tokens[:, :-1].clone(), tokens[:, 1:].clone()
    targets[:, :2] = PAD  # the prompt "a b >" is given, not predicted: loss on the outputs only
    return inputs, targets


@torch.no_grad()
def exact_match(model: GPT, sequences: list[list[int]]) -> float:
    """Greedy decoding from each prompt; a run is right only if its whole output (to <eos>) is."""
    prompts = torch.tensor([s[:3] for s in sequences])
    out = prompts
    for _ in range(BLOCK - 3):
        next_token = model(out)[:, -1].argmax(-1, keepdim=True)
        out = torch.cat([out, next_token], dim=1)
    right = 0
    for row, target in zip(out[:, 3:].tolist(), sequences):
        produced = row[: row.index(EOS) + 1] if EOS in row else row
        right += produced == target[3:]
    return right / len(sequences)


@torch.no_grad()
def mean_loglik(model: GPT, sequences: list[list[int]]) -> float:
    """Mean log-probability per output token under teacher forcing."""
    inputs, targets = padded(sequences)
    logp = F.log_softmax(model(inputs), dim=-1)
    mask = targets != PAD
    picked = logp.gather(-1, targets.clamp(max=VOCAB - 1).unsqueeze(-1)).squeeze(-1)
    return float(picked[mask].mean())


def train_count_model(config: dict, seed: int) -> dict:
    """Train one model of size ``config`` from ``seed``; its OOD / ID metrics and size."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    settings = {**TRAINING, **config}
    gpt = GPTConfig(
        VOCAB,
        BLOCK,
        settings["layers"],
        settings.get("heads", 2),
        settings["width"],
        settings.get("positions", "learned"),
    )
    model = GPT(gpt)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings["lr"], weight_decay=settings["weight_decay"])
    steps = settings["steps"]
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / 100) * 0.5 * (1 + math.cos(math.pi * s / steps))
    )
    model.train()
    for _ in range(steps):
        inputs, targets, offsets = training_batch(rng, settings["batch"])
        loss = F.cross_entropy(model(inputs, offsets).reshape(-1, VOCAB), targets.reshape(-1), ignore_index=PAD)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
    model.eval()
    ood = all_examples(TEST_SPANS)
    held_out = all_examples(TRAIN_SPANS)
    return {
        "ood_exact": exact_match(model, ood),
        "ood_loglik": mean_loglik(model, ood),
        "id_exact": exact_match(model, held_out),
        "train_loss": float(loss.detach()),
        "params": model.n_params(),
    }


def sweep(quick: bool, seeds: list[int]) -> Sweep:
    sizes = QUICK_SIZES if quick else SIZES
    configs = [{"layers": d, "width": w, "size": f"{d}x{w}"} for d, w in sizes]
    if quick:
        for config in configs:
            config["steps"] = 150
    name = "count-task-quick" if quick else "count-task"
    return Sweep(name, train_count_model, configs, seeds, setting_keys=["size", "layers", "width"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="2 sizes x 3 seeds x 150 steps (seconds)")
    parser.add_argument("--threshold", type=float, default=0.8, help="success: OOD exact match >= this")
    add_sweep_arguments(parser)
    args = parser.parse_args(argv)
    seeds = list(range(3 if args.quick else args.seeds))
    db = RunsDB(args.db)
    spec = sweep(args.quick, seeds)
    print(run_sweep(spec, db, args.executor, args.workers, args.address).line())
    table = db.wide(spec.name)
    table = table[table["size"].isin([c["size"] for c in spec.configs])]
    for metric, threshold in (("ood_exact", args.threshold), ("ood_loglik", None)):
        report = analyze(table, "params", metric, threshold=threshold)
        sizes = table.drop_duplicates("params").set_index("params")["size"]
        report.settings.insert(0, "size", report.settings["setting"].map(sizes))
        columns = ["size", "setting", "n", "mean", "std", "dip_pvalue", "bic_1", "bic_2", "ashman_d", "bimodal"]
        columns += ["p_success", "ci_low", "ci_high", "mean_success"]
        print(f"\n{metric} across seeds per model size (params); success by {report.success_rule}")
        print(report.settings[columns].to_markdown(index=False, floatfmt=".3f"))
        print("logistic fit:", {k: round(v, 3) if isinstance(v, float) else v for k, v in report.logistic.items()})
        print("sharpness:", {k: round(v, 3) for k, v in report.sharpness.items()})
        path = save_report_figure(
            report, data_path("results", f"{spec.name}_{metric}.png"), f"count task: {metric} by model size"
        )
        print(f"plot: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
