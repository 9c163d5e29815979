"""Experimenters: who answers "is u -> v an edge of the true graph?".

- ``oracle``: the truth.
- ``noisy:EPS``: the truth, flipped with probability EPS, independently per edge. The flip of an
  edge is a deterministic function of (seed, edge), so that asking again, or resuming a run,
  gives the same answer.

The human experimenter is not here: it is a pause of the discovery loop (a LangGraph
interrupt) answered in the CLI or the dashboard.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from ..graphs import Edge, GraphSpec


def edge_rng(seed: int, *parts: object) -> random.Random:
    """A random generator determined by the seed and the parts (stable across processes)."""
    digest = hashlib.sha256(repr((seed, *parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


@dataclass(frozen=True)
class OracleExperimenter:
    truth: frozenset[Edge]
    label: str = "oracle"

    def answer(self, edge: Edge) -> bool:
        return edge in self.truth


@dataclass(frozen=True)
class NoisyOracleExperimenter:
    truth: frozenset[Edge]
    eps: float
    seed: int = 0

    @property
    def label(self) -> str:
        return f"noisy:{self.eps:g}"

    def answer(self, edge: Edge) -> bool:
        flip = edge_rng(self.seed, "noisy", *edge).random() < self.eps
        return (edge in self.truth) != flip


def make_experimenter(spec: GraphSpec, name: str, seed: int = 0):
    """An experimenter from its CLI name: ``oracle`` or ``noisy:EPS``."""
    if not spec.has_truth:
        raise ValueError(f"experimenter {name!r} needs the true graph, and {spec.name!r} has no edges")
    truth = frozenset(spec.edges)
    if name == "oracle":
        return OracleExperimenter(truth)
    if name.startswith("noisy:"):
        try:
            eps = float(name.split(":", 1)[1])
        except ValueError:
            eps = -1.0
        if not 0.0 <= eps <= 0.5:
            raise ValueError(f"noisy experimenter needs 0 <= EPS <= 0.5, got {name!r}")
        return NoisyOracleExperimenter(truth, eps, seed)
    raise ValueError(f"unknown experimenter {name!r}; choose oracle, noisy:EPS or human")
