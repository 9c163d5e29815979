"""How much an LLM's prior knows about the causal edges of the benchmark graphs.

For each graph the model is asked, for every ordered pair (u, v), whether u directly causes v:
the edge questions of the discovery loop's ``--prior llm`` (``core/igda/prior.py``), through the
response cache, with the prompt's variable order drawn from ``--seed``. Its P(u -> v) is scored
against the true graph three ways, each 0.5 at chance:

- directed AUROC: the ordered pairs ranked by P(u -> v) against the true directed edges;
- skeleton AUROC: the unordered pairs {u, v} ranked by P(u -> v) + P(v -> u) (the two
  orientations exclude each other in a DAG) against adjacency in the true graph;
- oriented right: the share of true edges u -> v with P(u -> v) > P(v -> u), a tie counting 1/2.

By default the answers are raw (``--calibration none``). The content-free calibration is one
increasing map per graph (every question shares the prompt's prefix and so its reference
answer), so it leaves the directed AUROC and the orientations as they are (but for answers that
fell back to 0.5); the skeleton AUROC, which adds two beliefs, can move a little.

Run: ``python -m discolab.experiments.prior_quality [--graphs cancer asia ...] [--seed 0]
[--json]``; the local embedded model by default, ``--backend openai --model M --base-url URL``
for a server. Prints one row per graph. The README's figures on the embedded model's prior came
from this command with its defaults.
"""

from __future__ import annotations

import argparse
import json
import math
import time

from discolab.core.graphs import Edge, GraphSpec, resolve_graph
from discolab.core.igda.prior import CALIBRATIONS, Beliefs, llm_edge_beliefs
from discolab.core.llm import BACKENDS, LLMBackend, make_backend

GRAPHS = ("cancer", "earthquake", "survey", "asia", "sachs", "child", "asia-renamed")


def _auroc(labels: list[bool], scores: list[float]) -> float:
    """scikit-learn's ROC AUC; NaN where every label is the same."""
    from sklearn.metrics import roc_auc_score

    if all(labels) or not any(labels):
        return float("nan")
    return float(roc_auc_score(labels, scores))


def score_beliefs(true_edges: list[Edge], beliefs: Beliefs) -> dict:
    """Directed AUROC, skeleton AUROC and the share of true edges oriented right, of beliefs over
    every ordered pair of the graph's variables."""
    truth = set(true_edges)
    missing = [e for e in truth if e not in beliefs or (e[1], e[0]) not in beliefs]
    if missing:
        raise ValueError(f"no belief about {len(missing)} true edges or their reverses, e.g. {missing[0]}")
    pairs = list(beliefs)
    directed = _auroc([e in truth for e in pairs], [beliefs[e] for e in pairs])
    unordered = sorted({tuple(sorted(e)) for e in pairs if (e[1], e[0]) in beliefs})
    adjacent = {tuple(sorted(e)) for e in truth}
    skeleton = _auroc([p in adjacent for p in unordered], [beliefs[(u, v)] + beliefs[(v, u)] for u, v in unordered])
    right = sum((beliefs[(u, v)] > beliefs[(v, u)]) + 0.5 * (beliefs[(u, v)] == beliefs[(v, u)]) for u, v in truth)
    return {
        "directed_auroc": directed,
        "skeleton_auroc": skeleton,
        "oriented_right": right / len(truth) if truth else float("nan"),
        "true_edges": len(truth),
    }


def measure(spec: GraphSpec, backend: LLMBackend, seed: int = 0, calibration: str = "none") -> dict:
    """One graph: the model's beliefs about every ordered pair, scored against the truth."""
    if not spec.has_truth:
        raise ValueError(f"{spec.name} has no true edges to score against")
    start = time.perf_counter()
    beliefs, fallbacks = llm_edge_beliefs(spec, backend, seed=seed, calibration=calibration)
    return {
        "graph": spec.name,
        "variables": len(spec.variables),
        "pairs": len(beliefs),
        **score_beliefs(list(spec.edges), beliefs),
        "fallbacks": len(fallbacks),
        "seconds": time.perf_counter() - start,
    }


def run(
    graphs: list[str] | tuple[str, ...] = GRAPHS,
    backend: LLMBackend | None = None,
    seed: int = 0,
    calibration: str = "none",
) -> dict:
    """Every graph's row, and the backend's identity and LLM use (questions asked, cache hits)."""
    backend = backend or make_backend("local")
    rows = [measure(resolve_graph(name), backend, seed, calibration) for name in graphs]
    usage = getattr(backend, "usage", None)
    return {
        "backend": backend.identity(),
        "seed": seed,
        "calibration": calibration,
        "rows": rows,
        "asked": usage.calls if usage else None,
        "cache_hits": usage.cache_hits if usage else None,
    }


def _figure(x: float) -> str:
    return "  n/a" if math.isnan(x) else f"{x:5.2f}"


def report(result: dict) -> str:
    identity = result["backend"]
    lines = [
        f"prior of {identity.get('model')} ({identity.get('kind')}, {identity.get('dtype', '')}); "
        f"seed {result['seed']}, calibration {result['calibration']}; 0.5 is chance for each figure",
        f"{'graph':14s} {'vars':>4s} {'edges':>5s} {'pairs':>5s}  {'dir AUROC':>9s}  {'skel AUROC':>10s}  "
        f"{'oriented right':>14s}  {'fallbacks':>9s}",
    ]
    for r in result["rows"]:
        oriented = f"{_figure(r['oriented_right'])} ({r['oriented_right'] * r['true_edges']:g}/{r['true_edges']})"
        lines.append(
            f"{r['graph']:14s} {r['variables']:4d} {r['true_edges']:5d} {r['pairs']:5d}"
            f"  {_figure(r['directed_auroc']):>9s}  {_figure(r['skeleton_auroc']):>10s}"
            f"  {oriented:>14s}  {r['fallbacks']:9d}"
        )
    if result["asked"] is not None:
        lines.append(f"questions asked of the model: {result['asked']}, from the cache: {result['cache_hits']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graphs", nargs="+", default=list(GRAPHS), help="benchmarks or graph files")
    parser.add_argument("--seed", type=int, default=0, help="seed of the variable order in the prompt (default 0)")
    parser.add_argument("--calibration", choices=CALIBRATIONS, default="none", help="raw answers (default)")
    parser.add_argument("--backend", choices=BACKENDS, default="local")
    parser.add_argument("--model", default=None, help="local: smollm2 (default), gemma3-270m, a path; openai: model")
    parser.add_argument("--base-url", default=None, help="openai: server URL (default $OPENAI_BASE_URL)")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the response cache")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    options = {"model": args.model, "base_url": args.base_url} if args.backend == "openai" else {"model": args.model}
    backend = make_backend(args.backend, cache=not args.no_cache, **options)
    result = run(args.graphs, backend, args.seed, args.calibration)
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
