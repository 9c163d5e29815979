"""Where the LLM update's gain comes from: the model's answers, or re-asking the neighbours at all.

IGDA's update re-asks the LLM about every untested edge next to a tested one, with the results in
the prompt. Sweep ``igda-llm-update``: the embedded LLM prior on the benchmark graphs, R = 5
rounds of I = max(2, round(n_vars / 4)) oracle experiments (the setup of ``igda-eval-llm``),
five arms:

- ``uncertainty+llm``: IGDA as published;
- ``uncertainty+structural`` and ``uncertainty+none``: no LLM after the prior;
- ``random+llm`` and ``confident+llm`` (the smallest entropy first): selection ablations;
- ``uncertainty+llm, no calibration``: the raw answers (``--calibration none``) instead of
  content-free calibration.

Then sweep ``igda-llm-shift``, the control: ``uncertainty+shift``, no LLM, moving every untested
neighbour of a tested edge by D up or down at random each round (``--update shift:D``), with D
per graph the mean absolute change the LLM update made in that graph's ``uncertainty+llm`` runs
(each LLM round records it as ``update_shift``). If IGDA beats the control, the gain comes from
what the model says; if not, from stirring the neighbours' beliefs, which changes what
uncertainty selection picks next.

The report: final F1 per graph and arm (mean and std over seeds), and paired Wilcoxon
signed-rank tests over (graph, seed) of ``uncertainty+llm`` against every other arm on final F1,
the F1 area (mean F1 over rounds 0..R) and final SHD; p >= 0.05 is a tie.

Run: ``python -m discolab.experiments.llm_update_eval [--seeds 5] [--graphs G ...] [--quick]``
(graphs run cheapest first, so an interrupted sweep has finished the small graphs; a rerun
continues); ``--report-only`` prints the tables from the runs database.
"""

from __future__ import annotations

import argparse

import pandas as pd
from discolab.core.graphs import BENCHMARKS
from discolab.core.runs import RunsDB
from discolab.experiments.igda_eval import LLM_ROUNDS, discovery_cell, per_round_budget
from discolab.experiments.stats import paired_test
from discolab.experiments.sweep import Sweep, add_sweep_arguments, run_sweep_from_arguments

EXPERIMENT, CONTROL = "igda-llm-update", "igda-llm-shift"
IGDA = "uncertainty+llm"
ARMS = {  # arm -> the settings it changes from IGDA's
    IGDA: {},
    "uncertainty+structural": {"update": "structural"},
    "uncertainty+none": {"update": "none"},
    "random+llm": {"strategy": "random"},
    "confident+llm": {"strategy": "confident"},
    "uncertainty+llm, no calibration": {"calibration": "none"},
}
SHIFT_ARM = "uncertainty+shift"
KEYS = ["graph", "arm"]


def settings_of(config: dict) -> dict:
    """The discovery settings of one cell: the LLM prior, oracle experiments, the arm's changes."""
    arm = config["arm"]
    changes = {"update": f"shift:{config['shift']}"} if arm == SHIFT_ARM else ARMS[arm]
    base = {"graph": config["graph"], "prior": "llm", "strategy": "uncertainty", "update": "llm"}
    return {
        **base,
        "experimenter": "oracle",
        "rounds": LLM_ROUNDS,
        "per_round": per_round_budget(config["graph"]),
    } | changes


def update_cell(config: dict, seed: int) -> list[dict]:
    return discovery_cell(settings_of(config), seed)


def shift_of(db: RunsDB, graph: str) -> float | None:
    """D for ``graph``: the mean ``update_shift`` over its IGDA runs' rounds, None before any ran."""
    if EXPERIMENT not in set(db.experiments()["experiment"]):
        return None
    wide = db.wide(EXPERIMENT)
    if "update_shift" not in wide:
        return None
    shifts = wide[(wide["graph"] == graph) & (wide["arm"] == IGDA)]["update_shift"].dropna()
    # shift:D needs D in (0, 1); a graph whose LLM update moved nothing gets the smallest step
    return None if shifts.empty else round(min(max(float(shifts.mean()), 0.001), 0.99), 3)


