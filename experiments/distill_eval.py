"""Dataset distillation: the soft-label baseline and D3, through the sweep runner.

After Qin et al. (2024), "A Label is Worth a Thousand Images in Dataset Distillation", and
"Distributional Dataset Distillation with Subtask Decomposition" (D3). Claims checked:

- soft labels >> hard labels at low images per class (IPC), the gap shrinking as IPC grows; the
  best expert epoch grows with IPC; swapping the top-ranked entries of the soft labels hurts most;
  top-k truncation trades label knowledge for images (the IPC x k grid and its frontier at equal
  storage); on scikit-learn digits and the synthetic nested-class set (:mod:`discolab.core.distill.data`).
- at equal stored floats, D3's latents + decoder beat pixel prototypes and random real images;
  federated distillation (2 subtasks, distilled in parallel) lands close to monolithic; soft labels
  add a further gain (digits).

Sweeps: ``distill-softlabel`` (cells: data set x IPC x study, :mod:`discolab.core.distill.softlabel`),
``distill-d3-subtasks`` (one cell per subtask's distillation: the parallel phase) and ``distill-d3``
(data set x budget x method x labels x subtasks, :mod:`discolab.core.distill.budget`), on both
data sets. Experts train for 150 epochs, far past their best test accuracy, and the expert-epoch
grid runs to 150, so that the best expert epoch of each IPC can fall anywhere.

Temperature (``--select-temperature``, before the study): sweep ``distill-select-temperature``
runs the epochs study on the validation split (seeds 100-102, apart from the study's) for every
data set, IPC and T in 1, 2, 3, 4, 8, 16, picks per IPC the T whose best expert epoch is best on
validation, and writes the choice to ``experiments/data/distill_temperatures.json``, which the
study reads (test accuracy is never used to choose it).

Pilots (``--pilots``, instead of the study): the runs behind the D3 settings the study fixes, sweep
``distill-pilot-d3`` (D3's PCA start against a random one, a wider decoder, more distillation steps).

Run: ``python -m discolab.experiments.distill_eval --select-temperature``, then
``python -m discolab.experiments.distill_eval [--seeds 5] [--quick] [--pilots] [--report-only]``
(the full study takes hours on one thread; ``--pilots``: minutes; ``--quick``, a smoke test: about half a minute).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from discolab.core.errors import DiscolabError
from discolab.core.paths import data_path
from discolab.core.runs import RunsDB, config_hash
from discolab.experiments.sweep import Sweep, add_sweep_arguments, print_result, run_sweep

SOFTLABEL = "distill-softlabel"
SUBTASKS = "distill-d3-subtasks"
D3 = "distill-d3"
IPCS = (1, 2, 5, 10, 20, 50)
# Experts train far past their best test accuracy, so that a best epoch can sit anywhere. Digits plateaus by epoch
# 50; a 150-epoch nested expert still rose to its last epoch (0.929 -> 0.933 from 100 to 150: the cosine schedule's
# annealing), while a 400-epoch one plateaus from about epoch 100 (docs/distill.md).
EXPERT_TRAIN_EPOCHS = {"digits": 150, "nested": 400}
_EPOCH_GRID = [1, 2, 3, 5, 10, 20, 30, 50, 75, 100, 150]
EXPERT_EPOCHS = {"digits": _EPOCH_GRID, "nested": [*_EPOCH_GRID, 200, 300, 400]}
LABEL_EPOCH = 10  # the expert checkpoint of the swap and top-k studies
SELECT_TEMPERATURE = "distill-select-temperature"
SELECTION_SEEDS = [100, 101, 102]  # apart from the study's seeds: the choice is made on other draws
TEMPERATURE_FILE = Path(__file__).resolve().parent / "data" / "distill_temperatures.json"
DEFAULT_TEMPERATURE = 4.0  # quick runs, and any IPC the selection did not cover
KS = {"digits": [1, 2, 3, 5, 10], "nested": [1, 2, 3, 5, 10, 25, 50]}
SWAP_KS = {"digits": list(range(1, 11)), "nested": [1, 2, 3, 4, 5, 10, 25, 50]}
BUDGETS = (2, 5, 10)
D3_ARCH = {"latent_dim": 6, "hidden": 12, "distill_steps": 300}
D3_METHODS = {  # name in the tables -> cell settings
    "real": {"method": "real", "labels": "hard"},
    "pixels": {"method": "pixels", "labels": "hard"},
    "d3": {"method": "d3", "labels": "hard", "subtasks": 1},
    "d3-federated": {"method": "d3", "labels": "hard", "subtasks": 2},
    "real-soft": {"method": "real", "labels": "soft"},
    "d3-soft": {"method": "d3", "labels": "soft", "subtasks": 1},
    "d3-federated-soft": {"method": "d3", "labels": "soft", "subtasks": 2},
}
PILOT_D3 = "distill-pilot-d3"
# The selection's grid: 16 was added when 8, then the largest, won most (data set, IPC) pairs
SELECTION_TEMPERATURES = (1.0, 2.0, 3.0, 4.0, 8.0, 16.0)
D3_PILOTS = [  # (budget in IPC, name in the table, what differs from the study's D3: D3_ARCH, a PCA start)
    (5, "d3", {}),
    (5, "random start", {"init": "random"}),
    (5, "hidden 24", {"hidden": 24}),
    (10, "d3", {}),
    (10, "hidden 48", {"hidden": 48}),
    (10, "800 steps", {"distill_steps": 800}),
]
IMAGE = "distill_results.png"
IMAGE_FLOATS = 64  # both data sets' images are 1 x 8 x 8


def one_thread() -> None:
    """The nets here are tiny: a second intra-op thread buys nothing and, on a busy machine, makes
    every step wait on a descheduled thread (measured 200x slower on a shared 2-core box)."""
    import torch  # loads here, not when the CLI builds its parser

    torch.set_num_threads(1)


def softlabel_cell(config: dict, seed: int) -> list[dict]:
    from discolab.core.distill.softlabel import run

    one_thread()
    return run(config, seed)


def subtask_cell(config: dict, seed: int) -> dict:
    from discolab.core.distill.budget import distill_subtask

    one_thread()
    return distill_subtask(config, seed)


def d3_cell(config: dict, seed: int) -> dict:
    from discolab.core.distill.budget import run

    one_thread()
    return run(config, seed)


def expert_schedule(dataset: str) -> dict:
    return {"expert_train_epochs": EXPERT_TRAIN_EPOCHS[dataset]}


def softlabel_configs(quick: bool = False, temperatures: dict | None = None) -> list[dict]:
    """Per data set: the expert-epoch study at every IPC, the top-k study at every IPC, the swap test
    at IPC 1, each with the temperature chosen for its IPC (``temperatures``, from
    :func:`chosen_temperatures`; ``quick``: digits only, IPC 1 and 10, short training, T = 4)."""
    datasets = ["digits"] if quick else ["digits", "nested"]
    ipcs = (1, 10) if quick else IPCS
    label_epoch = 3 if quick else LABEL_EPOCH
    temperatures = temperatures or {}

    def t(dataset: str, ipc: int) -> dict:
        return {"temperature": float(temperatures.get(dataset, {}).get(str(ipc), DEFAULT_TEMPERATURE))}

    out = []
    for dataset in datasets:
        short = {"student_steps": 60, "expert_train_epochs": 3} if quick else expert_schedule(dataset)
        epochs = [1, 3] if quick else EXPERT_EPOCHS[dataset]
        ks = [1, 10] if quick else KS[dataset]
        for ipc in ipcs:
            common = {"dataset": dataset, "ipc": ipc, **t(dataset, ipc), **short}
            out.append({**common, "study": "epochs", "expert_epochs": epochs})
            out.append({**common, "study": "topk", "ks": ks, "expert_epoch": label_epoch})
        swap = [1, 10] if quick else SWAP_KS[dataset]
        out.append(
            {
                "dataset": dataset,
                "ipc": 1,
                **t(dataset, 1),
                **short,
                "study": "swap",
                "ks": swap,
                "expert_epoch": label_epoch,
            }
        )
    return out


def selection_configs(quick: bool = False) -> list[dict]:
    """The temperature selection: the epochs study on the validation split, per data set, IPC and
    temperature (``quick``: digits, IPC 1, T in {1, 4}, short training)."""
    if quick:
        grid = [("digits", 1, t) for t in (1.0, 4.0)]
        short = {"student_steps": 60, "expert_train_epochs": 3, "expert_epochs": [1, 3]}
    else:
        grid = [(d, ipc, t) for d in ("digits", "nested") for ipc in IPCS for t in SELECTION_TEMPERATURES]
    return [
        {
            "dataset": d,
            "ipc": ipc,
            "temperature": t,
            "study": "epochs",
            "evaluate_on": "validation",
            **(short if quick else {**expert_schedule(d), "expert_epochs": EXPERT_EPOCHS[d]}),
        }
        for d, ipc, t in grid
    ]


def choose_temperatures(table: pd.DataFrame) -> tuple[dict, pd.DataFrame]:
    """Per data set and IPC, the temperature whose soft-label student is best on the validation
    split: for each T the best expert epoch's mean validation accuracy over the selection seeds,
    then the T with the highest. Returns ``{dataset: {ipc: T}}`` and the table behind it."""
    soft = table[table["metric"] == "soft"] if "metric" in table else table
    means = soft.groupby(["dataset", "ipc", "temperature", "step"])["value"].mean()
    best = means.groupby(["dataset", "ipc", "temperature"]).max().rename("validation accuracy").reset_index()
    chosen: dict = {}
    for (dataset, ipc), part in best.groupby(["dataset", "ipc"]):
        chosen.setdefault(dataset, {})[str(int(ipc))] = float(
            part.loc[part["validation accuracy"].idxmax(), "temperature"]
        )
    return chosen, best.pivot_table(index=["dataset", "ipc"], columns="temperature", values="validation accuracy")


def chosen_temperatures(path: Path = TEMPERATURE_FILE) -> dict:
    """The committed choice (``--select-temperature`` writes it); empty when it was never made."""
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def d3_configs(quick: bool = False) -> list[dict]:
    """Every D3 method at every budget, on digits and on the nested set (``quick``: digits, budget 5)."""
    budgets = (5,) if quick else BUDGETS
    short = {"student_steps": 60, "distill_steps": 20, "expert_train_epochs": 3} if quick else {}
    out = []
    for dataset in ["digits"] if quick else ["digits", "nested"]:
        for budget in budgets:
            for name, method in D3_METHODS.items():
                out.append({"dataset": dataset, "budget_ipc": budget, "name": name, **method, **D3_ARCH, **short})
    return out


def d3_cell_config(config: dict) -> dict:
    return {k: v for k, v in config.items() if k != "name"}


def sweeps(seeds: list[int], quick: bool = False, temperatures: dict | None = None) -> tuple[Sweep, Sweep, Sweep]:
    from discolab.core.distill.budget import subtask_configs

    suffix = "-quick" if quick else ""
    plan = d3_configs(quick)
    parts = {
        json.dumps(c, sort_keys=True): c
        for p in plan
        if p["method"] == "d3"
        for c in subtask_configs(d3_cell_config(p))
    }
    return (
        Sweep(
            SOFTLABEL + suffix,
            softlabel_cell,
            softlabel_configs(quick, temperatures),
            seeds,
            ["dataset", "ipc", "study", "temperature"],
        ),
        Sweep(
            SUBTASKS + suffix,
            subtask_cell,
            list(parts.values()),
            seeds,
            ["budget_ipc", "labels", "subtasks", "subtask"],
        ),
        Sweep(
            D3 + suffix, d3_named_cell, plan, seeds, ["dataset", "budget_ipc", "name", "method", "labels", "subtasks"]
        ),
    )


def d3_named_cell(config: dict, seed: int) -> dict:
    """The D3 comparison's cell: ``name`` only labels the row."""
    return d3_cell(d3_cell_config(config), seed)


