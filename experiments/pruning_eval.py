"""What the candidate screen costs a discovery run: the same runs with every pair asked and with
the data screen's pairs only (``--candidates all`` against ``data``).

Sweep ``igda-pruning``, each cell a (graph, rows of observational data n, candidates, seed): the
learned fusion of the embedded LLM and PC of :mod:`.fusion_eval` (uncertainty selection,
structural update, oracle experimenter, R = 8 rounds of max(2, round(n_vars / 4)) experiments),
the LLM asked about every pair or only about those PC's loose skeleton keeps
(``core/igda/candidates.py``). ``auto`` prunes from 30 variables when the run has data, so the
question is whether a 37-variable run (alarm) is as good with the screen as without; the smaller
graphs show the screen where ``auto`` would not use it. Recorded per run: final F1 and SHD, the
AUROC of the final beliefs, the share of the pairs the LLM was asked, and its questions.

The report pairs the two arms over seeds per (graph, n): mean final F1 and AUROC of each, the
difference (data minus all) with a Wilcoxon signed-rank p-value (p >= 0.05: a tie); then pooled
per graph over n, and over everything (5 seeds alone cannot give p < 0.05 in that test).

Run: ``python -m discolab.experiments.pruning_eval [--graphs alarm insurance child] [--rows
200 1000 5000] [--seeds 5] [--workers 2]``; ``--report-only`` prints the table from the runs
database. The LLM answers come through the response cache (the pruned run asks a subset of the
full run's questions).
"""

from __future__ import annotations

import argparse

import pandas as pd
from discolab.agents.discovery import DiscoverySettings, start_discovery
from discolab.agents.discovery.nodes import current_beliefs, graph_spec
from discolab.core.graphs import edge_auroc
from discolab.core.runs import RunsDB
from discolab.experiments.fusion_eval import arm_settings
from discolab.experiments.stats import paired_test
from discolab.experiments.sweep import Sweep, add_sweep_arguments, run_sweep_from_arguments

EXPERIMENT = "igda-pruning"
GRAPHS = ["alarm", "insurance", "child"]
ROWS = [200, 1000, 5000]
CANDIDATES = ["all", "data"]


def pruning_cell(config: dict, seed: int) -> dict:
    """One run of the learned llm+pc fusion with the config's candidates."""
    fields = arm_settings(config["graph"], config["rows"], "llm", "learned") | {"candidates": config["candidates"]}
    run = start_discovery(DiscoverySettings(**fields, seed=seed), durable=False)
    last = run.history[-1]
    pairs = [tuple(p) for p in run.values["pairs"]]
    screen = run.values.get("candidates", {})
    return {
        "f1": last["f1"],
        "shd": last["shd"],
        "f1_prior": run.history[0]["f1"],
        "auroc": edge_auroc(graph_spec(config["graph"]).edges, dict(zip(pairs, current_beliefs(run.values)))),
        "asked_share": screen["asked"] / screen["pairs"] if screen else 1.0,
        "llm_calls": run.values.get("llm", {}).get("calls", 0),
    }


def report(db: RunsDB) -> str:
    """Per (graph, n): each arm's mean final F1 and AUROC, and the paired difference."""
    wide = db.wide(EXPERIMENT)
    if wide.empty:
        return f"no {EXPERIMENT} runs in the database yet"
    lines = [
        "| graph | n | asked (data) | F1 all | F1 data | F1 data - all | AUROC all | AUROC data | AUROC data - all |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    order = {g: i for i, g in enumerate(GRAPHS)}
    groups = sorted(wide.groupby(["graph", "rows"]), key=lambda x: (order.get(x[0][0], 99), x[0][1]))
    by_graph = {}
    for (graph, rows), part in groups:
        by_graph.setdefault(graph, []).append(part)
        lines += _row(graph, str(rows), part, ["seed"])
    # 5 seeds alone cannot reach p < 0.05 in a two-sided signed-rank test (its least p is 0.0625):
    # the pooled rows pair every (n, seed), then every (graph, n, seed)
    for graph, parts in by_graph.items():
        lines += _row(graph, "all n", pd.concat(parts), ["rows", "seed"])
    lines += _row("all graphs", "all n", wide, ["graph", "rows", "seed"])
    return "\n".join(lines)


def _row(graph: str, rows: str, part: pd.DataFrame, pairs: list[str]) -> list[str]:
    table = part.pivot_table(index=pairs, columns="candidates", values=["f1", "auroc", "asked_share"])
    if not {("f1", "all"), ("f1", "data")} <= set(table.columns):
        return []
    cells = [graph, rows, f"{table['asked_share']['data'].mean():.2f}"]
    for metric in ("f1", "auroc"):
        diff, p, verdict = paired_test(table[metric]["data"], table[metric]["all"])
        cells += [f"{table[metric]['all'].mean():.3f}", f"{table[metric]['data'].mean():.3f}"]
        cells.append(f"{diff:+.3f}, p={p:.2g} ({verdict}, {len(table)} pairs)")
    return ["| " + " | ".join(cells) + " |"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graphs", nargs="+", default=GRAPHS)
    parser.add_argument("--rows", nargs="+", type=int, default=ROWS, help="observational rows n")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--report-only", action="store_true")
    add_sweep_arguments(parser)
    args = parser.parse_args(argv)
    db = RunsDB(args.db)
    if not args.report_only:
        configs = [{"graph": g, "rows": n, "candidates": c} for g in args.graphs for n in args.rows for c in CANDIDATES]
        run_sweep_from_arguments(Sweep(EXPERIMENT, pruning_cell, configs, list(range(args.seeds))), db, args)
    print(report(db))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
