"""Experimenters: who answers "is u -> v an edge of the true graph?".

- ``oracle``: the truth.
- ``noisy:EPS``: the truth, flipped with probability EPS, independently per edge. The flip of an
  edge is a deterministic function of (seed, edge), so that asking again, or resuming a run,
  gives the same answer.
- ``interventional[:N]``: a simulated randomized experiment on the benchmark's Bayesian
  network (see :class:`InterventionalExperimenter`); its answer comes from data, not the truth.
- ``data:FILE``: the user's interventional data (:mod:`.data_experimenter`).

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


@dataclass(frozen=True)
class InterventionalExperimenter:
    """Does u directly cause v? Answered by a simulated controlled experiment.

    Intervening on u alone would detect any directed path u ~> v, not a direct edge. To target
    the direct edge, the experiment clamps every other variable too (a controlled direct
    effect, Pearl 2001): for each of ``n_samples`` units, a context z is forward-sampled from
    the network (pgmpy), u is set uniformly at random over its states, all other variables are
    held at z, and v is drawn from its own mechanism P(v | parents(v)) evaluated at (u, z).
    Then v depends on u only if u is a parent of v, and a chi-square test of independence
    between the assigned u and the observed v, at level ``alpha``, gives the answer. Errors:
    false positives at rate about alpha; false negatives where u's effect on v is weak for the
    sample size (or cancels across contexts). Seeded per (seed, edge).
    """

    spec: GraphSpec
    n_samples: int = 500
    alpha: float = 0.01
    seed: int = 0

    @property
    def label(self) -> str:
        return f"interventional:{self.n_samples}"

    def answer(self, edge: Edge) -> bool:
        import numpy as np
        from scipy.stats import chi2_contingency

        from .data_prior import observational_samples

        u, v = edge
        rng = np.random.default_rng(edge_rng(self.seed, "intervene", u, v).randrange(2**63))
        contexts = observational_samples(self.spec, self.n_samples, int(rng.integers(2**31)))
        cpd = _mechanism(self.spec, v)
        states_u = list(contexts[u].cat.categories) if hasattr(contexts[u], "cat") else sorted(set(contexts[u]))
        assigned = rng.integers(len(states_u), size=self.n_samples)
        contexts = contexts.astype(object)
        contexts[u] = [states_u[i] for i in assigned]
        parents = cpd["parents"]
        index = tuple(np.array([cpd["states"][p].index(x) for x in contexts[p]]) for p in parents)
        probabilities = (
            cpd["values"][(slice(None), *index)].T if parents else np.tile(cpd["values"], (self.n_samples, 1))
        )
        draws = (probabilities.cumsum(1) > rng.random((self.n_samples, 1))).argmax(1)
        table = np.zeros((len(states_u), probabilities.shape[1]))
        np.add.at(table, (assigned, draws), 1)
        table = table[:, table.sum(0) > 0]
        if table.shape[1] < 2 or (table.sum(1) == 0).any():
            return False  # v did not vary: no evidence of an effect
        return bool(chi2_contingency(table).pvalue < self.alpha)


def _mechanism(spec: GraphSpec, variable: str) -> dict:
    """P(variable | parents) of the benchmark network, under the spec's variable names."""
    from ..graphs.benchmarks import benchmark_network

    network, to_spec = benchmark_network(spec)
    to_network = {name: original for original, name in to_spec.items()}
    cpd = network.get_cpds(to_network[variable])
    parents = [to_spec[p] for p in cpd.variables[1:]]
    states = {to_spec[k]: list(vals) for k, vals in cpd.state_names.items()}
    return {"parents": parents, "states": states, "values": cpd.values}


def parse_experimenter(name: str) -> tuple[str, float | int | None]:
    """``oracle``, ``noisy:EPS`` (0 <= EPS <= 0.5), ``interventional[:N]`` (N >= 20) or
    ``data:FILE`` as (kind, parameter); a ``ValueError`` naming the problem otherwise."""
    kind, _, value = name.partition(":")
    if kind == "data":
        if not value.strip():
            raise ValueError(f"experimenter {name!r}: data:FILE names a table of interventional data")
        return kind, value.strip()
    if kind == "oracle" and not value:
        return kind, None
    if kind == "interventional":
        if not value:
            return kind, 500
        if value.isdigit() and 20 <= int(value) <= 1_000_000:
            return kind, int(value)
        raise ValueError(f"experimenter {name!r}: interventional[:N] needs 20 <= N <= 1000000 samples")
    if kind == "noisy":
        try:
            eps = float(value)
        except ValueError:
            eps = float("nan")
        if 0.0 <= eps <= 0.5:
            return kind, eps
        raise ValueError(f"experimenter {name!r}: noisy:EPS needs a flip probability 0 <= EPS <= 0.5")
    raise ValueError(f"experimenter {name!r}: choose oracle, noisy:EPS, interventional[:N], data:FILE or human")


def make_experimenter(spec: GraphSpec, name: str, seed: int = 0):
    """An experimenter from its CLI name: ``oracle``, ``noisy:EPS`` or ``interventional[:N]``."""
    kind, parameter = parse_experimenter(name)
    if kind == "interventional":
        return InterventionalExperimenter(spec, parameter, seed=seed)
    if kind == "data":
        from .data_experimenter import load_interventions

        return load_interventions(parameter, spec)
    if not spec.has_truth:
        raise ValueError(f"experimenter {name!r} needs the true graph, and {spec.name!r} has no edges")
    truth = frozenset(spec.edges)
    if kind == "oracle":
        return OracleExperimenter(truth)
    return NoisyOracleExperimenter(truth, parameter, seed)
