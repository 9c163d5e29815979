"""Benchmark: scoring every ordered pair of a graph with the embedded model, three ways.

1. naive    - one forward pass per pair, full prompt, no batching;
2. batched  - full prompts in batches (right-padded);
3. prefix   - batched, with the shared prompt prefix encoded once and its KV cache reused.

Also measured in the same run: the forward-pass ceiling, tokens/s of the decoder on one large
batch. The prefix path scores all pairs; the two slower paths score a seeded random sample of
them (``--naive-sample``, ``--batched-sample``; 0 = all), and their rates are per pair, so the
ratios compare like with like. Probabilities of the three paths on the common pairs are
compared too: they must agree up to floating-point noise.

Run: ``discolab bench llm --graph alarm`` (or ``python -m discolab.experiments.bench_llm``).
"""

from __future__ import annotations

import argparse
import json
import random
import time

import torch
from discolab.core.graphs import resolve_graph
from discolab.core.igda.prompts import all_edge_questions
from discolab.core.llm.local import LocalBackend, shared_prefix_length
from discolab.core.llm.models import load_model


def forward_ceiling(backend: LocalBackend, batch: int = 16, length: int = 512, repeats: int = 2) -> float:
    """Tokens/s of the decoder body on one large batch of random tokens (no cache, no padding)."""
    model, tokenizer = load_model(backend.model, backend.dtype)
    ids = torch.randint(0, len(tokenizer), (batch, length), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        model.base_model(input_ids=ids[:2, :64])  # warm-up
        start = time.perf_counter()
        for _ in range(repeats):
            model.base_model(input_ids=ids)
    return batch * length * repeats / (time.perf_counter() - start)


def _timed(backend: LocalBackend, prompts) -> tuple[list[float], float]:
    start = time.perf_counter()
    answers = backend.score_yes_no(prompts, progress=True)
    return [a.p_yes for a in answers], time.perf_counter() - start


def run(
    graph: str = "alarm",
    naive_sample: int = 24,
    batched_sample: int = 96,
    batch_size: int = 8,
    dtype: str = "auto",
    seed: int = 0,
) -> dict:
    spec = resolve_graph(graph)
    pairs, prompts = all_edge_questions(spec, seed=seed)
    prefix = LocalBackend(dtype=dtype, batch_size=batch_size, reuse_prefix=True)
    batched = LocalBackend(dtype=dtype, batch_size=batch_size, reuse_prefix=False)
    naive = LocalBackend(dtype=dtype, batch_size=1, reuse_prefix=False)
    load_start = time.perf_counter()
    load_model(prefix.model, dtype)
    load_seconds = time.perf_counter() - load_start

    sequences = [prefix.encode(p) for p in prompts]
    shared = shared_prefix_length(sequences)
    rng = random.Random(seed)
    order = list(range(len(prompts)))
    rng.shuffle(order)

    def sample(n: int) -> list[int]:
        return sorted(order[: n or len(order)])

    prefix.score_yes_no(prompts[:2])  # warm-up
    p_prefix, t_prefix = _timed(prefix, prompts)
    b_idx, n_idx = sample(batched_sample), sample(naive_sample)
    p_batched, t_batched = _timed(batched, [prompts[i] for i in b_idx])
    p_naive, t_naive = _timed(naive, [prompts[i] for i in n_idx])
    ceiling = forward_ceiling(prefix)

    prefix_tokens = shared + sum(len(s) - shared for s in sequences)
    rates = {
        "naive": len(n_idx) / t_naive,
        "batched": len(b_idx) / t_batched,
        "prefix": len(prompts) / t_prefix,
    }
    result = {
        "graph": spec.name,
        "pairs": len(prompts),
        "dtype": str(prefix.identity()["dtype"]),
        "threads": torch.get_num_threads(),
        "seed": seed,
        "batch_size": batch_size,
        "model_load_s": round(load_seconds, 2),
        "prompt_tokens_mean": sum(map(len, sequences)) / len(sequences),
        "shared_prefix_tokens": shared,
        "pairs_scored": {"naive": len(n_idx), "batched": len(b_idx), "prefix": len(prompts)},
        "seconds": {"naive": t_naive, "batched": t_batched, "prefix": t_prefix},
        "pairs_per_s": rates,
        "prefix_tokens_per_s": prefix_tokens / t_prefix,
        "ceiling_tokens_per_s": ceiling,
        "ratio_prefix_vs_naive": rates["prefix"] / rates["naive"],
        "ratio_batched_vs_naive": rates["batched"] / rates["naive"],
        "ratio_prefix_tokens_vs_ceiling": (prefix_tokens / t_prefix) / ceiling,
        "max_abs_diff_prefix_vs_batched": max(abs(p_prefix[i] - p) for i, p in zip(b_idx, p_batched)),
        "max_abs_diff_prefix_vs_naive": max(abs(p_prefix[i] - p) for i, p in zip(n_idx, p_naive)),
    }
    return result


def report(result: dict) -> str:
    r = result
    lines = [
        f"graph {r['graph']}: {r['pairs']} ordered pairs, prompts of {r['prompt_tokens_mean']:.0f} tokens "
        f"on average, {r['shared_prefix_tokens']} of them shared; dtype {r['dtype']}, {r['threads']} threads",
        f"{'path':<9}{'pairs':>7}{'seconds':>10}{'pairs/s':>10}",
    ]
    for path in ("naive", "batched", "prefix"):
        lines.append(f"{path:<9}{r['pairs_scored'][path]:>7}{r['seconds'][path]:>10.1f}{r['pairs_per_s'][path]:>10.2f}")
    lines += [
        f"prefix path processes {r['prefix_tokens_per_s']:.0f} tokens/s; forward ceiling "
        f"{r['ceiling_tokens_per_s']:.0f} tokens/s",
        f"ratio prefix/naive pairs/s:        {r['ratio_prefix_vs_naive']:.1f}x  (target >= 10x)",
        f"ratio batched/naive pairs/s:       {r['ratio_batched_vs_naive']:.1f}x",
        f"ratio prefix tokens/s / ceiling:   {r['ratio_prefix_tokens_vs_ceiling']:.2f}  (target >= 0.5)",
        f"max |P(yes) difference|: prefix vs batched {r['max_abs_diff_prefix_vs_batched']:.4f}, "
        f"prefix vs naive {r['max_abs_diff_prefix_vs_naive']:.4f}",
    ]
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--graph", default="alarm", help="benchmark name or graph file (default alarm)")
    parser.add_argument("--naive-sample", type=int, default=24, help="pairs scored by the naive path (0 = all)")
    parser.add_argument("--batched-sample", type=int, default=96, help="pairs scored by the batched path (0 = all)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def main(args: argparse.Namespace) -> int:
    result = run(args.graph, args.naive_sample, args.batched_sample, args.batch_size, args.dtype, args.seed)
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    raise SystemExit(main(parser.parse_args()))