# --- pilots: the runs behind the settings the study fixes -------------------------------------------------------


def d3_pilot_configs(quick: bool = False) -> list[dict]:
    """The D3 variants of :data:`D3_PILOTS` on digits (``quick``: budget 5 only, short training)."""
    short = {"student_steps": 60, "distill_steps": 20, "expert_train_epochs": 3} if quick else {}
    return [
        {"dataset": "digits", "budget_ipc": budget, "name": name, "init": "pca", **D3_ARCH, **changes, **short}
        for budget, name, changes in D3_PILOTS
        if budget == 5 or not quick
    ]


def pilot_sweep(seeds: list[int], quick: bool = False) -> Sweep:
    """The D3 pilots (the temperature is no pilot's: ``--select-temperature`` chooses it on validation)."""
    d3_keys = ["dataset", "budget_ipc", "name", "init", "hidden", "distill_steps"]
    return Sweep(PILOT_D3 + ("-quick" if quick else ""), d3_named_cell, d3_pilot_configs(quick), seeds, d3_keys)


# --- analysis ---------------------------------------------------------------------------------------------------


def soft_vs_hard(table: pd.DataFrame) -> pd.DataFrame:
    """Per data set and IPC: hard-label accuracy, soft-label accuracy at the label epoch and at the best
    expert epoch (chosen by the mean over seeds on the test set: an optimistic choice, as in the
    paper's epoch study), the best epoch, and the gains; mean and std over seeds."""
    part = table[table["study"] == "epochs"]
    hard = part[part["step"] == 0].groupby(["dataset", "ipc"])["hard"].agg(["mean", "std"])
    soft = part[part["step"] > 0].groupby(["dataset", "ipc", "step"])["soft"].agg(["mean", "std"]).reset_index()
    rows = []
    for (dataset, ipc), group in soft.groupby(["dataset", "ipc"]):
        best = group.loc[group["mean"].idxmax()]
        at_label = group[group["step"] == LABEL_EPOCH]
        h = hard.loc[(dataset, ipc)]
        seeds = part[(part["dataset"] == dataset) & (part["ipc"] == ipc)]["seed"].nunique()
        rows.append(
            {
                "dataset": dataset,
                "ipc": ipc,
                "seeds": seeds,
                "hard": h["mean"],
                "hard_std": h["std"],
                f"soft_e{LABEL_EPOCH}": at_label["mean"].iloc[0] if len(at_label) else np.nan,
                "soft_best": best["mean"],
                "soft_best_std": best["std"],
                "best_epoch": int(best["step"]),
                "gain_best": best["mean"] - h["mean"],
                "wins": _wins(_paired(part, dataset, ipc, int(best["step"]))[2]),
            }
        )
    return pd.DataFrame(rows)


