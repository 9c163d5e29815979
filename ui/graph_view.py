"""The run's graph as something to explore (Plotly, which Streamlit and Jupyter both render
offline: plotly.js ships inside each, nothing is fetched from a CDN).

Hover on a node for its description, on an edge's dot for its belief, its provenance (prior
source, updates, knowledge, the experiment and its answer) and the question asked about it.
Node positions come from :func:`stable_positions`, computed once per run from what is known at
round 0, so a node stays where it is while the slider moves through the rounds. A pending
question of the human experimenter is drawn on its edge, with a Yes and a No dot to click.
"""

from __future__ import annotations

import html
import textwrap

import networkx as nx
import plotly.graph_objects as go
from discolab.agents.discovery.nodes import run_graph
from discolab.agents.discovery.results import edge_records
from discolab.core.igda.prompts import question_line
from plotly.colors import sample_colorscale

COLOURS = {"confirmed": "#2ca02c", "ruled out": "#d62728", "known": "#1f77b4", "true": "#c8c8c8", "pending": "#ff7f0e"}


def stable_positions(states: dict[int, dict], seed: int = 0) -> dict[str, tuple[float, float]]:
    """One layout for every round of a run: a spring layout of the true edges (when there are
    any) and the pairs the prior believed at 0.5 or more, which later rounds do not change."""
    first = states[min(states)]
    spec = run_graph(first)
    graph = nx.Graph()
    graph.add_nodes_from(spec.names)
    graph.add_edges_from(spec.edges or ())
    records = edge_records({0: first}, 0)
    graph.add_edges_from(e for e, r in records.items() if r["belief"] >= 0.5)
    layout = nx.spring_layout(graph, seed=seed, k=1.8 / max(len(spec.names), 1) ** 0.5)
    return {name: (float(x), float(y)) for name, (x, y) in layout.items()}


def shown_edges(records: dict, truth: set, min_belief: float, tested_only: bool, true_only: bool) -> dict:
    """The edges to draw, each with its kind: tested (and known) ones always; unless
    ``tested_only``, untested ones at ``min_belief`` or above and the true edges below it (grey);
    ``true_only`` keeps the true edges alone."""
    out = {}
    for edge, record in records.items():
        if record["status"] in ("confirmed", "ruled out", "known"):
            out[edge] = record["status"]
        elif tested_only:
            continue
        elif record["belief"] >= min_belief:
            out[edge] = "belief"
        elif edge in truth:
            out[edge] = "true"
    if true_only:
        out = {e: kind for e, kind in out.items() if e in truth}
    return out


def edge_hover(edge: tuple[str, str], record: dict, truth: set | None) -> str:
    """What hovering on an edge says: belief and status, provenance, the question asked."""
    u, v = (html.escape(x) for x in edge)
    lines = [f"<b>{u} → {v}</b>", f"belief {record['belief']:.2f} ({record['status']})"]
    if truth is not None:
        lines.append("in the true graph" if edge in truth else "not in the true graph")
    for step in record["provenance"]:
        if step["kind"] == "prior":
            lines.append(f"prior ({html.escape(str(step['source']))}): {step['belief']:.2f}")
        elif step["kind"] == "update":
            lines.append(f"round {step['round']} update ({step['update']}): {step['old']:.2f} → {step['new']:.2f}")
        elif step["kind"] == "knowledge":
            lines.append("background knowledge: required")
        elif step["kind"] == "experiment":
            answer = "yes, present" if step["answer"] else "no, absent"
            lines.append(f"experiment in round {step['round']} ({html.escape(str(step['experimenter']))}): {answer}")
    question = textwrap.wrap(question_line(*edge), 60)
    lines.append("asked: " + "<br>".join(html.escape(q) for q in question))
    return "<br>".join(lines)


