"""Wrong answers: how IGDA's selection strategies degrade when experiments err.

IGDA assumes perfect experiments. Sweep ``igda-robustness``: graphs x priors (a simulated expert
of quality 0.7, the same with confident errors, PC on 1,000 rows, and the learned fusion of the
first with PC) x experimenters (``oracle``; ``noisy:EPS``, each answer flipped with probability
EPS in {0.05, 0.1, 0.2}; ``interventional:N``, a simulated randomised experiment of N rows with a
chi-square test, N in {100, 1000}) x strategies (uncertainty, lookahead, random); the structural
update; R = 8 rounds of I = max(2, round(n_vars / 4)) experiments (the cell function of
``igda_eval``: a row per metric and round).

The report gives, per prior and experimenter, the final F1 and SHD of each strategy (mean over
graphs and seeds), the area under the F1-versus-experiments curve, and paired Wilcoxon
signed-rank tests over (graph, seed) of uncertainty against random and lookahead against
uncertainty; p >= 0.05 is a tie.

Run: ``python -m discolab.experiments.robustness_eval [--quick] [--graphs G ...] [--workers 2]``;
``--report-only`` prints the tables from the runs database.
"""

from __future__ import annotations

import argparse

import pandas as pd
from discolab.core.graphs import BENCHMARKS
from discolab.core.runs import RunsDB
from discolab.experiments.igda_eval import discovery_cell, per_round_budget
from discolab.experiments.stats import paired_test
from discolab.experiments.sweep import Sweep, add_sweep_arguments, grid_configs, run_sweep_from_arguments

EXPERIMENT = "igda-robustness"
GRID = {
    "graph": list(BENCHMARKS),
    "prior": ["simulated:0.7", "simulated:0.7:confident", "pc", "simulated:0.7+pc"],
    "experimenter": ["oracle", "noisy:0.05", "noisy:0.1", "noisy:0.2", "interventional:100", "interventional:1000"],
    "strategy": ["uncertainty", "lookahead", "random"],
}
ROUNDS, ROWS = 8, 1000
KEYS = ["graph", "prior", "experimenter", "strategy"]


def configs(grid: dict) -> list[dict]:
    out = grid_configs(grid, update="structural", rounds=ROUNDS, samples=ROWS)
    for config in out:
        config["per_round"] = per_round_budget(config["graph"])
    return out


def runs_table(db: RunsDB) -> pd.DataFrame:
    """One row per run: its keys, seed, final F1 and SHD, and the mean F1 over rounds (F1 area)."""
    wide = db.wide(EXPERIMENT).dropna(subset=["f1"])
    keys = [*KEYS, "seed"]
    last = wide[wide["step"] == wide.groupby(keys)["step"].transform("max")].set_index(keys)
    return pd.DataFrame(
        {"f1": last["f1"], "shd": last["shd"], "f1_area": wide.groupby(keys)["f1"].mean()}
    ).reset_index()


def report(db: RunsDB, graphs: list[str] | None = None) -> str:
    """The tables over ``graphs`` (default: every graph in the database)."""
    if EXPERIMENT not in set(db.experiments()["experiment"]):
        return f"no {EXPERIMENT} runs in the database yet"
    runs = runs_table(db)
    if graphs:
        runs = runs[runs["graph"].isin(graphs)]
    rows = []
    for (prior, experimenter), part in runs.groupby(["prior", "experimenter"], sort=False):
        table = part.pivot_table(index=["graph", "seed"], columns="strategy", values=["f1", "shd", "f1_area"])
        row = {"prior": prior, "experimenter": experimenter, "runs": len(table)}
        for strategy in GRID["strategy"]:
            if ("f1", strategy) in table:
                covered = table["f1", strategy].notna().groupby(level="graph").any()
                # a strategy recorded on fewer graphs than the others is a mean over those graphs only
                note = "" if covered.all() else f" ({int(covered.sum())} graphs)"
                row[f"F1 {strategy}"] = f"{table['f1', strategy].mean():.3f}{note}"
                row[f"SHD {strategy}"] = f"{table['shd', strategy].mean():.1f}{note}"
        for mine, rival in (("uncertainty", "random"), ("lookahead", "uncertainty")):
            if ("f1", mine) in table and ("f1", rival) in table:
                for metric in ("f1", "f1_area"):
                    diff, p, verdict = paired_test(table[metric, mine], table[metric, rival])
                    row[f"{mine} vs {rival} ({metric})"] = f"{diff:+.3f}, p={p:.3f} ({verdict})"
        rows.append(row)
    return "### igda-robustness: final F1 / SHD by strategy (mean over graphs and seeds)\n\n" + pd.DataFrame(
        rows
    ).to_markdown(index=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--graphs", nargs="+", default=None, help="default: the 8 benchmarks")
    parser.add_argument("--quick", action="store_true", help="cancer, the first prior, oracle and noisy:0.2, 2 seeds")
    parser.add_argument("--report-only", action="store_true")
    add_sweep_arguments(parser)
    args = parser.parse_args(argv)
    db = RunsDB(args.db)
    grid = dict(GRID)
    seeds = args.seeds
    if args.quick:
        grid |= {"graph": ["cancer"], "prior": GRID["prior"][:1], "experimenter": ["oracle", "noisy:0.2"]}
        seeds = 2
    if args.graphs:
        grid["graph"] = args.graphs
    if not args.report_only:
        sweep = Sweep(EXPERIMENT, discovery_cell, configs(grid), list(range(seeds)), KEYS)
        run_sweep_from_arguments(sweep, db, args)
    print(report(db, args.graphs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