def validation_epochs(selection: pd.DataFrame, temperatures: dict) -> pd.DataFrame:
    """Per data set and IPC, the expert epoch whose soft labels (at the temperature chosen for that IPC)
    gave the best mean validation accuracy over the selection seeds: the epoch chosen without the test
    set, from the rows of ``--select-temperature`` (``selection``, :meth:`RunsDB.wide`) and its choice
    (``temperatures``)."""
    soft = selection[selection["step"] > 0].dropna(subset=["soft"])
    rows = []
    for (dataset, ipc), part in soft.groupby(["dataset", "ipc"]):
        chosen = float(temperatures.get(dataset, {}).get(str(int(ipc)), DEFAULT_TEMPERATURE))  # as the study's
        at_t = part[part["temperature"] == chosen]
        if at_t.empty:
            continue
        epoch = int(at_t.groupby("step")["soft"].mean().idxmax())
        rows.append({"dataset": dataset, "ipc": int(ipc), "temperature": chosen, "validation_epoch": epoch})
    return pd.DataFrame(rows, columns=["dataset", "ipc", "temperature", "validation_epoch"])


def at_validation_epoch(table: pd.DataFrame, epochs: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy of the soft-label student with labels from the expert epoch chosen on validation
    (:func:`validation_epochs`), against the hard-label student on the same images: mean and std over
    seeds, the paired gain and the seeds it won."""
    part = table[table["study"] == "epochs"]
    rows = []
    for row in epochs.itertuples():
        hard, soft, paired = _paired(part, row.dataset, row.ipc, row.validation_epoch)
        if soft.empty:
            continue
        rows.append(
            {
                "dataset": row.dataset,
                "ipc": row.ipc,
                "temperature": row.temperature,
                "validation_epoch": row.validation_epoch,
                "seeds": len(paired),
                "hard": hard.mean(),
                "soft": soft.mean(),
                "soft_std": soft.std(),
                "gain": paired.mean(),
                "gain_std": paired.std(),
                "wins": _wins(paired),
            }
        )
    return pd.DataFrame(rows)


def best_epoch_trend(table: pd.DataFrame) -> pd.DataFrame:
    """Does the best expert epoch grow with IPC? Per data set: each seed's best expert epoch on test at
    every IPC (the epoch of its most accurate soft-label student; ties: the earliest), their median per
    IPC, and Spearman's rank correlation of IPC with the per-seed best epoch over all (seed, IPC) pairs,
    with its p (``scipy.stats.spearmanr``)."""
    from scipy.stats import spearmanr

    part = table[(table["study"] == "epochs") & (table["step"] > 0)]
    best = part.loc[part.sort_values("step").groupby(["dataset", "ipc", "seed"])["soft"].idxmax()]
    rows = []
    for dataset, cells in best.groupby("dataset"):
        rho, p = spearmanr(cells["ipc"], cells["step"])
        medians = cells.groupby("ipc")["step"].median()
        rows.append(
            {
                "dataset": dataset,
                **{f"median best epoch, IPC {int(ipc)}": int(round(m)) for ipc, m in medians.items()},
                "pairs": len(cells),
                "spearman rho": rho,
                "p": f"{p:.2g}",  # a string: the report's rounding would print a small p as 0
            }
        )
    return pd.DataFrame(rows)


def _paired(part: pd.DataFrame, dataset: str, ipc: int, epoch: int) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(hard, soft, soft - hard) per seed: the hard-label student and the soft-label one with labels from
    ``epoch``, on the same images (the epochs study's rows ``part``)."""
    cell = part[(part["dataset"] == dataset) & (part["ipc"] == ipc)]
    hard = cell[cell["step"] == 0].set_index("seed")["hard"]
    soft = cell[cell["step"] == epoch].set_index("seed")["soft"]
    return hard, soft, (soft - hard).dropna()


def _wins(paired: pd.Series) -> str:
    """Seeds where the soft-label student beat the hard-label one: ``paired`` is soft - hard per seed."""
    return f"{int((paired > 0).sum())}/{len(paired)}"


def epoch_curves(table: pd.DataFrame) -> pd.DataFrame:
    """Soft-label accuracy by expert epoch (columns) per data set and IPC (rows), mean over seeds."""
    part = table[(table["study"] == "epochs") & (table["step"] > 0)]
    return part.pivot_table(index=["dataset", "ipc"], columns="step", values="soft", aggfunc="mean")


def expert_curve(table: pd.DataFrame) -> pd.DataFrame:
    """The expert's own test accuracy by epoch (columns) per data set, mean over seeds: whether the
    expert has peaked by its last checkpoint."""
    part = table[(table["study"] == "epochs") & (table["step"] > 0)]
    return part.pivot_table(index="dataset", columns="step", values="expert", aggfunc="mean")


def swap_curve(table: pd.DataFrame) -> pd.DataFrame:
    """Accuracy when the k-th largest soft-label entry is swapped with the smallest (k = 0: no swap)."""
    part = table[table["study"] == "swap"]
    return part.groupby(["dataset", "step"])["swap"].agg(["mean", "std"]).reset_index().rename(columns={"step": "k"})


def topk_grid(table: pd.DataFrame) -> pd.DataFrame:
    """Mean accuracy per data set, IPC and k, with the stored floats per class (images + top-k labels)."""
    part = table[table["study"] == "topk"]
    grid = part.groupby(["dataset", "ipc", "step"])[["topk", "label_floats"]].mean().reset_index()
    grid = grid.rename(columns={"step": "k", "topk": "accuracy"})
    grid["floats_per_class"] = grid["ipc"] * (IMAGE_FLOATS + grid["label_floats"])
    return grid


def frontier(grid: pd.DataFrame) -> pd.DataFrame:
    """The accuracy frontier of the IPC x k grid: per data set, the (IPC, k) cells that no cell with
    less or equal storage beats (a Pareto front over stored floats per class)."""
    rows = []
    for _, part in grid.sort_values(["dataset", "floats_per_class", "accuracy"], ascending=[True, True, False]).groupby(
        "dataset"
    ):
        best = -np.inf
        for _, row in part.iterrows():
            if row["accuracy"] > best:
                rows.append(row)
                best = row["accuracy"]
    return pd.DataFrame(rows).reset_index(drop=True)


def d3_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per data set, budget and method: accuracy mean and std over seeds and the storage actually used."""
    keys = ["dataset", "budget_ipc", "name"]
    grouped = table.groupby(keys)
    summary = grouped["accuracy"].agg(["mean", "std"]).rename(columns={"mean": "accuracy", "std": "accuracy_std"})
    summary["ipc_equivalent"] = grouped["ipc_equivalent"].mean()
    for column in ("latents_per_class", "images_per_class"):
        if column in table:
            summary[column] = grouped[column].mean()
    summary["seeds"] = grouped["seed"].nunique()
    order = {name: i for i, name in enumerate(D3_METHODS)}
    summary = summary.reset_index()
    return summary.sort_values(keys, key=lambda s: s.map(order) if s.name == "name" else s)


def expert_accuracy(table: pd.DataFrame) -> pd.DataFrame:
    """Per data set: the expert's test accuracy at the last checkpoint that an epochs study of ``table``
    used, mean and std over seeds."""
    part = table.dropna(subset=["expert"]) if "expert" in table else table.iloc[:0]
    last = part[part["step"] == part.groupby("dataset")["step"].transform("max")].drop_duplicates(["dataset", "seed"])
    return (
        last.groupby("dataset")
        .agg(epoch=("step", "max"), seeds=("seed", "nunique"), expert=("expert", "mean"), expert_std=("expert", "std"))
        .reset_index()
    )


def d3_pilot_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per budget and variant (in :data:`D3_PILOTS` order): accuracy mean and std over seeds, latents per
    class, and the difference to the study's D3 at the same budget with the seeds it won (paired)."""
    order = {(budget, name): i for i, (budget, name, _) in enumerate(D3_PILOTS)}
    rows = []
    for (budget, name), cell in sorted(table.groupby(["budget_ipc", "name"]), key=lambda group: order[group[0]]):
        reference = table[(table["budget_ipc"] == budget) & (table["name"] == "d3")].set_index("seed")["accuracy"]
        paired = (cell.set_index("seed")["accuracy"] - reference).dropna()
        first = cell.iloc[0]
        rows.append(
            {
                "budget_ipc": budget,
                "name": name,
                "init": first["init"],
                "hidden": first["hidden"],
                "distill_steps": first["distill_steps"],
                "latents_per_class": first["latents_per_class"],
                "seeds": cell["seed"].nunique(),
                "accuracy": cell["accuracy"].mean(),
                "accuracy_std": cell["accuracy"].std(),
                "vs_d3": np.nan if name == "d3" else paired.mean(),
                "wins": "" if name == "d3" else f"{int((paired > 0).sum())}/{len(paired)}",
            }
        )
    return pd.DataFrame(rows)


def figure(soft: pd.DataFrame | None, d3: pd.DataFrame | None):
    """Soft vs hard by IPC, best expert epoch by IPC, swap test, top-k frontier, D3 comparison."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(15, 8))
    axes = fig.subplots(2, 3).flatten()
    if soft is not None and len(soft):
        summary = soft_vs_hard(soft)
        for ax, (dataset, part) in zip(axes[:2], summary.groupby("dataset")):
            ax.errorbar(part["ipc"], part["hard"], part["hard_std"], marker="s", capsize=3, label="hard labels")
            ax.errorbar(
                part["ipc"], part["soft_best"], part["soft_best_std"], marker="o", capsize=3, label="soft (best e)"
            )
            ax.plot(
                part["ipc"], part[f"soft_e{LABEL_EPOCH}"], ":", marker=".", label=f"soft (expert epoch {LABEL_EPOCH})"
            )
            ax.set_xscale("log")
            ax.set_xlabel("images per class")
            ax.set_ylabel("student test accuracy")
            ax.set_title(f"{dataset}: soft vs hard labels")
            ax.legend(fontsize=7)
        ax = axes[2]
        for dataset, part in summary.groupby("dataset"):
            ax.plot(part["ipc"], part["best_epoch"], marker="o", label=dataset)
        ax.set_xscale("log")
        ax.set_xlabel("images per class")
        ax.set_ylabel("best expert epoch")
        ax.set_title("best expert epoch vs IPC")
        ax.legend(fontsize=7)
        ax = axes[3]
        for dataset, part in swap_curve(soft).groupby("dataset"):
            ax.errorbar(part["k"], part["mean"], part["std"], marker="o", capsize=3, label=dataset)
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlabel("k (k-th largest swapped with the smallest; 0 = none)")
        ax.set_ylabel("accuracy (IPC 1)")
        ax.set_title("swap test")
        ax.legend(fontsize=7)
        ax = axes[4]
        grid = topk_grid(soft)
        for dataset, part in grid.groupby("dataset"):
            ax.scatter(part["floats_per_class"], part["accuracy"], s=10, alpha=0.4)
            front = frontier(part)
            ax.plot(front["floats_per_class"], front["accuracy"], marker="o", label=f"{dataset} frontier")
        ax.set_xscale("log")
        ax.set_xlabel("stored floats per class (images + top-k labels)")
        ax.set_ylabel("accuracy")
        ax.set_title("IPC x top-k grid")
        ax.legend(fontsize=7)
    if d3 is not None and len(d3):
        ax = axes[5]
        summary = d3_summary(d3)
        names = list(dict.fromkeys(summary["name"]))
        width = 0.8 / len(names)
        groups = list(dict.fromkeys(zip(summary["dataset"], summary["budget_ipc"])))
        for i, name in enumerate(names):
            part = summary[summary["name"] == name].set_index(["dataset", "budget_ipc"]).reindex(groups)
            x = np.arange(len(groups)) + i * width
            ax.bar(x, part["accuracy"], width, yerr=part["accuracy_std"], label=name, capsize=2)
        ax.set_xticks(np.arange(len(groups)) + 0.4 - width / 2, [f"{d}\n{b:g}" for d, b in groups], fontsize=7)
        ax.set_xlabel("data set, storage budget (images per class)")
        ax.set_ylabel("accuracy")
        ax.set_ylim(max(0.0, summary["accuracy"].min() - 0.1), 1.0)
        ax.set_title("D3 vs pixels vs real at equal storage")
        ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


def decoded_figure(distilled, fresh: int = 2, seed: int = 0, columns: int = 12):
    """One row per class: images decoded from the class's latent means, then fresh samples from them
    (the first ``columns`` of these)."""
    import torch
    from matplotlib.figure import Figure

    decoded = distilled.decode(distilled.latent_draws(fresh, torch.Generator().manual_seed(seed)))
    columns = min(columns, len(decoded[0]))
    fig = Figure(figsize=(columns * 0.7, distilled.n_classes * 0.7))
    axes = fig.subplots(distilled.n_classes, columns, squeeze=False)
    for c, row in enumerate(axes):
        for i, ax in enumerate(row):
            ax.imshow(decoded[c][i, 0].numpy(), cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(str(c), rotation=0, labelpad=8)
    fig.tight_layout(pad=0.1)
    return fig


def _table(db: RunsDB, name: str, configs: list[dict]) -> pd.DataFrame | None:
    """The rows of experiment ``name`` whose cells are among ``configs`` (:meth:`RunsDB.wide`), or None: cells of
    an earlier design (a shorter expert training, say) stay in the database, reproducible by their config, but no
    table mixes them with the current design's."""
    if name not in set(db.experiments()["experiment"]):
        return None
    table = _current(db.wide(name), configs)
    return table if len(table) else None


def _current(frame: pd.DataFrame, configs: list[dict]) -> pd.DataFrame:
    return frame[frame["config_hash"].isin({config_hash(c) for c in configs})]


def study_tables(db: RunsDB, quick: bool = False) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """The soft-label study's and D3's rows (:meth:`RunsDB.wide`) of the current design, or None where none."""
    suffix = "-quick" if quick else ""
    temperatures = {} if quick else chosen_temperatures()
    return (
        _table(db, SOFTLABEL + suffix, softlabel_configs(quick, temperatures)),
        _table(db, D3 + suffix, d3_configs(quick)),
    )


def report(db: RunsDB, quick: bool = False, docs_image: Path | None = None) -> str:
    suffix = "-quick" if quick else ""
    soft, d3 = study_tables(db, quick)
    lines = []
    if soft is not None:
        lines += ["Soft vs hard labels (mean over seeds; best epoch chosen on the test mean):", ""]
        lines += [soft_vs_hard(soft).round(4).to_markdown(index=False), ""]
        experts = expert_accuracy(soft).round(4).to_markdown(index=False)
        lines += ["Expert test accuracy (the last checkpoint studied):", "", experts, ""]
        lines += ["Soft-label accuracy by expert epoch (columns):", "", epoch_curves(soft).round(3).to_markdown(), ""]
        lines += ["Expert test accuracy by epoch (columns):", "", expert_curve(soft).round(4).to_markdown(), ""]
        selection = _table(db, SELECT_TEMPERATURE + suffix, selection_configs(quick))
        if selection is not None:
            chosen = validation_epochs(selection, {} if quick else chosen_temperatures())
            lines += ["Soft vs hard with the expert epoch chosen on validation (the temperature selection's rows):", ""]
            lines += [at_validation_epoch(soft, chosen).round(4).to_markdown(index=False), ""]
        lines += ["Best expert epoch per seed (on test) against IPC:", ""]
        lines += [best_epoch_trend(soft).round(4).to_markdown(index=False), ""]
        lines += ["Swap test (IPC 1):", "", swap_curve(soft).round(4).to_markdown(index=False), ""]
        grid = topk_grid(soft)
        pivot = grid.pivot_table(index=["dataset", "ipc"], columns="k", values="accuracy")
        lines += ["Top-k truncation, accuracy by IPC (rows) and k (columns):", "", pivot.round(3).to_markdown(), ""]
        lines += ["Frontier of the IPC x k grid (stored floats per class):", ""]
        lines += [frontier(grid).round(4).to_markdown(index=False), ""]
    if d3 is not None:
        lines += ["D3 vs pixel prototypes vs random real at equal storage, per data set:", ""]
        lines += [d3_summary(d3).round(4).to_markdown(index=False), ""]
    if not lines:
        return "no distillation sweep in the runs database yet"
    path = data_path("results", IMAGE if not quick else f"distill{suffix}_results.png")
    figure(soft, d3).savefig(path, dpi=80)
    if docs_image is not None:
        shutil.copyfile(path, docs_image)
    return "\n".join([*lines, f"plot: {path}"])


def pilot_report(db: RunsDB, quick: bool = False) -> str:
    """The pilots' tables (markdown), from the runs database."""
    suffix = "-quick" if quick else ""
    d3 = _table(db, PILOT_D3 + suffix, d3_pilot_configs(quick))
    lines = []
    if d3 is not None:
        lines += ["Pilot: D3 variants on digits, hard labels (mean over seeds; vs_d3 and wins paired by seed against"]
        lines += ["the study's D3 at the same budget):", "", d3_pilot_table(d3).round(4).to_markdown(index=False), ""]
    return "\n".join(lines) if lines else "no distillation pilot in the runs database yet"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="tiny budgets: a smoke test of the pipeline")
    parser.add_argument("--only", choices=["softlabel", "d3"], default=None, help="run one of the two studies")
    parser.add_argument("--pilots", action="store_true", help="instead of the study: the pilots behind its settings")
    parser.add_argument(
        "--select-temperature",
        action="store_true",
        help="instead of the study: choose the soft-label temperature per IPC on the validation split and write it "
        f"to {TEMPERATURE_FILE.relative_to(TEMPERATURE_FILE.parents[2])} (the study reads it)",
    )
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--docs-image", type=Path, default=None, help="also copy the plot here")
    parser.add_argument(
        "--decoded-image", type=Path, default=None, help="save samples decoded from seed 0's D3 set (budget 5) here"
    )
    add_sweep_arguments(parser)


