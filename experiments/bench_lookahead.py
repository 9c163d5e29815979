"""Lookahead selection: the array computation of the entropy after an answer against the update
applied to every belief.

For each graph, prior and seed, a discovery run (structural update, uncertainty selection) is
driven for a few rounds; at every round's state the expected entropy reduction of every untested
edge is computed twice: with :func:`~discolab.agents.discovery.nodes.lookahead_entropy` (what the
select node uses: the new caps only, a fused prior's refit as arrays) and with the reference, the
update node's own :func:`~discolab.agents.discovery.nodes.beliefs_given` on the full beliefs
followed by a sum of entropies. Printed per graph and prior: the largest gain difference, whether
the top-k picks agree, the seconds per selection of each and the speed-up (a ratio measured in
the same run).

Run: ``python -m discolab.experiments.bench_lookahead [--graphs G ...] [--seeds N]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from discolab.agents.discovery import DiscoverySettings, round_states, start_discovery
from discolab.agents.discovery.nodes import _beliefs, _results, beliefs_given, lookahead_entropy, settled_pairs
from discolab.core.igda.selection import lookahead_gains, total_entropy

PRIORS = ("simulated:0.7", "simulated:0.7+pc")


def measure(graph: str, prior: str, seed: int, rounds: int = 4, k: int = 4) -> list[dict]:
    settings = DiscoverySettings(
        graph=graph, prior=prior, samples=1000, update="structural", rounds=rounds, per_round=k, seed=seed
    )
    run = start_discovery(settings, run_id=f"bench-lookahead-{graph}-{seed}-{time.time_ns()}")
    rows = []
    for number, state in round_states(run.run_id).items():
        beliefs, results, settled = _beliefs(state), _results(state), settled_pairs(state)

        pairs = [tuple(e) for e in state["pairs"]]
        base = np.array([beliefs[e] for e in pairs])

        def reference(edge, answer, state=state, results=results, pairs=pairs, base=base, settled=settled):
            after = beliefs_given(state, {**results, edge: answer}, base)[0]
            return total_entropy(dict(zip(pairs, after.tolist())), settled | {edge})

        start = time.perf_counter()
        fast = lookahead_gains(beliefs, settled, lookahead_entropy(state, beliefs, settled))
        middle = time.perf_counter()
        slow = lookahead_gains(beliefs, settled, reference)
        end = time.perf_counter()
        top = {
            name: sorted(gains, key=lambda e: (-round(gains[e], 9), e))[:k]
            for name, gains in (("fast", fast), ("slow", slow))
        }
        rows.append(
            {
                "graph": graph,
                "prior": prior,
                "seed": seed,
                "round": number,
                "candidates": len(slow),
                "max |gain difference|": max(abs(fast[e] - slow[e]) for e in slow),
                "same top-k": top["fast"] == top["slow"],
                "arrays s": middle - start,
                "reference s": end - middle,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graphs", nargs="+", default=["sachs", "child", "insurance", "alarm"])
    parser.add_argument("--priors", nargs="+", default=list(PRIORS))
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args(argv)
    rows = [
        row
        for graph in args.graphs
        for prior in args.priors
        for seed in range(args.seeds)
        for row in measure(graph, prior, seed)
    ]
    table = pd.DataFrame(rows)
    summary = table.groupby(["graph", "prior"], sort=False).agg(
        candidates=("candidates", "mean"),
        max_gain_difference=("max |gain difference|", "max"),
        same_top_k=("same top-k", "mean"),
        arrays_s=("arrays s", "mean"),
        reference_s=("reference s", "mean"),
    )
    summary["speed-up (reference / arrays)"] = summary["reference_s"] / summary["arrays_s"]
    print(f"lookahead gains with arrays against the update on every belief, {args.seeds} seeds, 5 states each")
    print(summary.to_markdown(floatfmt=".3g"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
