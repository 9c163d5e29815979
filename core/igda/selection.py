"""Which untested edges to experiment on next.

Strategies, each picking ``k`` edges not tested before:

- ``uncertainty`` (IGDA): the largest Bernoulli entropy
  H(p) = -p log p - (1 - p) log(1 - p), i.e. beliefs closest to 1/2;
- ``random``: uniformly at random (seeded);
- ``confident``: the smallest entropy (the edges the prior is surest of), an ablation;
- ``bootstrap``: the largest entropy of the subsampling frequency of the edge under PC on
  observational data (:func:`~discolab.core.igda.data_prior.bootstrap_edge_frequencies`):
  a numerical strategy that uses data, not the LLM. Pass those frequencies as ``beliefs``.
- ``lookahead``: the largest expected reduction of the total entropy of the untested beliefs,

      gain(e) = H_total(now) - [p_e H_total(after yes on e) + (1 - p_e) H_total(after no on e)],

  where "after" applies the update that would follow the answer (the structural update's
  capped cycles; a fused prior's refit of its weights): :func:`select_lookahead`, given a
  ``simulate(edge, answer)`` that returns those beliefs. One step ahead, each edge on its own
  (the k best gains, not the best set of k). Without any update, gain(e) = H(p_e) and this is
  uncertainty selection. Every untested edge is simulated by default; ``limit`` simulates only
  that many of the most uncertain ones, an approximation that ``experiments/bench_lookahead.py``
  measured and rejected: on child, insurance and alarm its picks reach 10-49% of the best
  expected gain (it is exact on graphs with at most 64 untested pairs, and it matched on sachs).

Ties are broken at random (seeded), so that equal beliefs do not fall back to file order.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Collection, Mapping

from ..graphs import Edge

STRATEGIES = ("uncertainty", "random", "confident", "bootstrap", "lookahead")
LOOKAHEAD_LIMIT: int | None = None  # simulate every untested edge (see the docstring)


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
    if strategy not in STRATEGIES or strategy == "lookahead":  # lookahead needs a simulator: select_lookahead
        raise ValueError(f"unknown strategy {strategy!r}; choose from {', '.join(STRATEGIES[:4])}")
    tested = set(tested)
    candidates = sorted(e for e in beliefs if e not in tested)
    rng = random.Random(seed)
    rng.shuffle(candidates)  # seeded tie-break
    if strategy == "random":
        return candidates[:k]
    sign = 1.0 if strategy == "confident" else -1.0
    return sorted(candidates, key=lambda e: sign * bernoulli_entropy(beliefs[e]))[:k]


def total_entropy(beliefs: Mapping[Edge, float], settled: Collection[Edge]) -> float:
    """The sum of H(p) over the beliefs of the pairs not settled."""
    return sum(bernoulli_entropy(p) for e, p in beliefs.items() if e not in settled)


def lookahead_gains(
    beliefs: Mapping[Edge, float],
    settled: Collection[Edge],
    simulate: Callable[[Edge, bool], Mapping[Edge, float]],
    limit: int | None = LOOKAHEAD_LIMIT,
) -> dict[Edge, float]:
    """gain(e) for the ``limit`` most uncertain unsettled edges (the module's docstring)."""
    settled = set(settled)
    candidates = sorted((e for e in beliefs if e not in settled), key=lambda e: -bernoulli_entropy(beliefs[e]))
    now = total_entropy(beliefs, settled)
    gains = {}
    for edge in candidates[:limit]:
        after = {*settled, edge}
        p = beliefs[edge]
        yes, no = total_entropy(simulate(edge, True), after), total_entropy(simulate(edge, False), after)
        expected = p * yes + (1 - p) * no
        gains[edge] = now - expected
    return gains


def select_lookahead(
    beliefs: Mapping[Edge, float],
    settled: Collection[Edge],
    k: int,
    simulate: Callable[[Edge, bool], Mapping[Edge, float]],
    seed: int = 0,
    limit: int | None = LOOKAHEAD_LIMIT,
) -> list[Edge]:
    """The ``k`` edges of largest one-step expected entropy reduction (ties broken at random)."""
    gains = lookahead_gains(beliefs, settled, simulate, limit)
    order = sorted(gains)
    random.Random(seed).shuffle(order)
    return sorted(order, key=lambda e: -gains[e])[:k]