def sweep_command(args: argparse.Namespace) -> int:
    """Run the missing cells (soft-label study, then D3's subtasks in parallel, then D3's students), or
    with ``--pilots`` the pilots' cells instead; print the report."""
    db = RunsDB(args.db)
    if args.select_temperature:
        plan = Sweep(
            SELECT_TEMPERATURE + ("-quick" if args.quick else ""),
            softlabel_cell,
            selection_configs(args.quick),
            SELECTION_SEEDS[: 2 if args.quick else None],
            ["dataset", "ipc", "temperature"],
        )
        if not args.report_only:
            print(run_sweep(plan, db, args.executor, args.workers, args.address).line(), file=sys.stderr)
        results = _current(db.results(plan.name), plan.configs)
        chosen, table = choose_temperatures(results)
        print("Validation accuracy of the soft-label student at its best expert epoch, by temperature (columns):\n")
        print(table.round(4).to_markdown())
        print(f"\nchosen: {json.dumps(chosen)}")
        cells = len(plan.configs) * len(plan.seeds)
        recorded = len(results.drop_duplicates(["config_hash", "seed"]))
        if recorded < cells:  # a partial selection is not written: the study would read it as final
            print(f"not written: {recorded} of {cells} selection cells recorded; run the same command to finish")
        elif not args.quick:
            TEMPERATURE_FILE.parent.mkdir(parents=True, exist_ok=True)
            TEMPERATURE_FILE.write_text(json.dumps(chosen, indent=1, sort_keys=True) + "\n", encoding="utf-8")
            print(f"written to {TEMPERATURE_FILE}")
        return 0
    if args.pilots:
        if not args.report_only:
            plan = pilot_sweep(list(range(args.seeds)), args.quick)
            print(run_sweep(plan, db, args.executor, args.workers, args.address).line(), file=sys.stderr)
        print(pilot_report(db, args.quick))
        return 0
    temperatures = {} if args.quick else chosen_temperatures()
    if not temperatures and not args.quick and args.only != "d3" and not args.report_only:
        raise DiscolabError(
            "no soft-label temperatures chosen yet: run `python -m discolab.experiments.distill_eval "
            "--select-temperature` first (it writes experiments/data/distill_temperatures.json)"
        )
    softlabel, subtasks, d3 = sweeps(list(range(args.seeds)), args.quick, temperatures)
    if not args.report_only:
        plans = {"softlabel": [softlabel], "d3": [subtasks, d3], None: [softlabel, subtasks, d3]}[args.only]
        for plan in plans:
            print(run_sweep(plan, db, args.executor, args.workers, args.address).line(), file=sys.stderr)
    print(report(db, args.quick, args.docs_image))
    if args.decoded_image is not None:
        from discolab.core.distill.budget import distributional_set

        one_thread()
        config = next(c for c in d3_configs(args.quick) if c["name"] == "d3" and c["budget_ipc"] == 5)
        decoded_figure(distributional_set(d3_cell_config(config), 0)).savefig(args.decoded_image, dpi=60)
    return 0


