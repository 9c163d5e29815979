"""How many true edges each candidate screen loses, against scoring every pair.

For each benchmark graph, each screen of ``core/igda/candidates.py`` is run and scored against
the true skeleton:

- recall: the share of true edges {u, v} (either direction) the screen keeps; scoring every pair
  keeps all of them (recall 1, share kept 1);
- kept: the share of the n(n - 1)/2 unordered pairs kept (the LLM prior then asks 2 x kept x
  n(n - 1)/2 questions instead of n(n - 1));
- seconds: the screen's time (the data screen on this CPU, without sampling the rows; the LLM
  screen, n generations of at most ``--max-tokens`` tokens).

The data screen (PC's skeleton at level alpha, conditioning sets up to ``depth``) runs on
``--samples`` rows forward-sampled from each graph's network with each of ``--seeds``; the LLM
screen (one generation per variable listing its plausible direct causes) runs once per graph
with ``--backend`` (the embedded local model by default), through the response cache. Figures
are means over the seeds.

Run: ``python -m discolab.experiments.candidate_recall [--graphs ...] [--seeds 0 1]
[--samples 200 1000] [--alphas 0.05 0.2] [--depths 0 1] [--no-llm] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from discolab.core.graphs import BENCHMARKS, GraphSpec, load_benchmark
from discolab.core.igda.candidates import MAX_TOKENS, LLMListing, data_candidates, llm_candidates
from discolab.core.igda.data_prior import benchmark_observations
from discolab.core.llm import BACKENDS, make_backend


def score(spec: GraphSpec, kept: set[frozenset]) -> tuple[float, float]:
    """(recall of the true skeleton, share of the unordered pairs kept)."""
    true = {frozenset(edge) for edge in spec.edges}
    n = len(spec.names)
    return len(kept & true) / max(len(true), 1), len(kept) / max(n * (n - 1) // 2, 1)


def data_rows(spec: GraphSpec, samples, seeds, alphas, depths) -> list[dict]:
    rows = []
    for n_samples in samples:
        sampled = [benchmark_observations(spec, n_samples, seed) for seed in seeds]
        for alpha in alphas:
            for depth in depths:
                found = []
                for observations in sampled:
                    start = time.perf_counter()
                    kept = data_candidates(observations, alpha, depth)
                    found.append((*score(spec, kept), time.perf_counter() - start))
                recall, share, seconds = np.mean(found, axis=0)
                screen = f"data a={alpha} d={depth} n={n_samples}"
                rows.append({"screen": screen, "recall": recall, "kept": share, "seconds": seconds})
    return rows


def llm_row(spec: GraphSpec, backend, seed: int, max_tokens: int) -> dict:
    listing = LLMListing()
    start = time.perf_counter()
    kept = llm_candidates(spec, backend, seed, max_tokens=max_tokens, listing=listing)
    seconds = time.perf_counter() - start
    recall, share = score(spec, kept)
    return {
        "screen": f"llm {backend.model}",
        "recall": recall,
        "kept": share,
        "seconds": seconds,
        "unknown_names": listing.unknown,
        "calls": listing.calls,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graphs", nargs="+", default=list(BENCHMARKS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1], help="data samples' seeds (default 0 1)")
    parser.add_argument("--samples", nargs="+", type=int, default=[200, 1000], help="rows sampled (default 200 1000)")
    parser.add_argument("--alphas", nargs="+", type=float, default=[0.05, 0.2], help="PC levels (default 0.05 0.2)")
    parser.add_argument("--depths", nargs="+", type=int, default=[0, 1], help="PC depths (default 0 1)")
    parser.add_argument("--no-llm", action="store_true", help="the data screens only")
    parser.add_argument("--backend", default="local", choices=BACKENDS)
    parser.add_argument("--model", default=None)
    parser.add_argument("--max-tokens", type=int, default=MAX_TOKENS, help=f"per generation (default {MAX_TOKENS})")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    backend = None if args.no_llm else make_backend(args.backend, model=args.model)
    table = []
    if not args.json:
        print("| graph | variables | screen | recall | kept | seconds |\n|---|---:|---|---:|---:|---:|")
    for name in args.graphs:
        spec = load_benchmark(name)
        n = len(spec.names)
        rows = data_rows(spec, args.samples, args.seeds, args.alphas, args.depths)
        if backend is not None:
            rows.append(llm_row(spec, backend, args.seeds[0], args.max_tokens))
        for row in rows:
            row |= {"graph": name, "variables": n, "true_edges": len(spec.edges), "pairs": n * (n - 1) // 2}
            if not args.json:
                print(
                    f"| {name} | {n} | {row['screen']} | {row['recall']:.2f} | {row['kept']:.2f} | "
                    f"{row['seconds']:.2f} |",
                    flush=True,
                )
        table += rows
    if args.json:
        print(json.dumps(table, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