def runs_table(db: RunsDB) -> pd.DataFrame:
    """One row per run: graph, arm, seed, final F1 and SHD, F1 area, mean update shift."""
    frames = [db.wide(e) for e in (EXPERIMENT, CONTROL) if e in set(db.experiments()["experiment"])]
    if not frames:
        return pd.DataFrame()
    wide = pd.concat(frames, ignore_index=True).dropna(subset=["f1"])
    keys = [*KEYS, "seed"]
    last = wide[wide["step"] == wide.groupby(keys)["step"].transform("max")].set_index(keys)
    grouped = wide.groupby(keys)
    table = pd.DataFrame({"f1": last["f1"], "shd": last["shd"], "f1_area": grouped["f1"].mean()})
    if "update_shift" in wide:
        table["update_shift"] = grouped["update_shift"].mean()
    if "shift" in wide:
        table["shift"] = grouped["shift"].first()
    return table.reset_index()


def report(db: RunsDB, graphs: list[str] | None = None) -> str:
    runs = runs_table(db)
    if runs.empty:
        return f"no {EXPERIMENT} runs in the database yet"
    if graphs:
        runs = runs[runs["graph"].isin(graphs)]
    order = [g for g in BENCHMARKS if g in set(runs["graph"])]
    arms = [a for a in [*ARMS, SHIFT_ARM] if a in set(runs["arm"])]
    f1 = runs.pivot_table(index="graph", columns="arm", values="f1", aggfunc=["mean", "std"])

    def cell(graph: str, arm: str) -> str:
        mean = f1["mean", arm].get(graph) if ("mean", arm) in f1 else None
        return "" if mean is None or pd.isna(mean) else f"{mean:.2f}±{f1['std', arm].fillna(0)[graph]:.2f}"

    per_graph = pd.DataFrame({arm: [cell(g, arm) for g in order] for arm in arms}, index=pd.Index(order, name="graph"))
    if "update_shift" in runs:
        per_graph["D (mean LLM shift)"] = runs[runs["arm"] == IGDA].groupby("graph")["update_shift"].mean().round(3)
    rows = []
    for rival in arms:
        if rival == IGDA:
            continue
        row = {"IGDA (uncertainty+llm) vs": rival}
        for metric, better in (("f1", 1), ("f1_area", 1), ("shd", -1)):
            table = runs.pivot_table(index=["graph", "seed"], columns="arm", values=metric)
            if rival not in table or IGDA not in table:
                continue
            both = table[[IGDA, rival]].dropna()
            diff, p, verdict = paired_test(both[IGDA], both[rival])
            if better < 0 and verdict != "tie":  # a lower SHD is the win
                verdict = "win" if diff < 0 else "loss"
            row[metric] = f"{diff:+.3f}, p={p:.3f} ({verdict})"
            if metric == "f1":
                means = both.groupby(level="graph").mean()
                margin = means[IGDA] - means[rival]
                won, lost = int((margin > 1e-9).sum()), int((margin < -1e-9).sum())
                row["runs"], row["graphs W/T/L (f1)"] = len(both), f"{won}/{len(margin) - won - lost}/{lost}"
        rows.append(row)
    return (
        "### igda-llm-update: final F1 by graph and arm (mean ± std over seeds)\n\n"
        + per_graph.to_markdown()
        + "\n\n## IGDA against each arm, paired over (graph, seed)\n\n"
        + pd.DataFrame(rows).to_markdown(index=False)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--graphs", nargs="+", default=None, help="default: the 8 benchmarks, cheapest first")
    parser.add_argument("--quick", action="store_true", help="cancer, 2 seeds")
    parser.add_argument("--report-only", action="store_true")
    add_sweep_arguments(parser)
    args = parser.parse_args(argv)
    db = RunsDB(args.db)
    graphs = ["cancer"] if args.quick else (args.graphs or list(BENCHMARKS))
    seeds = list(range(2 if args.quick else args.seeds))
    if not args.report_only:
        for graph in graphs:  # a graph's control needs its own IGDA runs first
            configs = [{"graph": graph, "arm": arm} for arm in ARMS]
            run_sweep_from_arguments(Sweep(EXPERIMENT, update_cell, configs, seeds, KEYS), db, args)
            shift = shift_of(db, graph)
            if shift is not None:
                control = [{"graph": graph, "arm": SHIFT_ARM, "shift": shift}]
                run_sweep_from_arguments(Sweep(CONTROL, update_cell, control, seeds, [*KEYS, "shift"]), db, args)
    print(report(db, args.graphs if not args.quick else graphs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
