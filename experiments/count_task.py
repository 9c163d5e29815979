"""Reproduction: distributional scaling on Zhou et al.'s count task.

Task (Zhou et al., 2023, "What Algorithms can Transformers Learn?"): the input ``a b >`` asks for
the numbers from a to b, ``a a+1 ... b <eos>``. Numbers are tokens 0..63. Training spans have
length b - a + 1 in 1..8; the out-of-distribution (OOD) test asks for spans of length 9..12.
Positions are learned absolute embeddings; training places each sequence at a random start
position, so every position is trained and what a longer span needs is the rule (stop at b).

Models: tiny decoder-only transformers (:mod:`.count_model`) along two axes of size, one dimension
at a time (:data:`AXES`: depth at width 32, width at depth 2), each trained from many seeds (the
seed sets initialisation and data order) for :data:`STEPS` steps, with the OOD exact match
recorded every :data:`CURVE_EVERY` steps (``ood_exact@<step>``: whether the means have converged). Metrics per run:
``ood_exact`` (exact-match accuracy on every OOD span with a in 0..63-k: the sharp metric),
``ood_loglik`` (mean per-token log-likelihood of the OOD targets, teacher-forced: the continuous
metric), ``ood_exact_span<k>`` (exact match per OOD span length k), ``id_exact`` (exact match on
the held-out fifth of the training-length prompts: (a, span) pairs that training never draws),
``train_exact`` (exact match on the prompts training draws from) and ``params``.

Question (Zhao et al., 2024, "Distributional Scaling Laws for Emergent Capabilities"): across
seeds, is OOD accuracy bimodal at intermediate sizes; does P(success) move smoothly with size
while the seed-averaged curve looks sudden?

Run: ``python -m discolab.experiments.count_task [--quick] [--workers 2] [--seeds 20] [--report-only]
[--docs-images docs/img]``; the
results go to the runs database as experiment ``count-task`` (``count-task-quick``) and the
analysis (``discolab.core.scaling``) is printed and plotted. ``--pilots`` runs the variants the docs
compare against at 2x32 (experiment ``count-task-pilots``): no position embeddings (NoPE), 4,000
steps, a larger 3x64 model, and every sequence at position 0 (positions past the training lengths
never trained). ``DISCOLAB_DEVICE=cuda`` trains on a GPU (:mod:`discolab.core.devices`).
"""

from __future__ import annotations

import argparse
import itertools
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from discolab.core.devices import torch_device
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
AXES = {  # one dimension of scale at a time, the other held: (layers, width)
    "depth": [(1, 32), (2, 32), (3, 32), (4, 32), (6, 32)],
    "width": [(2, 16), (2, 24), (2, 32), (2, 48), (2, 64), (2, 96)],
}
QUICK_AXES = {"depth": [(1, 16), (2, 16)], "width": [(1, 16), (1, 24)]}
STEPS = 6000  # the largest models' OOD mean changes by under 0.02 over the last third (see the curve)
CURVE_EVERY = 1000  # OOD exact match recorded every this many steps: the training curve
TRAINING = {"steps": 1500, "batch": 64, "lr": 3e-3, "weight_decay": 0.1, "random_start": True}
EXPERIMENT = "count-task"
HELD_OUT_SHARE = 0.2  # of the training-length (a, span) prompts, never drawn in training
SPLIT_SEED = 0  # one split for every run, so that every run is scored on the same prompts
PILOTS = {  # variant -> settings, each at 2x32
    "2x32": {},
    "nope": {"positions": "none"},
    "4000-steps": {"steps": 4000},
    "3x64": {"layers": 3, "width": 64},
    "fixed-start": {"random_start": False},
}


def example(a: int, span: int) -> list[int]:
    b = a + span - 1
    return [a, b, SEP, *range(a, b + 1), EOS]


def all_examples(spans: tuple[int, int]) -> list[list[int]]:
    """Every (a, span) with the span in range and b < NUMBERS."""
    return [example(a, k) for k in range(spans[0], spans[1] + 1) for a in range(NUMBERS - k + 1)]


def split_examples() -> tuple[dict[int, list[list[int]]], list[list[int]]]:
    """The training-length prompts split once (seed :data:`SPLIT_SEED`): the training pool by span
    length, and the held-out :data:`HELD_OUT_SHARE` of each length, on which ``id_exact`` is scored."""
    rng = np.random.default_rng(SPLIT_SEED)
    pool, held_out = {}, []
    for k in range(TRAIN_SPANS[0], TRAIN_SPANS[1] + 1):
        examples = all_examples((k, k))
        order = rng.permutation(len(examples))
        cut = round(HELD_OUT_SHARE * len(examples))
        held_out += [examples[i] for i in order[:cut]]
        pool[k] = [examples[i] for i in order[cut:]]
    return pool, held_out


