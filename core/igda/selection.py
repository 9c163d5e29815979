"""Which untested edges to experiment on next.

Strategies, each picking ``k`` edges not tested before:

- ``uncertainty`` (IGDA): the largest Bernoulli entropy
  H(p) = -p log p - (1 - p) log(1 - p), i.e. beliefs closest to 1/2;
- ``random``: uniformly at random (seeded);
- ``confident``: the smallest entropy (the edges the prior is surest of), an ablation;
- ``bootstrap``: the largest entropy of the subsampling frequency of the edge under PC on
  observational data (:func:`~discolab.core.igda.data_prior.bootstrap_edge_frequencies`):
  a numerical strategy that uses data, not the LLM. Pass those frequencies as ``beliefs``.

Ties are broken at random (seeded), so that equal beliefs do not fall back to file order.
"""

from __future__ import annotations

import math
import random
from collections.abc import Collection, Mapping

from ..graphs import Edge

STRATEGIES = ("uncertainty", "random", "confident", "bootstrap")


def bernoulli_entropy(p: float) -> float:
    """H(p) in nats; 0 at p in {0, 1}, log 2 at p = 1/2."""
    if p <= 0.0 or p >= 1.0:
        return 0.0
    return -(p * math.log(p) + (1 - p) * math.log(1 - p))


def select_edges(
    beliefs: Mapping[Edge, float],
    tested: Collection[Edge],
    k: int,
    strategy: str = "uncertainty",
    seed: int = 0,
) -> list[Edge]:
    """Up to ``k`` untested edges chosen by ``strategy`` (fewer when fewer remain)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose from {', '.join(STRATEGIES)}")
    tested = set(tested)
    candidates = sorted(e for e in beliefs if e not in tested)
    rng = random.Random(seed)
    rng.shuffle(candidates)  # seeded tie-break
    if strategy == "random":
        return candidates[:k]
    sign = 1.0 if strategy == "confident" else -1.0
    return sorted(candidates, key=lambda e: sign * bernoulli_entropy(beliefs[e]))[:k]
