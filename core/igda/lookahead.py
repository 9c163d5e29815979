"""The total entropy of the beliefs after one more answer, with arrays: what lookahead selection
(:func:`~discolab.core.igda.selection.lookahead_gains`) asks for every untested edge and answer.

With n variables there are n(n - 1) candidates and two answers each, so each simulated answer
must cost far less than recomputing every belief. Two updates follow an answer:

- the structural update caps at ``floor`` every untested pair (x, y) whose edge would close a
  cycle with the confirmed edges, i.e. x is a descendant of y. A "yes" on (u, v) adds only the
  caps whose cycle runs through u -> v: x in desc(v) + {v}, y in anc(u) + {u} (ancestors and
  descendants in the confirmed graph before the answer); a "no" adds none. So the entropy after
  a "yes" is the entropy now less the new caps' drops, O(|anc(u)| |desc(v)|) per edge;
- a fused prior's weights are refitted to the answers (``refit(edge, answer)`` returns every
  pair's fused belief, before caps), after which the existing caps and the new ones apply
  (O(pairs) in NumPy per answer, the refit's small logistic regression apart).

Settled pairs (tested, known, untestable) carry no entropy; the simulated edge becomes settled.
The result equals applying :func:`~discolab.core.igda.updates.structural_update` (and the refit)
to the full beliefs and summing H over the unsettled pairs (``tests/test_fusion.py`` checks it;
``experiments/bench_lookahead.py`` times both).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence

import networkx as nx
import numpy as np

from ..graphs import Edge
from .selection import entropies
from .updates import CYCLE_FLOOR


class EntropyAfter:
    """``entropy_after(edge, answer)``: the total entropy of the unsettled beliefs once ``edge``
    is answered (the module's docstring).

    ``pairs`` and ``beliefs``: every ordered pair and its belief now (caps of the confirmed edges
    applied). ``confirmed``: the edges known present (tested yes, required). ``structural``:
    whether the structural update follows an answer. ``refit``: for a fused prior, the fused
    beliefs (uncapped) after the answer; None when no refit follows.
    """

    def __init__(
        self,
        pairs: Sequence[Edge],
        beliefs: Sequence[float],
        settled: Collection[Edge],
        confirmed: Iterable[Edge],
        structural: bool,
        refit: Callable[[Edge, bool], np.ndarray] | None = None,
        floor: float = CYCLE_FLOOR,
    ):
        self.index = {tuple(e): i for i, e in enumerate(pairs)}
        self.beliefs = np.asarray(beliefs, dtype=float)
        self.open = np.ones(len(self.index), dtype=bool)
        self.open[[self.index[e] for e in settled if e in self.index]] = False
        self.structural, self.refit, self.floor = structural, refit, floor
        graph = nx.DiGraph(list(confirmed))
        self.ancestors = {node: nx.ancestors(graph, node) | {node} for node in graph}
        self.descendants = {node: nx.descendants(graph, node) | {node} for node in graph}
        # the pairs the confirmed edges cap already (x a descendant of y): a refit's beliefs need them again
        self.capped = self._pairs(
            (x, y) for y, below in self.descendants.items() for x in below if x != y and (x, y) in self.index
        )
        self.now = entropies(self.beliefs)
        self.total = float(self.now[self.open].sum())

    def _pairs(self, edges: Iterable[Edge]) -> np.ndarray:
        return np.fromiter((self.index[e] for e in edges), dtype=np.int64)

    def new_caps(self, edge: Edge) -> np.ndarray:
        """The pairs a confirmed ``edge`` = (u, v) caps that were not capped: (x, y), x below v, y above u."""
        u, v = edge
        above, below = self.ancestors.get(u, {u}), self.descendants.get(v, {v})
        return self._pairs((x, y) for x in below for y in above if x != y and (x, y) in self.index)

    def __call__(self, edge: Edge, answer: bool) -> float:
        i = self.index[edge]
        caps = self.new_caps(edge) if (self.structural and answer) else np.empty(0, dtype=np.int64)
        if self.refit is None:  # only the edge itself and the new caps change
            caps = caps[self.open[caps] & (caps != i)]
            drop = self.now[caps] - entropies(np.minimum(self.beliefs[caps], self.floor))
            return self.total - float(self.now[i]) * bool(self.open[i]) - float(drop.sum())
        beliefs = np.array(self.refit(edge, answer), dtype=float)
        if self.structural:
            capped = np.concatenate([self.capped, caps])
            beliefs[capped] = np.minimum(beliefs[capped], self.floor)
        open_after = self.open.copy()
        open_after[i] = False
        return float(entropies(beliefs[open_after]).sum())