def training_batch(
    rng: np.random.Generator, batch: int, pool: dict[int, list[list[int]]], random_start: bool = True
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inputs, targets (PAD-masked to the output tokens) and start positions: a span length uniform
    over the training lengths, then a prompt of that length from the training ``pool``. With
    ``random_start`` each sequence starts at a random position, so that every position embedding is
    trained although no training output is longer than 8: what a long span needs beyond that is the
    rule itself (stop at b), not an unseen position."""
    spans = rng.integers(TRAIN_SPANS[0], TRAIN_SPANS[1] + 1, size=batch)
    inputs, targets = padded([pool[int(k)][int(rng.integers(len(pool[int(k)])))] for k in spans])
    if random_start:
        offsets = torch.from_numpy(rng.integers(0, BLOCK - inputs.shape[1] + 1, size=batch))
    else:
        offsets = torch.zeros(batch, dtype=torch.long)
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
    out = torch.tensor([s[:3] for s in sequences], device=model.head.weight.device)
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
    inputs, targets = (t.to(model.head.weight.device) for t in padded(sequences))
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
    device = torch_device()
    model = GPT(gpt).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings["lr"], weight_decay=settings["weight_decay"])
    steps = settings["steps"]
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / 100) * 0.5 * (1 + math.cos(math.pi * s / steps))
    )
    pool, held_out = split_examples()
    ood = all_examples(TEST_SPANS)
    curve = {}
    every = settings.get("curve_every")
    model.train()
    for step in range(1, steps + 1):
        batch = training_batch(rng, settings["batch"], pool, settings["random_start"])
        inputs, targets, offsets = (t.to(device) for t in batch)
        loss = F.cross_entropy(model(inputs, offsets).reshape(-1, VOCAB), targets.reshape(-1), ignore_index=PAD)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        if every and step % every == 0 and step < steps:
            model.eval()
            curve[f"ood_exact@{step}"] = exact_match(model, ood)
            model.train()
    model.eval()
    metrics = {
        "ood_exact": exact_match(model, ood),
        "ood_loglik": mean_loglik(model, ood),
        "id_exact": exact_match(model, held_out),
        "train_exact": exact_match(model, [e for examples in pool.values() for e in examples]),
        "train_loss": float(loss.detach()),
        "params": model.n_params(),
    }
    for k in range(TEST_SPANS[0], TEST_SPANS[1] + 1):
        metrics[f"ood_exact_span{k}"] = exact_match(model, all_examples((k, k)))
    if every:  # the curve's last point is the final OOD exact match
        curve[f"ood_exact@{steps}"] = metrics["ood_exact"]
    return {**curve, **metrics}


def axis_configs(quick: bool = False) -> list[dict]:
    """One config per distinct size of :data:`AXES` (a size on both axes is trained once), trained
    :data:`STEPS` steps with the curve recorded (``quick``: tiny sizes, 150 steps)."""
    axes = QUICK_AXES if quick else AXES
    sizes = dict.fromkeys(size for axis in axes.values() for size in axis)
    steps, every = (150, 50) if quick else (STEPS, CURVE_EVERY)
    return [{"layers": d, "width": w, "size": f"{d}x{w}", "steps": steps, "curve_every": every} for d, w in sizes]


def sweep(quick: bool, seeds: list[int]) -> Sweep:
    name = f"{EXPERIMENT}-quick" if quick else EXPERIMENT
    return Sweep(name, train_count_model, axis_configs(quick), seeds, setting_keys=["size", "layers", "width", "steps"])


def curve_table(table: pd.DataFrame) -> str:
    """Mean OOD exact match over seeds at each recorded step, per size: whether training has converged."""
    steps = sorted((c for c in table.columns if c.startswith("ood_exact@")), key=lambda c: int(c.split("@")[1]))
    rows = table.sort_values("params").groupby("size", sort=False)[steps].mean()
    rows.columns = [c.split("@")[1] for c in steps]
    return rows.to_markdown(floatfmt=".3f")


def fit_table(table: pd.DataFrame) -> str:
    """Per size: in-distribution exact match on the held-out prompts and on the training prompts
    (mean and lowest seed), and the mean OOD exact match per span length."""
    spans = [f"ood_exact_span{k}" for k in range(TEST_SPANS[0], TEST_SPANS[1] + 1)]
    rows = []
    for size, part in table.sort_values("params").groupby("size", sort=False):
        row = {"size": size, "seeds": len(part)}
        for metric, name in (("id_exact", "held-out ID"), ("train_exact", "training ID")):
            row[f"{name} mean"] = part[metric].mean()
            row[f"{name} min"] = part[metric].min()
        rows.append(row | {f"OOD span {m[len('ood_exact_span') :]}": part[m].mean() for m in spans})
    return pd.DataFrame(rows).to_markdown(index=False, floatfmt=".3f")


def pilot_sweep(seeds: list[int]) -> Sweep:
    """The variants of :data:`PILOTS` at 2x32 (same steps and seeds unless the variant says)."""
    configs = [{"variant": name, "layers": 2, "width": 32, **settings} for name, settings in PILOTS.items()]
    return Sweep("count-task-pilots", train_count_model, configs, seeds, setting_keys=["variant"])


def pilot_table(db: RunsDB) -> str:
    """Per variant: mean ± sd over seeds of OOD exact match (all, and per span), held-out and training ID."""
    table = db.wide("count-task-pilots")
    metrics = ["ood_exact", *(f"ood_exact_span{k}" for k in range(TEST_SPANS[0], TEST_SPANS[1] + 1))]
    metrics += ["id_exact", "train_exact"]
    grouped = table.groupby("variant", sort=False)
    rows = [
        {"variant": name, "seeds": len(part), "params": int(part["params"].iloc[0])}
        | {m: f"{part[m].mean():.2f} ± {part[m].std():.2f}" for m in metrics}
        for name, part in grouped
    ]
    order = list(PILOTS)
    rows.sort(key=lambda r: order.index(r["variant"]) if r["variant"] in order else len(order))
    return pd.DataFrame(rows).to_markdown(index=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="tiny sizes x 3 seeds x 150 steps (seconds)")
    parser.add_argument("--threshold", type=float, default=0.8, help="success: OOD exact match >= this")
    parser.add_argument("--pilots", action="store_true", help="the 2x32 variants of PILOTS instead (--seeds of them)")
    parser.add_argument("--report-only", action="store_true", help="the analysis of the recorded runs; train nothing")
    parser.add_argument(
        "--docs-images", type=Path, default=None, help="also copy each axis's OOD exact-match plot into this folder"
    )
    add_sweep_arguments(parser)
    args = parser.parse_args(argv)
    seeds = list(range(3 if args.quick else args.seeds))
    db = RunsDB(args.db)
    if args.pilots:
        if not args.report_only:
            print(run_sweep(pilot_sweep(seeds), db, args.executor, args.workers, args.address).line())
        print(pilot_table(db))
        return 0
    spec = sweep(args.quick, seeds)
    if not args.report_only:
        print(run_sweep(spec, db, args.executor, args.workers, args.address).line())
    everything = db.wide(spec.name)
    everything = everything[everything["size"].isin([c["size"] for c in spec.configs])]
    print("\nexact match in distribution (held-out and training prompts) and out of distribution per span length")
    print(fit_table(everything))
    print("\nOOD exact match during training (mean over seeds; columns: steps)")
    print(curve_table(everything))
    for (axis, sizes), (metric, threshold) in itertools.product(
        (QUICK_AXES if args.quick else AXES).items(), (("ood_exact", args.threshold), ("ood_loglik", None))
    ):
        table = everything[everything["size"].isin([f"{d}x{w}" for d, w in sizes])]
        report = analyze(table, "params", metric, threshold=threshold)
        sizes = table.drop_duplicates("params").set_index("params")["size"]
        report.settings.insert(0, "size", report.settings["setting"].map(sizes))
        columns = ["size", "setting", "n", "mean", "std", "dip_pvalue", "bic_1", "bic_2", "ashman_d", "bimodal"]
        columns += ["p_success", "ci_low", "ci_high", "mean_success"]
        print(f"\n{axis} axis: {metric} across seeds per model size (params); success by {report.success_rule}")
        print(report.settings[columns].to_markdown(index=False, floatfmt=".3f"))
        print("logistic fit:", {k: round(v, 3) if isinstance(v, float) else v for k, v in report.logistic.items()})
        print("sharpness:", {k: round(v, 3) for k, v in report.sharpness.items()})
        path = save_report_figure(
            report, data_path("results", f"{spec.name}_{axis}_{metric}.png"), f"count task: {metric} by {axis}"
        )
        print(f"plot: {path}")
        if args.docs_images is not None and metric == "ood_exact":
            args.docs_images.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, args.docs_images / f"count_task_{axis}_ood_exact.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
