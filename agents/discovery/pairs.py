"""A run's ordered pairs as rows of arrays, the layout the nodes compute on.

A run keeps one belief per ordered pair (u, v), u != v, in the order of ``sorted(pairs)``: with
the variables sorted, u's pairs are the rows i (n - 1) .. i (n - 1) + n - 2 (i the position of u),
and v's place among them is its position, less one past u. So a pair's row is arithmetic, with
no n(n - 1)-entry dictionary, and the nodes work on NumPy arrays: at 1,000 variables a round
touches 999,000 beliefs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np
from discolab.core.graphs import Edge


class PairIndex:
    """Rows of the ordered pairs of ``names`` (laid out as ``sorted(ordered pairs)``)."""

    def __init__(self, names: Sequence[str]):
        self.names = sorted(names)
        self.n = len(self.names)
        self.position = {name: i for i, name in enumerate(self.names)}

    def __len__(self) -> int:
        return self.n * (self.n - 1)

    def rows(self, edges: Iterable[Edge]) -> np.ndarray:
        """The row of each (u, v) in ``edges``, in their order."""
        ends = np.array([(self.position[u], self.position[v]) for u, v in edges], dtype=np.int64).reshape(-1, 2)
        u, v = ends[:, 0], ends[:, 1]
        return u * (self.n - 1) + v - (v > u)

    def edges(self, rows: Iterable[int]) -> list[Edge]:
        """The (u, v) of each row, in their order."""
        rows = np.asarray(rows, dtype=np.int64)
        u, rest = np.divmod(rows, self.n - 1)
        v = rest + (rest >= u)
        return [(self.names[i], self.names[j]) for i, j in zip(u.tolist(), v.tolist())]


@lru_cache(maxsize=8)
def pair_index(names: tuple[str, ...]) -> PairIndex:
    """The :class:`PairIndex` of a run's variables (cached: every node asks for it)."""
    return PairIndex(names)
