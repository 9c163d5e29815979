"""The ``discolab`` command line: a thin layer over functions in core/, agents/ and experiments/.

Errors caused by input or environment (:class:`DiscolabError`) print as one line and exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from discolab.core.errors import DiscolabError


# -- graphs -------------------------------------------------------------------------------------
def cmd_graphs_list(args: argparse.Namespace) -> int:
    from discolab.core.graphs import BENCHMARKS, load_benchmark

    rows = []
    for name in BENCHMARKS:
        spec = load_benchmark(name)
        rows.append({"name": name, "nodes": len(spec.variables), "edges": len(spec.edges), "context": spec.context})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'graph':<12}{'nodes':>6}{'edges':>7}  context")
    for r in rows:
        context = r["context"] if len(r["context"]) <= 70 else r["context"][:67] + "..."
        print(f"{r['name']:<12}{r['nodes']:>6}{r['edges']:>7}  {context}")
    print("Each also exists as NAME-renamed (neutral variable codes, same descriptions).")
    return 0


def cmd_graphs_show(args: argparse.Namespace) -> int:
    from discolab.core.graphs import resolve_graph

    spec = resolve_graph(args.graph)
    if args.json:
        print(json.dumps(spec.to_dict(), indent=2))
        return 0
    print(
        f"{spec.name}: {len(spec.variables)} variables" + (f", {len(spec.edges)} true edges" if spec.has_truth else "")
    )
    if spec.context:
        print(f"context: {spec.context}")
    width = max(len(n) for n in spec.names)
    print("\nvariables:")
    for v in spec.variables:
        print(f"  {v.name:<{width}}  {v.description}")
    if spec.has_truth:
        print("\ntrue edges:")
        for u, v in spec.edges:
            print(f"  {u} -> {v}")
    return 0


# -- llm ----------------------------------------------------------------------------------------
def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", default="local", choices=["local", "openai"], help="LLM backend (default local)")
    parser.add_argument(
        "--model", default=None, help="local: smollm2 (default), gemma3-270m, a path; openai: model name"
    )
    parser.add_argument("--base-url", default=None, help="openai: server URL (default $OPENAI_BASE_URL)")
    parser.add_argument("--dtype", default=None, choices=["auto", "float32", "bfloat16"], help="local: weights dtype")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the response cache")


def backend_from_args(args: argparse.Namespace):
    from discolab.core.llm import make_backend

    options = {"model": args.model}
    if args.backend == "local":
        options["dtype"] = args.dtype
    else:
        options["base_url"] = args.base_url
    return make_backend(args.backend, cache=not args.no_cache, **options)


def cmd_llm_ask(args: argparse.Namespace) -> int:
    from discolab.core.llm import yes_no_prompt

    backend = backend_from_args(args)
    answer = backend.score_yes_no([yes_no_prompt(args.question, args.context or "")])[0]
    result = {"question": args.question, "backend": backend.identity(), **answer.as_dict()}
    if hasattr(backend, "cache"):
        result["cache"] = backend.cache.stats()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        flag = "  (fallback: no usable answer)" if answer.fallback else ""
        print(f"P(yes) = {answer.p_yes:.3f}  [{answer.method}, answer mass {answer.answer_mass:.2f}]{flag}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from discolab.core.graphs import resolve_graph
    from discolab.core.igda.prior import predict_graph

    spec = resolve_graph(args.graph)
    backend = backend_from_args(args)
    prediction = predict_graph(spec, backend, threshold=args.threshold, seed=args.seed, progress=not args.json)
    result = {"backend": backend.identity(), "seed": args.seed, **prediction.as_dict()}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    ranked = sorted(prediction.beliefs.items(), key=lambda item: -item[1])
    truth = set(spec.edges or ())
    print(f"{spec.name}: static LLM prediction ({backend.identity()['model']}), threshold {args.threshold}")
    print(f"top {args.top} edges by P(u -> v):" + ("   (* = true edge)" if spec.has_truth else ""))
    for (u, v), p in ranked[: args.top]:
        print(f"  {p:.3f}  {u} -> {v}" + ("  *" if (u, v) in truth else ""))
    print(f"predicted edges above threshold: {len(prediction.edges)}")
    if prediction.fallbacks:
        print(f"warning: {len(prediction.fallbacks)} pairs had no usable answer and were set to 0.5")
    if prediction.metrics:
        m = prediction.metrics
        print(
            f"precision {m.precision:.3f}  recall {m.recall:.3f}  F1 {m.f1:.3f}  SHD {m.shd}  "
            f"skeleton F1 {m.skeleton_f1:.3f}"
        )
    return 0


# -- bench --------------------------------------------------------------------------------------
def cmd_bench_llm(args: argparse.Namespace) -> int:
    from discolab.experiments import bench_llm

    return bench_llm.main(args)


# -- wiring -------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="discolab", description="Agent-driven interactive causal discovery.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    graphs = commands.add_parser("graphs", help="benchmark graphs and graph files")
    graphs.add_argument("--json", action="store_true", help="print JSON")
    graphs.set_defaults(run=cmd_graphs_list)
    graph_actions = graphs.add_subparsers(dest="action", metavar="ACTION")
    show = graph_actions.add_parser("show", help="variables, descriptions and true edges of a graph")
    show.add_argument("graph", help="benchmark name (optionally NAME-renamed) or a .json/.yaml graph file")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(run=cmd_graphs_show)

    llm = commands.add_parser("llm", help="query an LLM backend")
    llm_actions = llm.add_subparsers(dest="action", metavar="ACTION", required=True)
    ask = llm_actions.add_parser("ask", help="probability that the answer to a yes/no question is yes")
    ask.add_argument("question")
    ask.add_argument("--context", default=None, help="text placed before the question")
    add_backend_arguments(ask)
    ask.add_argument("--json", action="store_true", help="print JSON")
    ask.set_defaults(run=cmd_llm_ask)

    predict = commands.add_parser("predict", help="static LLM prediction of a graph (no experiments)")
    predict.add_argument("--graph", default="asia", help="benchmark name or graph file (default asia)")
    predict.add_argument("--threshold", type=float, default=0.5, help="keep edges with P(u -> v) above this")
    predict.add_argument("--seed", type=int, default=0, help="seed of the variable order in the prompt")
    predict.add_argument("--top", type=int, default=10, help="edges to list, by belief")
    add_backend_arguments(predict)
    predict.add_argument("--json", action="store_true", help="print JSON")
    predict.set_defaults(run=cmd_predict)

    bench = commands.add_parser("bench", help="benchmarks (speed, not correctness)")
    bench_actions = bench.add_subparsers(dest="action", metavar="ACTION", required=True)
    bench_llm = bench_actions.add_parser("llm", help="pair-scoring throughput: naive vs batched vs prefix cache")
    from discolab.experiments.bench_llm import add_arguments

    add_arguments(bench_llm)
    bench_llm.set_defaults(run=cmd_bench_llm)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except DiscolabError as err:
        print(f"discolab: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("discolab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
