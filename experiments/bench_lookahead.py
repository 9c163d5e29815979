"""Lookahead selection: simulating only the most uncertain edges against the exact computation.

For each graph and seed, a discovery run with a fused prior (``simulated:0.7+pc``, structural
update, uncertainty selection) is driven for a few rounds; at every round's state the
expected entropy reduction is computed for the most uncertain ``--limit`` edges and for every
untested edge (exact, the default selection). Printed per graph: how many of the exact top-k
edges the approximation also picks, the exact gain of the approximation's picks as a share of
the best achievable, and the time of each (a ratio measured in the same run).

Run: ``python -m discolab.experiments.bench_lookahead [--graphs G ...] [--seeds N] [--limit 64]``
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
from discolab.agents.discovery import DiscoverySettings, round_states, start_discovery
from discolab.agents.discovery.nodes import (
    beliefs_given,
    current_beliefs,
    current_sources,
    fusion_logits,
    settled_pairs,
)
from discolab.core.igda.selection import lookahead_gains


def measure(graph: str, seed: int, limit: int, rounds: int = 4, k: int = 4) -> list[dict]:
    settings = DiscoverySettings(
        graph=graph, prior="simulated:0.7+pc", samples=1000, update="structural", rounds=rounds, per_round=k, seed=seed
    )
    run = start_discovery(settings, run_id=f"bench-lookahead-{graph}-{seed}-{time.time_ns()}")
    rows = []
    for number, state in round_states(run.run_id).items():
        beliefs = dict(zip(map(tuple, state["pairs"]), current_beliefs(state)))
        results = {tuple(r["edge"]): r["present"] for r in state["results"]}
        settled = settled_pairs(state)
        logits = fusion_logits(current_sources(state))  # as the select node computes it, once per state

        def simulate(edge, answer, state=state, results=results, beliefs=beliefs, logits=logits):
            return beliefs_given(state, {**results, edge: answer}, beliefs, logits)[0]

        start = time.perf_counter()
        approximate = lookahead_gains(beliefs, settled, simulate, limit)
        middle = time.perf_counter()
        exact = lookahead_gains(beliefs, settled, simulate, None)
        end = time.perf_counter()
        best = sorted(exact, key=lambda e: -exact[e])[:k]
        picked = sorted(approximate, key=lambda e: -approximate[e])[:k]
        rows.append(
            {
                "graph": graph,
                "seed": seed,
                "round": number,
                "candidates": len(exact),
                "top-k shared": len(set(best) & set(picked)) / k,
                "gain share": sum(exact[e] for e in picked) / max(sum(exact[e] for e in best), 1e-12),
                "approx s": middle - start,
                "exact s": end - middle,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graphs", nargs="+", default=["sachs", "child", "insurance", "alarm"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--limit", type=int, default=64, help="edges simulated by the approximation")
    args = parser.parse_args(argv)
    rows = [row for graph in args.graphs for seed in range(args.seeds) for row in measure(graph, seed, args.limit)]
    table = pd.DataFrame(rows)
    summary = table.groupby("graph", sort=False).agg(
        candidates=("candidates", "mean"),
        top_k_shared=("top-k shared", "mean"),
        gain_share=("gain share", "mean"),
        worst_gain_share=("gain share", "min"),
        approx_s=("approx s", "mean"),
        exact_s=("exact s", "mean"),
    )
    summary["speed-up (exact / approx)"] = summary["exact_s"] / summary["approx_s"]
    print(f"lookahead over the {args.limit} most uncertain edges against all, {args.seeds} seeds, 5 states each")
    print(summary.round(3).to_markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
