"""Benchmark graphs, user graph files, and graph metrics."""

from .benchmarks import BENCHMARKS, load_bayesian_network, load_benchmark, resolve_graph
from .metrics import GraphMetrics, edge_auroc, precision_recall_f1, score_graph, structural_hamming_distance
from .spec import Edge, GraphSpec, Variable, load_graph_file

__all__ = [
    "edge_auroc",
    "BENCHMARKS",
    "Edge",
    "GraphMetrics",
    "GraphSpec",
    "Variable",
    "load_bayesian_network",
    "load_benchmark",
    "load_graph_file",
    "precision_recall_f1",
    "resolve_graph",
    "score_graph",
    "structural_hamming_distance",
]
