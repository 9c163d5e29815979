"""What bounded prompts cost: the LLM prior's AUROC with every variable listed against a listing
of the k most related (``core/igda/prompts.py``), on graphs where both fit the context.

For each graph, listing and seed (the seed orders the listed variables), the prior of the
discovery loop is elicited exactly as a run elicits it (every ordered pair, content-free
calibration: per prompt prefix, so per cause when bounded) and scored against the true graph as
:mod:`.prior_quality` scores it (directed and skeleton AUROC, 0.5 at chance). Also printed: the
mean tokens of a question's system and user text under the model's tokenizer (a server's
estimated: :func:`~discolab.core.igda.prompts.estimate_tokens`), the number a context must hold,
and the seconds spent asking (0 where the response cache had every answer). A listing of k at
least the graph's size lists every variable, and is left out.

Run: ``python -m discolab.experiments.listing_cost [--graphs ...] [--listings all 4 8 16]
[--seeds 0 1] [--backend local|openai --model M] [--json]``; the embedded model by default,
through the response cache.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from discolab.core.graphs import BENCHMARKS, load_benchmark
from discolab.core.igda.prior import llm_edge_beliefs
from discolab.core.igda.prompts import check_listing, edge_questions, token_counter
from discolab.core.llm import BACKENDS, make_backend

from .prior_quality import score_beliefs


def measure(spec, backend, listed: int | None, seed: int) -> dict:
    """One cell: the prior with ``listed`` variables per prompt (``None``: all), scored."""
    start = time.perf_counter()
    beliefs, fallbacks = llm_edge_beliefs(spec, backend, seed=seed, calibration="content-free", listed=listed)
    seconds = time.perf_counter() - start
    prompts = edge_questions(spec, spec.ordered_pairs(), seed=seed, listed=listed)
    count = token_counter(getattr(backend, "count_tokens", None))  # a server's is estimated
    tokens = np.mean([count(p[0]["content"] + p[-1]["content"]) for p in prompts])
    scores = score_beliefs(list(spec.edges), beliefs)
    return {
        "graph": spec.name,
        "variables": len(spec.names),
        "listing": "all" if listed is None else listed,
        "seed": seed,
        "directed_auroc": scores["directed_auroc"],
        "skeleton_auroc": scores["skeleton_auroc"],
        "prompt_tokens": float(tokens),
        "fallbacks": len(fallbacks),
        "seconds": seconds,
    }


def summary(rows: list[dict]) -> str:
    """Mean over graphs and seeds per listing, and the difference from listing every variable
    on the same graphs and seeds (mean, and its standard deviation over the graph-seed cells)."""
    import pandas as pd

    table = pd.DataFrame(rows)
    full = table[table.listing == "all"].set_index(["graph", "seed"])
    lines = ["| listing | cells | directed AUROC | skeleton AUROC | d directed vs all | d skeleton vs all | tokens |"]
    lines.append("|---|---:|---:|---:|---:|---:|---:|")
    for listing, part in table.groupby(table.listing.astype(str), sort=False):
        part = part.set_index(["graph", "seed"])
        both = part.index.intersection(full.index)
        dd = part.loc[both, "directed_auroc"] - full.loc[both, "directed_auroc"]
        ds = part.loc[both, "skeleton_auroc"] - full.loc[both, "skeleton_auroc"]
        lines.append(
            f"| {listing} | {len(part)} | {part.directed_auroc.mean():.3f} | {part.skeleton_auroc.mean():.3f} | "
            f"{dd.mean():+.3f} ± {dd.std():.3f} | {ds.mean():+.3f} ± {ds.std():.3f} | {part.prompt_tokens.mean():.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graphs", nargs="+", default=list(BENCHMARKS))
    parser.add_argument("--listings", nargs="+", default=["all", "4", "8", "16"], help="(default all 4 8 16)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1], help="variable-order seeds (default 0 1)")
    parser.add_argument("--backend", default="local", choices=BACKENDS)
    parser.add_argument("--model", default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    listings = [check_listing(x) for x in args.listings]
    if "auto" in listings:
        parser.error("--listings takes all or numbers (auto depends on the context: see listing_size)")
    backend = make_backend(args.backend, model=args.model)
    rows = []
    if not args.json:
        print("| graph | variables | listing | seed | directed AUROC | skeleton AUROC | tokens | seconds |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in args.graphs:
        spec = load_benchmark(name)
        for listing in listings:
            if listing != "all" and listing >= len(spec.names):
                continue
            for seed in args.seeds:
                row = measure(spec, backend, None if listing == "all" else listing, seed)
                rows.append(row)
                if not args.json:
                    print(
                        f"| {name} | {row['variables']} | {row['listing']} | {seed} | {row['directed_auroc']:.3f} | "
                        f"{row['skeleton_auroc']:.3f} | {row['prompt_tokens']:.0f} | {row['seconds']:.1f} |",
                        flush=True,
                    )
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print("\n" + summary(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