def interactive_graph(
    values: dict,
    positions: dict[str, tuple[float, float]],
    records: dict | None = None,
    min_belief: float = 0.5,
    tested_only: bool = False,
    true_only: bool = False,
    show_truth: bool = True,
    pending: tuple[str, str] | None = None,
) -> go.Figure:
    """The state ``values`` (one of a run's ``round_states``) as a Plotly figure. ``records`` are
    :func:`edge_records` of the run at that round (when not given: from this state alone, so
    without the updates of earlier rounds in the provenance). Each edge's dot carries
    ``customdata`` ``["edge", u, v]``; with ``pending``, the Yes / No dots carry ``["answer", True]``
    and ``["answer", False]``, which is how a click on the graph answers the question."""
    spec = run_graph(values)
    records = records if records is not None else edge_records({0: values}, 0)
    truth = set(spec.edges or ()) if (show_truth and spec.has_truth) else set()
    edges = shown_edges(records, truth, min_belief, tested_only, true_only and bool(truth))
    if pending is not None:
        edges[pending] = "pending"
    fig = go.Figure()
    dots = {"x": [], "y": [], "text": [], "customdata": [], "color": []}
    for (u, v), kind in edges.items():
        (x0, y0), (x1, y1) = positions[u], positions[v]
        belief = records[(u, v)]["belief"]
        colour = sample_colorscale("Viridis", [belief])[0] if kind == "belief" else COLOURS[kind]
        width = {"belief": 1 + 2.5 * belief, "pending": 4.0, "true": 4.0}.get(kind, 2.5)
        fig.add_annotation(
            x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x", ayref="y", standoff=13, startstandoff=13,
            showarrow=True, arrowhead=2, arrowsize=max(0.8, 2.0 / width), arrowwidth=width, arrowcolor=colour,
            opacity=0.9,
        )  # fmt: skip
        dots["x"].append(x0 + 0.55 * (x1 - x0))
        dots["y"].append(y0 + 0.55 * (y1 - y0))
        dots["text"].append(edge_hover((u, v), records[(u, v)], truth if spec.has_truth and show_truth else None))
        dots["customdata"].append(["edge", u, v])
        dots["color"].append(colour)
    fig.add_trace(
        go.Scatter(
            x=dots["x"], y=dots["y"], mode="markers", name="edges",
            marker={"size": 9, "color": dots["color"], "line": {"width": 1, "color": "white"}},
            hovertext=dots["text"], hoverinfo="text", customdata=dots["customdata"],
        )
    )  # fmt: skip
    names = spec.names
    descriptions = {v.name: v.description for v in spec.variables}
    fig.add_trace(
        go.Scatter(
            x=[positions[n][0] for n in names], y=[positions[n][1] for n in names],
            mode="markers+text", name="variables", text=names, textposition="top center",
            marker={"size": 22, "color": "white", "line": {"width": 1.5, "color": "black"}},
            hovertext=[
                f"<b>{html.escape(n)}</b><br>" + "<br>".join(html.escape(t) for t in textwrap.wrap(descriptions[n], 60))
                for n in names
            ],
            hoverinfo="text", customdata=[["node", n, ""] for n in names],
        )
    )  # fmt: skip
    if pending is not None:
        (x0, y0), (x1, y1) = positions[pending[0]], positions[pending[1]]
        mx, my = x0 + 0.55 * (x1 - x0), y0 + 0.55 * (y1 - y0)
        fig.add_trace(
            go.Scatter(
                x=[mx - 0.12, mx + 0.12], y=[my - 0.1, my - 0.1], mode="markers+text", name="answer",
                text=["Yes", "No"], textposition="bottom center",
                marker={"size": 18, "color": [COLOURS["confirmed"], COLOURS["ruled out"]], "symbol": "circle"},
                hovertext=["Yes: the edge is present", "No: the edge is absent"], hoverinfo="text",
                customdata=[["answer", True, ""], ["answer", False, ""]],
            )
        )  # fmt: skip
    fig.update_layout(
        showlegend=False, height=560, margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"visible": False}, yaxis={"visible": False}, plot_bgcolor="white", hovermode="closest",
    )  # fmt: skip
    return fig


def answer_from_selection(points: list[dict]) -> bool | None:
    """The answer a click on the graph gives: True / False for the Yes / No dot, else None."""
    for point in points:
        data = point.get("customdata") or []
        if len(data) >= 2 and data[0] == "answer":
            return bool(data[1])
    return None
