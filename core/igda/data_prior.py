"""Data-driven priors: causal-learn's PC and GES on observational data.

The data is the user's table (:mod:`.observations`: the test and score follow the column types)
or rows forward-sampled from a benchmark's Bayesian network with pgmpy (seeded; all discrete).
PC (chi-square or Fisher-z tests, level ``alpha``) or GES (BDeu or BIC score) returns a CPDAG;
its marks become beliefs:

    directed i -> j:   P(i -> j) = 0.9,  P(j -> i) = 0.1
    undirected i - j:  P(i -> j) = P(j -> i) = 0.5   (the data cannot orient it)
    not adjacent:      P(i -> j) = P(j -> i) = 0.05

so that uncertainty selection spends experiments on the edges the data leaves unoriented.
References: Spirtes, Glymour & Scheines (2000) for PC; Chickering (2002) for GES; Zheng et al.
(2024), causal-learn, JMLR 25(60).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..errors import DiscolabError, GraphFileError
from ..graphs import Edge, GraphSpec
from ..graphs.benchmarks import benchmark_network
from .observations import Observations, sampled_observations
from .prior import Beliefs

DATA_PRIORS = ("pc", "ges")
DIRECTED, REVERSED, UNDIRECTED, ABSENT = 0.9, 0.1, 0.5, 0.05
UNKNOWN = 0.5  # a pair the data cannot speak to (a constant column in a small sample)


def observational_samples(spec: GraphSpec, n_samples: int, seed: int = 0) -> pd.DataFrame:
    """``n_samples`` rows forward-sampled from the benchmark network, columns named as in ``spec``."""
    try:
        network, mapping = benchmark_network(spec)
    except GraphFileError as err:
        raise DiscolabError(f"a data-driven prior or experiment needs a benchmark network: {err}") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = network.simulate(n_samples, seed=seed, show_progress=False)
    frame = frame.rename(columns=mapping)
    return frame[spec.names]


def benchmark_observations(spec: GraphSpec, n_samples: int, seed: int = 0) -> Observations:
    """``n_samples`` rows sampled from the benchmark's network, as :class:`Observations`."""
    frame = observational_samples(spec, n_samples, seed)
    return sampled_observations(spec, frame, f"{spec.name}: {n_samples} rows sampled from its network (seed {seed})")


def data_driven_beliefs(
    observations: Observations, method: str = "pc", alpha: float = 0.05, known: dict[Edge, bool] | None = None
) -> Beliefs:
    """Beliefs from the CPDAG that PC or GES finds on the observations. ``known`` pairs (True:
    required, False: forbidden) constrain PC's search as causal-learn's background knowledge;
    GES has no such input in causal-learn, and the caller fixes those beliefs afterwards."""
    if method not in DATA_PRIORS:
        raise ValueError(f"unknown data-driven prior {method!r}; choose from {', '.join(DATA_PRIORS)}")
    everyone = list(observations.frame.columns)
    observations = observations.varying()
    matrix = observations.matrix()
    names = list(observations.frame.columns)
    known = {e: p for e, p in (known or {}).items() if e[0] in names and e[1] in names}
    if method == "pc":
        from causallearn.search.ConstraintBased.PC import pc

        knowledge = background_knowledge(names, known or {})
        marks = pc(matrix, alpha, observations.test, background_knowledge=knowledge, show_progress=False).G.graph
    else:
        from causallearn.search.ScoreBased.GES import ges

        marks = ges(matrix, score_func=observations.score)["G"].graph
    beliefs: Beliefs = {}
    for i, u in enumerate(names):
        for j, v in enumerate(names):
            if i == j:
                continue
            # causal-learn: graph[i, j] = -1 and graph[j, i] = 1 means i -> j; both -1: i - j.
            if marks[i, j] == -1 and marks[j, i] == 1:
                beliefs[(u, v)] = DIRECTED
            elif marks[i, j] == 1 and marks[j, i] == -1:
                beliefs[(u, v)] = REVERSED
            elif marks[i, j] == -1 and marks[j, i] == -1:
                beliefs[(u, v)] = UNDIRECTED
            else:
                beliefs[(u, v)] = ABSENT
    return with_unknown(beliefs, everyone)


def with_unknown(beliefs: Beliefs, names: list[str]) -> Beliefs:
    """``beliefs`` with every other ordered pair of ``names`` at 1/2: a constant column's pairs,
    on which the data say nothing."""
    return {(u, v): beliefs.get((u, v), UNKNOWN) for u in names for v in names if u != v}


def background_knowledge(names: list[str], known: dict[Edge, bool]):
    """causal-learn's BackgroundKnowledge for ``known`` pairs, over PC's nodes X1..Xn; None if none."""
    if not known:
        return None
    from causallearn.graph.GraphNode import GraphNode
    from causallearn.utils.PCUtils.BackgroundKnowledge import BackgroundKnowledge

    node = {name: GraphNode(f"X{i + 1}") for i, name in enumerate(names)}
    knowledge = BackgroundKnowledge()
    for (u, v), present in known.items():
        if present:
            knowledge.add_required_by_node(node[u], node[v])
        else:
            knowledge.add_forbidden_by_node(node[u], node[v])
    return knowledge


def bootstrap_edge_frequencies(
    observations: Observations, n_boot: int = 20, seed: int = 0, alpha: float = 0.05, known: dict | None = None
) -> Beliefs:
    """How often PC finds u -> v across random halves of the observational data.

    Undirected CPDAG edges count 1/2 for each direction. A frequency near 1/2 marks an edge
    the data is unsure of: the ``bootstrap`` selection strategy tests those first (a numerical,
    LLM-free counterpart of uncertainty selection; Friedman, Goldszmidt & Wyner, 1999).
    The resamples are halves drawn without replacement (subsampling, as in stability selection,
    Meinshausen & Buhlmann, 2010) rather than classic bootstrap samples: duplicated rows make
    chi-square tests find spurious dependence, which biases PC and slows it ~15x on child.
    """
    from causallearn.search.ConstraintBased.PC import pc

    everyone = list(observations.frame.columns)
    observations = observations.varying()
    matrix = observations.matrix()
    names = list(observations.frame.columns)
    known = {e: p for e, p in (known or {}).items() if e[0] in names and e[1] in names}
    knowledge = background_knowledge(names, known)
    rng = np.random.default_rng(seed)
    counts = np.zeros((len(names), len(names)))
    for _ in range(n_boot):
        rows = rng.choice(len(matrix), size=len(matrix) // 2, replace=False)
        marks = pc(matrix[rows], alpha, observations.test, background_knowledge=knowledge, show_progress=False).G.graph
        directed = (marks == -1) & (marks.T == 1)
        undirected = (marks == -1) & (marks.T == -1)
        counts += directed + 0.5 * undirected
    found = {(u, v): float(counts[i, j] / n_boot) for i, u in enumerate(names) for j, v in enumerate(names) if i != j}
    return with_unknown(found, everyone)
