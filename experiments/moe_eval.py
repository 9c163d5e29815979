"""Mixture of Parrots: MoE vs dense transformers on phone-book memorization and graph reasoning.

After Jelassi et al. (2024), "Mixture of Parrots: Experts improve memorization more than reasoning".
Claim checked: at fixed active parameters, adding experts improves memorization about as much as a
dense model of equal *total* parameters would, while reasoning saturates and only width (active
parameters) helps.

Grid, per task (:mod:`discolab.core.moe.tasks`): top-1 MoE at d_model 32 with 1, 2, 4, 8, 16 experts
(active parameters fixed), and dense models at d_model 32, 48, 64, 96 (the last near the 8-16-expert
totals); every cell with the same training budget, for each seed. One cell = one trained model; its
metrics: test accuracy, train loss, total / active / router parameters, expert load (entropy over
log E, largest expert's share, experts used, dropped fraction in training).

Report: mean +- std over seeds and each seed's accuracy per task and model, the reasoning task's
accuracy per answer class, the training graphs dropped for equalling a test graph, accuracy against
the number of experts and against total parameters (``moe_accuracy.png``), and a verdict per task:
how much of the dense gain at matched total parameters the experts recover.

Run: ``python -m discolab.experiments.moe_eval [--seeds 3] [--quick] [--report-only]`` (about 35
CPU-minutes with one thread for the full grid; ``--quick``: a smoke test of a few seconds per cell).
``--long``: a budget check, the reasoning task at 3x the steps for a few models (:func:`long_configs`).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from discolab.core.paths import data_path
from discolab.core.runs import RunsDB
from discolab.experiments.sweep import Sweep, add_sweep_arguments, print_result, run_sweep

EXPERIMENT = "moe-parrots"
EXPERTS = (1, 2, 4, 8, 16)
DENSE_WIDTHS = (32, 48, 64, 96)
BASE_WIDTH = 32
TASK_SETTINGS = {
    "phonebook": {"n_entries": 3000},
    "shortest_path": {"n_nodes": 6, "n_edges": 6, "n_labels": 12, "max_distance": 2, "n_queries": 4},
}
TRAINING = {"steps": 3000, "batch_size": 128, "lr": 3e-3}
MOE = {"top_k": 1, "capacity_factor": 1.25, "aux_loss_coef": 0.01}
METRICS = (
    "accuracy",
    "token_accuracy",
    "train_loss",
    "test_loss",
    "params_total",
    "params_active",
    "load_entropy",
    "load_entropy_min",
    "max_load_fraction",
    "experts_used",
    "dropped_fraction_train",
    "chance",
    "train_seconds",
)
CLASS_PREFIX = "accuracy_class_"  # the reasoning task's accuracy per answer class (distance 1, 2, further)
IMAGE = "moe_accuracy.png"
LONG_STEPS = 9000
MIN_DENSE_GAIN = 0.05  # accuracy; below it, width did not help and the ratio is noise


def moe_cell(config: dict, seed: int) -> dict:
    """One trained model (:func:`discolab.core.moe.train.run`); its metrics."""
    from discolab.core.moe.train import run  # torch loads here, not when the CLI builds its parser

    return run(config, seed)


def configs(quick: bool = False) -> list[dict]:
    """The grid: per task, the MoE at the base width with each number of experts, then the dense widths."""
    training = {"steps": 150, "batch_size": 64, "lr": 3e-3} if quick else TRAINING
    out = []
    for task, parameters in TASK_SETTINGS.items():
        parameters = {**parameters, "n_entries": 200} if quick and task == "phonebook" else parameters
        if quick and task == "shortest_path":
            parameters = {**parameters, "n_test": 200}
        for experts in EXPERTS:
            out.append({"task": task, **parameters, **training, "d_model": BASE_WIDTH, "n_experts": experts, **MOE})
        for width in DENSE_WIDTHS:
            out.append({"task": task, **parameters, **training, "d_model": width, "n_experts": None})
    return out


def long_configs(steps: int = LONG_STEPS) -> list[dict]:
    """The budget check: the reasoning task at ``steps`` (3x the grid's), with the base and widest-but-one
    dense models and the MoE with 1 and 16 experts: does width or do experts help once training is longer?"""
    task = {"task": "shortest_path", **TASK_SETTINGS["shortest_path"], **TRAINING, "steps": steps}
    moe = [{**task, "d_model": BASE_WIDTH, "n_experts": e, **MOE} for e in (1, 16)]
    return moe + [{**task, "d_model": width, "n_experts": None} for width in (BASE_WIDTH, 64)]


PILOT_REASONING = "moe-reasoning-pilot"
PILOT_DEPTHS, PILOT_WIDTHS, PILOT_STEPS = (2, 4, 6), (64, 128), 6000
PILOT_KEYS = ["edge_tokens", "steps", "lr", "n_layers", "d_model", "n_experts"]  # a pilot's setting


def reasoning_pilot_configs(
    steps: int = PILOT_STEPS,
    lr: float = TRAINING["lr"],
    depths: tuple[int, ...] = PILOT_DEPTHS,
    widths: tuple[int, ...] = PILOT_WIDTHS,
    edge_tokens: str = "pair",
    experts: tuple[int, ...] = (),
) -> list[dict]:
    """Dense models deeper and wider than the grid's, trained ``steps`` (2x the grid's by default) at
    learning rate ``lr`` on the reasoning task with its edges written as ``edge_tokens``
    (:class:`discolab.core.moe.tasks.ShortestPath`): is there a dense model that learns the two-hop
    step (distance-2 accuracy near 1)? With ``experts``, also a top-1 MoE with each of those numbers
    of experts at every depth and width (active parameters fixed at the dense model's): on the same
    schedule, do experts move a model along the dense width curve (issue 28)?"""
    task = {"task": "shortest_path", **TASK_SETTINGS["shortest_path"], "edge_tokens": edge_tokens}
    task |= {**TRAINING, "steps": steps, "lr": lr}
    out = []
    for depth in depths:
        for width in widths:
            out.append({**task, "n_layers": depth, "d_model": width, "n_experts": None})
            out += [{**task, "n_layers": depth, "d_model": width, "n_experts": e, **MOE} for e in experts]
    return out


def per_seed(values: pd.Series) -> str:
    """A group's values in seed order (the caller sorts by seed), as ``0.805, 0.834, 0.778``."""
    return ", ".join(f"{v:.3f}" for v in values)


def reasoning_pilot_table(db: RunsDB) -> str:
    """Per (steps, learning rate, depth, width, experts; experts 0 for a dense model): accuracy
    overall and per distance class, train and test loss, mean over seeds, and each seed's accuracy and
    train loss (a seed that failed to train stands out)."""
    table = db.wide(PILOT_REASONING).sort_values("seed")
    experts = table["n_experts"] if "n_experts" in table else pd.Series(np.nan, index=table.index)
    table["n_experts"] = pd.to_numeric(experts).fillna(0).astype(int)  # rows before MoE pilots: all dense
    columns = ["accuracy", *class_columns(table), "train_loss", "test_loss", "params_total", "train_seconds"]
    grouped = table.groupby(PILOT_KEYS)
    summary = grouped[columns].mean()
    summary.insert(0, "seeds", grouped.size())
    summary["accuracy_per_seed"] = grouped["accuracy"].agg(per_seed)
    summary["train_loss_per_seed"] = grouped["train_loss"].agg(per_seed)
    comparison = experts_vs_width(table)
    if comparison.empty:
        return summary.round(3).to_markdown()
    return "\n\n".join(
        [
            summary.round(3).to_markdown(),
            "Each MoE against the dense models of its schedule and depth at its width and wider (accuracy):",
            comparison.round(4).to_markdown(index=False),
        ]
    )


def experts_vs_width(table: pd.DataFrame) -> pd.DataFrame:
    """Does a MoE move along the dense width curve? Per MoE setting and per dense model of the same
    schedule and depth at its active width or wider: both mean accuracies over seeds, their difference,
    how many of the (MoE seed, dense seed) pairs the MoE wins, and the two-sided p of an exact permutation
    test of the difference of means over the seeds (``scipy.stats.permutation_test``, every split of the
    pooled seeds; with 3 seeds against 3 there are 20 splits, so the smallest possible p is 0.1)."""
    from scipy.stats import permutation_test

    schedule = [k for k in PILOT_KEYS if k not in ("d_model", "n_experts")]
    rows = []
    for where, runs in table.groupby(schedule):
        for (width, experts), moe in runs[runs["n_experts"] > 0].groupby(["d_model", "n_experts"]):
            dense = runs[(runs["n_experts"] == 0) & (runs["d_model"] >= width)]
            for dense_width, other in dense.groupby("d_model"):
                a, b = moe["accuracy"].to_numpy(), other["accuracy"].to_numpy()
                rows.append(
                    {
                        "steps": where[schedule.index("steps")],
                        "depth": where[schedule.index("n_layers")],
                        "MoE": f"{experts} x {width}",
                        "MoE params": int(moe["params_total"].iloc[0]),
                        "dense width": int(dense_width),
                        "dense params": int(other["params_total"].iloc[0]),
                        "seeds": f"{len(a)} / {len(b)}",
                        "MoE accuracy": a.mean(),
                        "dense accuracy": b.mean(),
                        "MoE - dense": a.mean() - b.mean(),
                        "pairs MoE wins": f"{int((a[:, None] > b[None, :]).sum())} / {len(a) * len(b)}",
                        "permutation p": permutation_test((a, b), mean_difference, n_resamples=np.inf).pvalue,
                    }
                )
    return pd.DataFrame(rows)


def mean_difference(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return a.mean(axis=axis) - b.mean(axis=axis)


def sweep(seeds: list[int], quick: bool = False, long: bool = False) -> Sweep:
    name = EXPERIMENT + ("-quick" if quick else "") + ("-long" if long else "")
    plan = long_configs() if long else configs(quick)
    return Sweep(name, moe_cell, plan, seeds, setting_keys=["task", "d_model", "n_experts"])


def cells_table(db: RunsDB, experiment: str = EXPERIMENT) -> pd.DataFrame:
    """One row per trained model: task, family (moe / dense), experts, width, seed and the metrics."""
    table = db.wide(experiment)
    table = table[table["step"] == 0].copy()
    if "n_experts" not in table:
        table["n_experts"] = np.nan
    table["family"] = np.where(table["n_experts"].isna(), "dense", "moe")
    for metric in METRICS:
        if metric not in table:
            table[metric] = np.nan
    return table


def analyse(table: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds per (task, family, width, experts)."""
    keys = ["task", "family", "d_model", "n_experts"]
    grouped = table.sort_values("seed").groupby(keys, dropna=False)
    summary = grouped[[*METRICS, *class_columns(table)]].mean()
    for metric in ("accuracy", "train_loss"):
        summary[metric + "_std"] = grouped[metric].std()
    summary["accuracy_per_seed"] = grouped["accuracy"].agg(per_seed)
    summary["seeds"] = grouped["seed"].nunique()
    return summary.reset_index().sort_values(["task", "family", "params_total"])


def class_columns(table: pd.DataFrame) -> list[str]:
    """The recorded per-class accuracy metrics (``accuracy_class_1``, ``_2``, ``_further``), in that order."""
    return sorted(c for c in table.columns if c.startswith(CLASS_PREFIX))


def rejected_graphs(table: pd.DataFrame) -> pd.DataFrame:
    """Per task and seed with graph cells: the training graphs drawn and those dropped for equalling a test
    graph (:meth:`discolab.core.moe.tasks.ShortestPath.train_batch`), per cell on average, and their ratio."""
    if "rejected_train_graphs" not in table:
        return pd.DataFrame()
    graphs = table[table["rejected_train_graphs"].notna()].copy()
    if "train_graphs_drawn" not in graphs:
        graphs["train_graphs_drawn"] = np.nan  # rows recorded before the draws were
    grouped = graphs.groupby(["task", "seed"])
    out = grouped[["rejected_train_graphs", "train_graphs_drawn"]].mean()
    out.insert(0, "cells", grouped.size())
    sums = grouped[["rejected_train_graphs", "train_graphs_drawn"]].sum(min_count=1)
    out["rejected_fraction"] = sums["rejected_train_graphs"] / sums["train_graphs_drawn"]
    return out.reset_index()


def verdict(summary: pd.DataFrame) -> pd.DataFrame:
    """Per task: the gain of the most-experts MoE over the base (1 expert) against the gain of the dense
    model whose total parameters are nearest that MoE's, over the base-width dense model.

    ``recovered`` = MoE gain / dense gain: about 1 when experts track dense models of equal total
    parameters (memorization, per the claim), about 0 when only active parameters matter (reasoning);
    undefined (NaN) when the dense gain is under :data:`MIN_DENSE_GAIN` (nothing to recover).
    """
    rows = []
    for task, part in summary.groupby("task"):
        moe = part[part["family"] == "moe"].sort_values("n_experts")
        dense = part[part["family"] == "dense"].sort_values("d_model")
        if moe.empty or dense.empty:
            continue
        base_moe, top_moe = moe.iloc[0], moe.iloc[-1]
        base_dense = dense[dense["d_model"] == BASE_WIDTH].iloc[0] if (dense["d_model"] == BASE_WIDTH).any() else None
        matched = dense.iloc[(dense["params_total"] - top_moe["params_total"]).abs().argmin()]
        moe_gain = top_moe["accuracy"] - base_moe["accuracy"]
        dense_gain = matched["accuracy"] - (base_dense["accuracy"] if base_dense is not None else np.nan)
        rows.append(
            {
                "task": task,
                "moe_1_expert": base_moe["accuracy"],
                f"moe_{int(top_moe['n_experts'])}_experts": top_moe["accuracy"],
                "moe_total_params": int(top_moe["params_total"]),
                "dense_base": base_dense["accuracy"] if base_dense is not None else np.nan,
                "dense_matched_width": int(matched["d_model"]),
                "dense_matched": matched["accuracy"],
                "dense_matched_total_params": int(matched["params_total"]),
                "moe_gain": moe_gain,
                "dense_gain": dense_gain,
                "recovered": moe_gain / dense_gain if abs(dense_gain) > MIN_DENSE_GAIN else np.nan,
            }
        )
    return pd.DataFrame(rows)


def figure(table: pd.DataFrame):
    """Per task (rows): accuracy against the number of experts (MoE; dense widths as reference lines) and
    against total parameters (MoE and dense), mean +- std over seeds, seeds as dots."""
    from matplotlib.figure import Figure

    present = list(dict.fromkeys(table["task"]))
    tasks = [t for t in TASK_SETTINGS if t in present] + [t for t in present if t not in TASK_SETTINGS]
    fig = Figure(figsize=(10, 3.6 * len(tasks)))
    axes = fig.subplots(len(tasks), 2, squeeze=False)
    for row, task in zip(axes, tasks):
        part = table[table["task"] == task]
        moe, dense = part[part["family"] == "moe"], part[part["family"] == "dense"]
        chance = part["chance"].mean()
        ax = row[0]
        curve = moe.groupby("n_experts")["accuracy"].agg(["mean", "std"])
        ax.errorbar(curve.index, curve["mean"], curve["std"], marker="o", capsize=3, label=f"MoE (d={BASE_WIDTH})")
        ax.scatter(moe["n_experts"], moe["accuracy"], s=8, alpha=0.4)
        for width, group in dense.groupby("d_model"):
            ax.axhline(group["accuracy"].mean(), linestyle=":", linewidth=1, color="gray")
            ax.annotate(f"dense d={int(width)}", (1, group["accuracy"].mean()), fontsize=7, va="bottom")
        ax.axhline(chance, color="red", linewidth=0.8, label="chance")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("experts (active parameters fixed)")
        ax.set_ylabel("test accuracy")
        ax.set_title(f"{task}: accuracy vs experts")
        ax.legend(fontsize=7)
        ax = row[1]
        for family, group, marker in (("MoE", moe, "o"), ("dense", dense, "s")):
            curve = group.groupby("params_total")["accuracy"].agg(["mean", "std"])
            ax.errorbar(curve.index, curve["mean"], curve["std"], marker=marker, capsize=3, label=family)
        ax.axhline(chance, color="red", linewidth=0.8, label="chance")
        ax.set_xscale("log")
        ax.set_xlabel("total parameters")
        ax.set_ylabel("test accuracy")
        ax.set_title(f"{task}: accuracy vs total parameters")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot(table: pd.DataFrame, path) -> None:
    figure(table).savefig(path, dpi=90)


def report(db: RunsDB, experiment: str = EXPERIMENT, docs_image: Path | None = None) -> str:
    table = cells_table(db, experiment)
    summary = analyse(table)
    path = data_path("results", IMAGE if experiment == EXPERIMENT else f"{experiment}_accuracy.png")
    plot(table, path)
    if docs_image is not None:
        shutil.copyfile(path, docs_image)
    columns = ["task", "family", "d_model", "n_experts", "params_total", "params_active", "seeds"]
    columns += ["accuracy", "accuracy_std", "accuracy_per_seed", "token_accuracy", "train_loss", "chance"]
    columns += ["train_seconds"]
    load = ["task", "n_experts", "load_entropy", "load_entropy_min", "max_load_fraction", "experts_used"]
    load += ["dropped_fraction_train"]
    moe = summary[summary["family"] == "moe"]
    lines = [
        f"{len(table)} trained models ({table['seed'].nunique()} seeds)",
        "",
        "Accuracy per model (mean and std over seeds, then each seed's in seed order; train_seconds: mean per cell):",
        "",
        summary[columns].round(4).to_markdown(index=False),
        "",
    ]
    classes = class_columns(table)
    if classes:
        per_class = summary[summary[classes].notna().any(axis=1)]
        lines += [
            "Accuracy per answer class (mean over seeds; classes: shortest-path distance 1, 2, further):",
            "",
            per_class[["task", "family", "d_model", "n_experts", "params_total", "accuracy", *classes]]
            .round(4)
            .to_markdown(index=False),
            "",
        ]
    rejected = rejected_graphs(table)
    if not rejected.empty:
        lines += [
            "Training graphs dropped for equalling a test graph (per cell, mean over the seed's cells):",
            "",
            rejected.round(6).to_markdown(index=False),
            "",
        ]
    lines += [
        "Expert load on the test tokens (entropy / log E: 1 uniform; max share: 1/E uniform, 1 collapsed):",
        "",
        moe[load].round(4).to_markdown(index=False),
        "",
        "Gain from experts vs gain from a dense model of matched total parameters:",
        "",
        verdict(summary).round(4).to_markdown(index=False),
        "",
        f"plot: {path}",
    ]
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The sweep's flags (``discolab moe sweep`` and ``python -m discolab.experiments.moe_eval``)."""
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny budgets: a smoke test of the pipeline")
    parser.add_argument("--long", action="store_true", help=f"the budget check: reasoning at {LONG_STEPS} steps")
    parser.add_argument(
        "--pilot-reasoning",
        action="store_true",
        help="instead: dense models of depth 2/4/6 and width 64/128 on the reasoning task (does any learn two hops?)",
    )
    parser.add_argument(
        "--pilot-experts", type=int, nargs="+", default=[],
        help="the pilot also trains a top-1 MoE with each of these numbers of experts at every depth and width",
    )  # fmt: skip
    parser.add_argument("--pilot-steps", type=int, default=PILOT_STEPS, help="the pilot's training steps")
    parser.add_argument("--pilot-lr", type=float, default=TRAINING["lr"], help="the pilot's peak learning rate")
    parser.add_argument("--pilot-depths", type=int, nargs="+", default=list(PILOT_DEPTHS), help="the pilot's depths")
    parser.add_argument("--pilot-widths", type=int, nargs="+", default=list(PILOT_WIDTHS), help="the pilot's widths")
    parser.add_argument(
        "--pilot-edge-tokens", choices=["pair", "labels"], default="pair",
        help="the pilot's edge encoding: one token per edge (the grid's) or its two label tokens",
    )  # fmt: skip
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--docs-image", type=Path, default=None, help="also copy the plot here")
    add_sweep_arguments(parser)


def sweep_command(args: argparse.Namespace) -> int:
    """Run the sweep's missing cells (unless ``--report-only``), then print the report."""
    db = RunsDB(args.db)
    if getattr(args, "pilot_reasoning", False):
        configs = reasoning_pilot_configs(
            args.pilot_steps,
            args.pilot_lr,
            tuple(args.pilot_depths),
            tuple(args.pilot_widths),
            args.pilot_edge_tokens,
            tuple(args.pilot_experts),
        )
        plan = Sweep(PILOT_REASONING, moe_cell, configs, list(range(args.seeds)), PILOT_KEYS)
        if not args.report_only:
            print(run_sweep(plan, db, args.executor, args.workers, args.address).line())
        print(reasoning_pilot_table(db))
        return 0
    plan = sweep(list(range(args.seeds)), args.quick, args.long)
    if not args.report_only:
        print(run_sweep(plan, db, args.executor, args.workers, args.address).line())
    print(report(db, plan.name, args.docs_image))
    return 0


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of one training run (``discolab moe train``)."""
    parser.add_argument("--task", choices=["phonebook", "shortest_path"], default="phonebook")
    parser.add_argument("--experts", type=int, default=4, help="experts of the top-1 MoE; 0: a dense model")
    parser.add_argument("--d-model", type=int, default=BASE_WIDTH)
    parser.add_argument("--entries", type=int, default=TASK_SETTINGS["phonebook"]["n_entries"], help="phonebook N")
    parser.add_argument("--steps", type=int, default=TRAINING["steps"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print JSON")


def train_command(args: argparse.Namespace) -> int:
    """Train and evaluate one model with the sweep's settings; print its metrics."""

    config = {"task": args.task, **TASK_SETTINGS[args.task], **TRAINING, "d_model": args.d_model}
    config.update({"steps": args.steps, "n_experts": args.experts or None, **(MOE if args.experts else {})})
    if args.task == "phonebook":
        config["n_entries"] = args.entries
    from discolab.core.moe.train import run

    metrics = run(config, args.seed, progress=lambda line: print(line, file=sys.stderr))
    print_result(config, args.seed, metrics, args.json)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    return sweep_command(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