def add_softlabel_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of one soft-label cell (``discolab distill softlabel``)."""
    parser.add_argument("--dataset", choices=["digits", "nested"], default="digits")
    parser.add_argument("--ipc", type=int, default=1, help="real images per class")
    parser.add_argument("--study", choices=["epochs", "swap", "topk"], default="epochs")
    parser.add_argument(
        "--expert-epochs", type=int, nargs="+", default=None, help="epochs study (default: the study's, per data set)"
    )
    parser.add_argument("--expert-epoch", type=int, default=LABEL_EPOCH, help="swap / top-k: the label checkpoint")
    parser.add_argument("--ks", type=int, nargs="+", default=None, help="swap / top-k: the k values (default all)")
    parser.add_argument("--temperature", type=float, default=4.0)
    parser.add_argument("--steps", type=int, default=300, help="student training steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print JSON")


def softlabel_command(args: argparse.Namespace) -> int:
    """One cell of the soft-label study: the students' test accuracies, printed as a table."""
    from discolab.core.distill.softlabel import run

    config = {"dataset": args.dataset, "ipc": args.ipc, "study": args.study, "temperature": args.temperature}
    epochs = args.expert_epochs or EXPERT_EPOCHS[args.dataset]
    config.update({"student_steps": args.steps, "expert_epochs": epochs, "expert_epoch": args.expert_epoch})
    # the study's expert (cached, so shared with the sweep's cells), trained longer where an epoch asked for is later
    config["expert_train_epochs"] = max(EXPERT_TRAIN_EPOCHS[args.dataset], *epochs, args.expert_epoch)
    config["ks"] = args.ks
    one_thread()
    rows = run(config, args.seed, progress=lambda line: print(line, file=sys.stderr))
    if args.json:
        print(json.dumps({"config": config, "seed": args.seed, "rows": rows}))
    else:
        table = pd.DataFrame(rows).pivot_table(index="step", columns="metric", values="value")
        print(table.round(4).to_markdown())
    return 0


