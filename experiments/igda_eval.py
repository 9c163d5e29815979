"""Offline evaluation of IGDA against ground-truth graphs.

A grid of graphs x priors x strategies x updates x seeds, each a full discovery run with the
oracle experimenter at a fixed budget (R rounds of I experiments, I = max(2, round(n / 4)) for
n variables). One row per run and round goes to a CSV file; the summary table gives the F1
after R rounds, mean and standard deviation over seeds, per graph and method.

Run: ``python -m discolab.experiments.igda_eval [--quick] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import pandas as pd
from discolab.agents.discovery import DiscoverySettings, start_discovery
from discolab.agents.discovery.nodes import graph_spec
from discolab.core.graphs import BENCHMARKS
from discolab.core.paths import data_path
from tqdm.auto import tqdm

GRID = {
    "graph": list(BENCHMARKS),
    "prior": ["simulated:0.6", "simulated:0.8", "pc"],
    "strategy": ["uncertainty", "random", "confident"],
    "update": ["structural", "none"],
}
LLM_GRID = {
    "graph": ["cancer", "earthquake", "survey", "asia"],
    "prior": ["llm"],
    "strategy": ["uncertainty", "random"],
    "update": ["llm", "none"],
}
ROUNDS = 5


def per_round_budget(graph: str) -> int:
    return max(2, round(len(graph_spec(graph).variables) / 4))


def run_grid(grid: dict, seeds: list[int], rounds: int = ROUNDS) -> pd.DataFrame:
    cells = list(itertools.product(*grid.values(), seeds))
    rows = []
    for *values, seed in tqdm(cells, desc="runs", unit="run"):
        cell = dict(zip(grid, values))
        settings = DiscoverySettings(
            **cell, rounds=rounds, per_round=per_round_budget(cell["graph"]), seed=seed, experimenter="oracle"
        )
        start = time.perf_counter()
        run = start_discovery(settings)
        seconds = time.perf_counter() - start
        for record in run.history:
            rows.append(
                {
                    **settings.as_dict(),
                    "run_id": run.run_id,
                    "round": record["round"],
                    "experiments": record["experiments"],
                    "precision": record["precision"],
                    "recall": record["recall"],
                    "f1": record["f1"],
                    "shd": record["shd"],
                    "seconds": seconds,
                }
            )
    return pd.DataFrame(rows)


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """F1 at round 0 and after the last round, mean and std over seeds, per graph and method."""
    last = frame["round"] == frame.groupby("run_id")["round"].transform("max")
    first = frame["round"] == 0
    keys = ["graph", "prior", "strategy", "update"]
    end = frame[last].groupby(keys)["f1"].agg(["mean", "std", "count"])
    start = frame[first].groupby(keys)["f1"].mean().rename("f1_prior")
    return end.join(start).reset_index()


def wins(table: pd.DataFrame) -> pd.DataFrame:
    """Per prior: on how many graphs uncertainty+update beats each other method on mean final F1."""
    out = []
    for prior, part in table.groupby("prior"):
        update = "llm" if prior == "llm" else "structural"
        pivot = part.pivot_table(index="graph", columns=["strategy", "update"], values="mean")
        ours = pivot[("uncertainty", update)]
        for column in pivot.columns:
            if column == ("uncertainty", update):
                continue
            out.append(
                {
                    "prior": prior,
                    "versus": f"{column[0]}+{column[1]}",
                    "graphs": int(pivot[column].notna().sum()),
                    "wins": int((ours > pivot[column] + 1e-9).sum()),
                    "ties": int(((ours - pivot[column]).abs() <= 1e-9).sum()),
                }
            )
        out.append(
            {
                "prior": prior,
                "versus": "static prior",
                "graphs": len(pivot),
                "wins": int((ours > part.groupby("graph")["f1_prior"].mean() + 1e-9).sum()),
                "ties": 0,
            }
        )
    return pd.DataFrame(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--llm", action="store_true", help="also run the embedded-LLM grid (slow)")
    parser.add_argument("--quick", action="store_true", help="two graphs, two seeds (seconds)")
    parser.add_argument("--out", default=None, help="CSV file (default: DATA_HOME/results/igda_eval.csv)")
    args = parser.parse_args()
    grid, seeds = dict(GRID), list(range(args.seeds))
    if args.quick:
        grid["graph"], seeds = ["cancer", "asia"], [0, 1]
    frame = run_grid(grid, seeds)
    if args.llm:
        frame = pd.concat([frame, run_grid(LLM_GRID, seeds)], ignore_index=True)
    out = Path(args.out) if args.out else data_path("results", "igda_eval.csv")
    frame.to_csv(out, index=False)
    table = summary(frame)
    pd.set_option("display.width", 200)
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    print()
    print(wins(table).to_string(index=False))
    print(f"\nrows: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
