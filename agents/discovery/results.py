"""A run's result as a graph: the predicted edges at a round, each with where it came from.

Provenance is read from the run's checkpointed history (:func:`.run.round_states`), so nothing
extra is stored while the run goes: the prior's source and belief, every round whose update
moved the edge's belief (old and new), and the experiment that tested it (round, experimenter,
answer).
"""

from __future__ import annotations

import networkx as nx
from discolab.core.errors import DiscolabError
from discolab.core.graphs import Edge
from discolab.core.graphs.benchmarks import benchmark_network
from discolab.core.graphs.export import export_graph
from discolab.core.igda.data_prior import observational_samples

from .configuration import DiscoverySettings
from .nodes import current_beliefs, known_pairs, observations, observations_key, predicted_edges, run_graph
from .run import round_states

FIXED = ("confirmed", "known")  # an experiment's answer or background knowledge: never dropped


def result_graph(run_id: str, round: int | None = None, acyclic: bool = False) -> tuple[nx.DiGraph, dict]:
    """The predicted graph of run ``run_id`` after ``round`` (default: the last closed round) as a
    DiGraph with node descriptions and edge ``belief``, ``status`` and ``provenance``; and a summary
    (round, edges, edges dropped to make it acyclic)."""
    return _result_graph(run_id, round_states(run_id), round, acyclic)


def _result_graph(run_id: str, states: dict[int, dict], round: int | None, acyclic: bool) -> tuple[nx.DiGraph, dict]:
    chosen, records = _edge_records(run_id, states, round)
    values = states[chosen]
    settings = DiscoverySettings.from_dict(values["settings"])
    spec = run_graph(values)
    beliefs = {edge: record["belief"] for edge, record in records.items()}
    present = {edge: record["present"] for edge, record in records.items() if "present" in record}
    graph = nx.DiGraph()
    for variable in spec.variables:
        graph.add_node(variable.name, description=variable.description)
    for edge in predicted_edges(beliefs, present, settings.threshold):
        record = records[edge]
        status = "predicted" if record["status"] == "untested" else record["status"]
        belief = 1.0 if status in FIXED else record["belief"]
        graph.add_edge(*edge, belief=belief, status=status, provenance=record["provenance"])
    dropped = make_acyclic(graph) if acyclic else []
    summary = {"run_id": run_id, "round": chosen, "edges": graph.number_of_edges(), "dropped": len(dropped)}
    return graph, summary


def edge_records(states: dict[int, dict], round: int | None = None) -> dict[Edge, dict]:
    """Every ordered pair of a run after ``round`` (default: the last), from its ``round_states``:
    ``belief``, ``status`` (``confirmed`` or ``ruled out`` by an experiment, ``known``, else
    ``untested``), ``present`` for a tested pair, and ``provenance`` (prior, updates, knowledge,
    experiment), as the dashboard's graph shows them on hover."""
    return _edge_records("", states, round)[1]


def _edge_records(run_id: str, states: dict[int, dict], round: int | None) -> tuple[int, dict[Edge, dict]]:
    last = max(states)
    chosen = last if round is None else round
    if chosen not in states:
        raise DiscolabError(f"run {run_id} has rounds 0 to {last}, not {chosen}")
    values = states[chosen]
    settings = DiscoverySettings.from_dict(values["settings"])
    spec = run_graph(values)
    pairs = [tuple(p) for p in values["pairs"]]
    history = [current_beliefs(states[r]) for r in range(chosen + 1) if r in states]
    prior = values.get("prior_beliefs", history[0])  # the prior even when only this round's state is given
    tested = {tuple(r["edge"]): r for r in values.get("results", [])}
    simulated = not settings.fused and settings.prior.startswith("simulated:")
    source = f"simulated expert of F1 {settings.prior.split(':')[1]}" if simulated else settings.prior
    known = known_pairs(spec)
    records = {}
    for i, edge in enumerate(pairs):
        provenance = [{"kind": "prior", "source": source, "belief": prior[i]}]
        provenance += [
            {"kind": "update", "update": settings.update, "round": r, "old": history[r - 1][i], "new": history[r][i]}
            for r in range(1, len(history))
            if history[r][i] != history[r - 1][i]
        ]
        record = {"belief": history[-1][i], "status": "untested"}
        if known.get(edge):
            provenance.append({"kind": "knowledge", "required": True})
            record["status"] = "known"
        elif edge in tested:
            result = tested[edge]
            experiment = {"round": result["round"], "experimenter": settings.experimenter, "answer": result["present"]}
            provenance.append({"kind": "experiment", **experiment})
            record |= {"status": "confirmed" if result["present"] else "ruled out", "present": result["present"]}
        records[edge] = record | {"provenance": provenance}
    return chosen, records


def make_acyclic(graph: nx.DiGraph) -> list[Edge]:
    """Drop, weakest first, the untested edges that close a cycle; never a confirmed or known one.

    Confirmed and known edges go in first, then the others by decreasing belief, each kept only if
    it closes no directed cycle with those kept before (a greedy maximum-weight acyclic subgraph).
    Returns the dropped edges; raises if the fixed edges alone form a cycle (a noisy experimenter
    can confirm one), since no edge may then be dropped to break it.
    """
    edges = sorted(graph.edges(data=True), key=lambda e: (e[2]["status"] not in FIXED, -e[2]["belief"]))
    kept = nx.DiGraph()
    kept.add_nodes_from(graph.nodes)
    dropped = []
    for u, v, attributes in edges:
        if nx.has_path(kept, v, u):
            if attributes["status"] in FIXED:
                raise DiscolabError(f"the confirmed edges form a cycle through {u} -> {v}: no DAG keeps them all")
            dropped.append((u, v))
        else:
            kept.add_edge(u, v)
    graph.remove_edges_from(dropped)
    return dropped


def export_run(run_id: str, fmt: str, round: int | None = None, acyclic: bool = False) -> tuple[str, dict]:
    """The text of run ``run_id``'s graph in format ``fmt`` (see :mod:`discolab.core.graphs.export`),
    and the summary of :func:`result_graph`. BIF's tables are fitted on the run's discrete data:
    for a benchmark, the observational rows its data priors sample (same size and seed)."""
    states = round_states(run_id)
    graph, summary = _result_graph(run_id, states, round, acyclic)
    values = states[summary["round"]]
    spec = run_graph(values)
    data = discrete_data(values) if fmt == "bif" else None
    return export_graph(graph, fmt, data, name=spec.name), summary


def discrete_data(values: dict):
    """The run's discrete data, for BIF's tables: the user's table when every column is discrete,
    else a benchmark's sample (same size and seed as its data priors); None when there is none."""
    if values.get("data"):
        if problem := no_discrete_data(values):
            raise DiscolabError(problem)
        return observations(*observations_key(values)).frame
    settings = DiscoverySettings.from_dict(values["settings"])
    try:
        return observational_samples(run_graph(values), settings.samples, settings.seed)
    except DiscolabError:
        return None  # a graph file with no network behind it: export_graph says what is missing


def no_discrete_data(values: dict) -> str | None:
    """Why the run has no discrete data for BIF's tables, or None (checked without sampling)."""
    if values.get("data"):
        if any(kind != "discrete" for kind in observations(*observations_key(values)).kinds.values()):
            return "BIF holds discrete tables, and this run's data has continuous columns: export GML"
        return None
    try:
        benchmark_network(run_graph(values))
    except DiscolabError:
        return "BIF holds probability tables, and this run has no discrete data to fit them on"
    return None
