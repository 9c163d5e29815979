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
  capped cycles; a fused prior's refit of its weights): :func:`select_lookahead`, given an
  ``entropy_after(edge, answer)`` that returns H_total after (for the discovery loop,
  :class:`~discolab.core.igda.lookahead.EntropyAfter`, which computes it with arrays). One step
  ahead, each edge on its own (the k best gains, not the best set of k), every untested edge
  simulated. Without any update, gain(e) = H(p_e) and this is uncertainty selection.

Ties are broken at random (seeded), so that equal beliefs do not fall back to file order;
entropies equal to 12 decimals are ties (H(p) and H(1 - p) differ only by rounding).
:func:`select_rows` works on arrays, one entry per pair (the discovery loop's layout, where a
1,000-variable problem has 999,000 pairs); :func:`select_edges` is the same on a mapping.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Collection, Mapping

import numpy as np
from scipy.special import entr

from ..graphs import Edge

STRATEGIES = ("uncertainty", "random", "confident", "bootstrap", "lookahead")


def bernoulli_entropy(p: float) -> float:
    """H(p) in nats; 0 at p in {0, 1}, log 2 at p = 1/2."""
    if p <= 0.0 or p >= 1.0:
        return 0.0
    return -(p * math.log(p) + (1 - p) * math.log(1 - p))


def entropies(p: np.ndarray) -> np.ndarray:
    """Bernoulli entropy H(p) in nats, elementwise; 0 at p in {0, 1}."""
    p = np.asarray(p, dtype=float)
    return entr(p) + entr(1.0 - p)


def select_rows(beliefs: np.ndarray, open_rows: np.ndarray, k: int, strategy: str = "uncertainty", seed: int = 0):
    """Up to ``k`` indices of the entries of ``beliefs`` where the mask ``open_rows`` is True (the
    pairs not tested or otherwise settled), chosen by ``strategy``; fewer when fewer are open."""
    if strategy not in STRATEGIES or strategy == "lookahead":  # lookahead needs a simulator: select_lookahead
        raise ValueError(f"unknown strategy {strategy!r}; choose from {', '.join(STRATEGIES[:4])}")
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    candidates = np.flatnonzero(open_rows)
    order = candidates[np.random.default_rng(seed).permutation(len(candidates))]  # seeded tie-break
    if strategy == "random":
        return order[:k]
    uncertainty = np.round(entropies(np.asarray(beliefs, dtype=float)[order]), 12)
    return order[smallest(uncertainty if strategy == "confident" else -uncertainty, k)]


def smallest(key: np.ndarray, k: int) -> np.ndarray:
    """The positions of the ``k`` smallest entries of ``key``, ties in order of position: the
    first k of a stable argsort, in O(len(key)) time (a partition, then a sort of k entries)."""
    if k >= len(key):
        return np.argsort(key, kind="stable")
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    kth = np.partition(key, k - 1)[k - 1]
    below = np.flatnonzero(key < kth)
    chosen = np.concatenate([below, np.flatnonzero(key == kth)[: k - len(below)]])
    return chosen[np.argsort(key[chosen], kind="stable")]


def select_edges(
    beliefs: Mapping[Edge, float],
    tested: Collection[Edge],
    k: int,
    strategy: str = "uncertainty",
    seed: int = 0,
) -> list[Edge]:
    """:func:`select_rows` on a mapping of beliefs: up to ``k`` untested edges."""
    edges = sorted(beliefs)
    tested = set(tested)
    open_rows = np.array([e not in tested for e in edges], dtype=bool)
    rows = select_rows(np.array([beliefs[e] for e in edges], dtype=float), open_rows, k, strategy, seed)
    return [edges[i] for i in rows]


def total_entropy(beliefs: Mapping[Edge, float], settled: Collection[Edge]) -> float:
    """The sum of H(p) over the beliefs of the pairs not settled."""
    return sum(bernoulli_entropy(p) for e, p in beliefs.items() if e not in settled)


def lookahead_gains(
    beliefs: Mapping[Edge, float],
    settled: Collection[Edge],
    entropy_after: Callable[[Edge, bool], float],
) -> dict[Edge, float]:
    """gain(e) for every unsettled edge (the module's docstring); ``entropy_after(edge, answer)`` is
    the total entropy of the beliefs left unsettled once ``edge`` is answered."""
    settled = set(settled)
    now = total_entropy(beliefs, settled)
    gains = {}
    for edge, p in beliefs.items():
        if edge not in settled:
            gains[edge] = now - (p * entropy_after(edge, True) + (1 - p) * entropy_after(edge, False))
    return gains


def select_lookahead(
    beliefs: Mapping[Edge, float],
    settled: Collection[Edge],
    k: int,
    entropy_after: Callable[[Edge, bool], float],
    seed: int = 0,
) -> list[Edge]:
    """The ``k`` edges of largest one-step expected entropy reduction (ties broken at random)."""
    gains = lookahead_gains(beliefs, settled, entropy_after)
    order = sorted(gains)
    random.Random(seed).shuffle(order)
    # gains equal up to rounding are ties: the seeded order decides, not the order of a float sum
    return sorted(order, key=lambda e: -round(gains[e], 9))[:k]
