"""A discovered graph in the formats other tools read: JSON, DOT, GraphML, GML, DAGitty and BIF.

The graph is a ``networkx.DiGraph`` whose nodes carry ``description`` and whose edges carry
``belief`` (the probability the run holds for the edge; 1 once an experiment confirmed it),
``status`` (``confirmed`` by an experiment, ``known`` from background knowledge, or ``predicted``
above the threshold) and, optionally,
``provenance`` (a list of plain records; kept in JSON only, as the other formats hold scalars).

- JSON: nodes and edges with every attribute, provenance included.
- DOT (through pydot), GraphML and GML (networkx's writers): belief and status as edge attributes.
- DAGitty: the model syntax of dagitty.net and the R package, ``dag { a -> b }``.
- BIF: the graph with conditional probability tables fitted by pgmpy (maximum likelihood with a
  BDeu prior, so unseen parent configurations get a proper distribution) on discrete data.
"""

from __future__ import annotations

import json
import re
import warnings

import networkx as nx
import pandas as pd

from ..errors import DiscolabError

FORMATS = ("json", "dot", "graphml", "gml", "dagitty", "bif")
SCALAR_EDGE_ATTRIBUTES = ("belief", "status")


def export_graph(graph: nx.DiGraph, fmt: str, data: pd.DataFrame | None = None, name: str = "discolab") -> str:
    """``graph`` as the text of format ``fmt`` (one of :data:`FORMATS`); BIF needs ``data``."""
    if fmt not in FORMATS:
        raise DiscolabError(f"unknown format {fmt!r}: choose from {', '.join(FORMATS)}")
    if fmt == "json":
        return to_json(graph, name)
    if fmt == "dagitty":
        return to_dagitty(graph)
    if fmt == "bif":
        return to_bif(graph, data)
    plain = _scalar_copy(graph)
    if fmt == "dot":
        return nx.nx_pydot.to_pydot(plain).to_string()
    if fmt == "graphml":
        return "\n".join(nx.generate_graphml(plain)) + "\n"
    return "\n".join(nx.generate_gml(plain)) + "\n"


def to_json(graph: nx.DiGraph, name: str = "discolab") -> str:
    nodes = [{"name": node, **attributes} for node, attributes in graph.nodes(data=True)]
    edges = [{"cause": u, "effect": v, **attributes} for u, v, attributes in graph.edges(data=True)]
    return json.dumps({"name": name, "nodes": nodes, "edges": edges}, indent=2) + "\n"


def to_dagitty(graph: nx.DiGraph) -> str:
    """``dag { ... }`` with every node (isolated ones too) and every edge; names that are not plain
    identifiers are quoted, as dagitty's parser allows."""
    lines = ["dag {"]
    lines += [f"  {_dagitty_name(node)}" for node in graph.nodes]
    lines += [f"  {_dagitty_name(u)} -> {_dagitty_name(v)}" for u, v in graph.edges]
    return "\n".join(lines + ["}"]) + "\n"


def to_bif(graph: nx.DiGraph, data: pd.DataFrame | None) -> str:
    """A Bayesian network in BIF: the graph's structure, CPTs fitted on ``data`` (one column per
    node, discrete values). The graph must be acyclic."""
    from pgmpy.estimators import BayesianEstimator
    from pgmpy.models import DiscreteBayesianNetwork
    from pgmpy.readwrite import BIFWriter

    if data is None:
        raise DiscolabError("BIF holds probability tables, and this run has no discrete data to fit them on")
    if not nx.is_directed_acyclic_graph(graph):
        raise DiscolabError("BIF needs an acyclic graph: export with --acyclic")
    missing = [node for node in graph.nodes if node not in data.columns]
    if missing:
        raise DiscolabError(f"the data has no column for {', '.join(map(repr, missing[:5]))}")
    network = DiscreteBayesianNetwork(list(graph.edges))
    network.add_nodes_from(graph.nodes)
    frame = data[list(graph.nodes)].astype(str)  # states by name, whatever their type in the data
    with warnings.catch_warnings():  # pgmpy<1.3 announces its next API on every call
        warnings.simplefilter("ignore", FutureWarning)
        estimator = BayesianEstimator(network, frame)
        network.add_cpds(*estimator.get_parameters(prior_type="BDeu", equivalent_sample_size=1))
    return str(BIFWriter(network))


def _scalar_copy(graph: nx.DiGraph) -> nx.DiGraph:
    """The graph with only scalar attributes, as DOT, GraphML and GML hold."""
    plain = nx.DiGraph()
    for node, attributes in graph.nodes(data=True):
        plain.add_node(node, **{k: v for k, v in attributes.items() if isinstance(v, (str, int, float))})
    for u, v, attributes in graph.edges(data=True):
        plain.add_edge(u, v, **{k: attributes[k] for k in SCALAR_EDGE_ATTRIBUTES if k in attributes})
    return plain


def _dagitty_name(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name) else json.dumps(name)