def add_d3_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of one equal-storage run (``discolab distill d3``)."""
    parser.add_argument("--dataset", choices=["digits", "nested"], default="digits")
    parser.add_argument("--budget", type=float, default=5, help="storage budget in images per class")
    parser.add_argument("--method", choices=["d3", "pixels", "real"], default="d3")
    parser.add_argument("--labels", choices=["hard", "soft"], default="hard")
    parser.add_argument("--subtasks", type=int, default=1, help="D3: class subtasks distilled in parallel (federated)")
    parser.add_argument("--latent-dim", type=int, default=D3_ARCH["latent_dim"])
    parser.add_argument(
        "--hidden", type=int, default=D3_ARCH["hidden"], help="decoder hidden units (split over subtasks)"
    )
    parser.add_argument("--distill-steps", type=int, default=D3_ARCH["distill_steps"])
    parser.add_argument("--steps", type=int, default=300, help="student training steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print JSON")
    add_sweep_arguments(parser)


def d3_command(args: argparse.Namespace) -> int:
    """Distill the subtasks through the sweep runner (in parallel with ``--workers``), then build the
    method's set within the budget, train a student and print its accuracy and storage account."""
    from discolab.core.distill.budget import run, subtask_configs

    config = {"dataset": args.dataset, "budget_ipc": args.budget, "method": args.method, "labels": args.labels}
    config.update({"subtasks": args.subtasks, "latent_dim": args.latent_dim, "hidden": args.hidden})
    config.update({"distill_steps": args.distill_steps, "student_steps": args.steps})
    if args.method == "d3":
        parts = Sweep(
            SUBTASKS, subtask_cell, subtask_configs(config), [args.seed], ["budget_ipc", "subtasks", "subtask"]
        )
        print(run_sweep(parts, RunsDB(args.db), args.executor, args.workers, args.address).line(), file=sys.stderr)
    one_thread()
    metrics = run(config, args.seed, progress=lambda line: print(line, file=sys.stderr))
    print_result(config, args.seed, metrics, args.json)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    return sweep_command(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
