"""Scores of a predicted directed graph against the true one.

With true edge set E* and predicted edge set E (ordered pairs, no self-loops)::

    precision = |E & E*| / |E|          recall = |E & E*| / |E*|
    F1        = 2 P R / (P + R)         (0 when P + R = 0; P = 1 when E is empty)

SHD (structural Hamming distance) counts, over unordered pairs {u, v}, those whose state
differs between the graphs, a state being one of: no edge, u -> v, v -> u, or both
directions (a prediction may hold a 2-cycle). A reversed edge therefore costs 1, a missing
or extra edge 1 (Tsamardinos et al., 2006; the ``double_for_anticausal=False`` convention of
the Causal Discovery Toolbox). Skeleton scores compare undirected adjacencies.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

Edge = tuple[str, str]


@dataclass(frozen=True)
class GraphMetrics:
    precision: float
    recall: float
    f1: float
    shd: int
    skeleton_precision: float
    skeleton_recall: float
    skeleton_f1: float
    n_predicted: int
    n_true: int

    def as_dict(self) -> dict:
        return asdict(self)


def precision_recall_f1(true: set, predicted: set) -> tuple[float, float, float]:
    """Precision, recall and F1 of a predicted set against a true set."""
    hits = len(true & predicted)
    precision = hits / len(predicted) if predicted else 1.0
    recall = hits / len(true) if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, f1


def structural_hamming_distance(true_edges: Iterable[Edge], predicted_edges: Iterable[Edge]) -> int:
    """SHD over unordered pairs: a reversal, a missing, or an extra edge each cost 1."""
    true, predicted = set(true_edges), set(predicted_edges)
    pairs = {frozenset(e) for e in true | predicted}

    def state(edges: set, u: str, v: str) -> tuple[bool, bool]:
        return ((u, v) in edges, (v, u) in edges)

    distance = 0
    for pair in pairs:
        u, v = sorted(pair)
        distance += state(true, u, v) != state(predicted, u, v)
    return distance


def score_graph(true_edges: Iterable[Edge], predicted_edges: Iterable[Edge]) -> GraphMetrics:
    """Directed and skeleton precision/recall/F1 and SHD of a prediction."""
    true, predicted = set(true_edges), set(predicted_edges)
    for u, v in true | predicted:
        if u == v:
            raise ValueError(f"self-loop {u} -> {v} is not a valid edge")
    p, r, f = precision_recall_f1(true, predicted)
    sp, sr, sf = precision_recall_f1({frozenset(e) for e in true}, {frozenset(e) for e in predicted})
    return GraphMetrics(
        precision=p,
        recall=r,
        f1=f,
        shd=structural_hamming_distance(true, predicted),
        skeleton_precision=sp,
        skeleton_recall=sr,
        skeleton_f1=sf,
        n_predicted=len(predicted),
        n_true=len(true),
    )


def edge_auroc(true_edges: Iterable[Edge], beliefs: dict[Edge, float]) -> float:
    """Area under the ROC curve of the beliefs P(u -> v) as a ranking of the ordered pairs against
    the true directed edges: the probability that a random true edge outranks a random non-edge
    (ties count 1/2). Threshold-free, so it compares priors whose calibration differs. NaN when
    all pairs are edges or none is."""
    from sklearn.metrics import roc_auc_score

    true = set(true_edges)
    labels = [e in true for e in beliefs]
    if all(labels) or not any(labels):
        return float("nan")
    return float(roc_auc_score(labels, list(beliefs.values())))
