"""The views of a discovery run and of a sweep, as objects a notebook or the dashboard displays.

- :func:`graph_figure`: the graph at one round: every edge believed above ``min_belief`` drawn
  with width and colour by belief, tested edges marked (green: confirmed, red dashed: ruled
  out), true edges underlaid in grey when asked and known. A matplotlib figure.
- :func:`metrics_chart`: precision, recall and F1 against experiments spent. An Altair chart.
- :func:`distribution_figure`: the distributional analysis of a sweep (core/scaling's figure).
"""

from __future__ import annotations

import re

import networkx as nx
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure


def plain(text: object) -> str:
    """Text for Streamlit's Markdown elements (captions, warnings, errors) shown as typed: every
    Markdown character escaped, so a name or message cannot become a link, an image that the
    browser fetches from a remote server, or formatting."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|~$<>:])", r"\\\1", str(text))


def _layout(names: list[str], edges: list[tuple[str, str]], seed: int = 0) -> dict:
    graph = nx.DiGraph()
    graph.add_nodes_from(names)
    graph.add_edges_from(edges)
    return nx.spring_layout(graph.to_undirected(), seed=seed, k=1.8 / max(len(names), 1) ** 0.5)


def graph_figure(values: dict, show_truth: bool = True, min_belief: float = 0.3, title: str = ""):
    """Draw a run's state (``DiscoveryRun.values`` or one of ``round_states``) as a figure."""
    from discolab.agents.discovery.configuration import DiscoverySettings
    from discolab.agents.discovery.nodes import current_beliefs, run_graph

    settings = DiscoverySettings.from_dict(values["settings"])
    spec = run_graph(values)
    beliefs = {(u, v): p for (u, v), p in zip(values["pairs"], current_beliefs(values))}
    results = {tuple(r["edge"]): r["present"] for r in values.get("results", [])}
    truth = set(spec.edges or ()) if show_truth else set()
    believed = [e for e, p in beliefs.items() if p >= min_belief and e not in results]
    position = _layout(spec.names, list(truth) + believed + list(results), seed=settings.seed)
    # A Figure not registered with pyplot: notebooks display the returned object once, nothing leaks.
    fig = Figure(figsize=(7, 5.5))
    ax = fig.subplots()
    canvas = nx.DiGraph()
    canvas.add_nodes_from(spec.names)
    arrows = {"arrows": True, "arrowsize": 12, "node_size": 900, "connectionstyle": "arc3,rad=0.08"}
    if truth:
        nx.draw_networkx_edges(canvas, position, edgelist=sorted(truth), width=7, edge_color="#dddddd", ax=ax, **arrows)
    if believed:
        nx.draw_networkx_edges(
            canvas,
            position,
            edgelist=believed,
            width=[0.5 + 3.5 * beliefs[e] for e in believed],
            edge_color=[beliefs[e] for e in believed],
            edge_cmap=colormaps["viridis"],
            edge_vmin=0.0,
            edge_vmax=1.0,
            ax=ax,
            **arrows,
        )
    confirmed = [e for e, ok in results.items() if ok]
    ruled_out = [e for e, ok in results.items() if not ok]
    nx.draw_networkx_edges(canvas, position, edgelist=confirmed, width=3, edge_color="tab:green", ax=ax, **arrows)
    nx.draw_networkx_edges(
        canvas, position, edgelist=ruled_out, width=1.5, edge_color="tab:red", style="dashed", ax=ax, **arrows
    )
    nx.draw_networkx_nodes(canvas, position, node_color="white", edgecolors="black", node_size=900, ax=ax)
    # "$" would start matplotlib's maths mode: a name is drawn as typed
    labels = {name: name.replace("$", r"\$") for name in spec.names}
    nx.draw_networkx_labels(canvas, position, labels=labels, font_size=7, ax=ax)
    mappable = ScalarMappable(cmap=colormaps["viridis"], norm=Normalize(0, 1))
    fig.colorbar(mappable, ax=ax, shrink=0.6, label="P(u -> v)")
    label = "simulated expert" if settings.prior.startswith("simulated") and not settings.fused else settings.prior
    legend = "green: confirmed, red dashed: ruled out" + ("; grey: true edges" if truth else "")
    ax.set_title(title or f"{spec.name}, round {values.get('round', 0)}, prior {label}\n{legend}", fontsize=9)
    ax.axis("off")
    fig.tight_layout()
    return fig


def metrics_chart(history: list[dict]):
    """Precision, recall and F1 after each round, against experiments spent (Altair)."""
    import altair as alt
    import pandas as pd

    rows = [
        {"round": r["round"], "experiments": r["experiments"], "metric": m, "value": r[m]}
        for r in history
        for m in ("precision", "recall", "f1")
        if r.get(m) is not None
    ]
    frame = pd.DataFrame(rows, columns=["round", "experiments", "metric", "value"])
    return (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X("experiments:Q", title="experiments spent"),
            y=alt.Y("value:Q", scale=alt.Scale(domain=[0, 1]), title=None),
            color="metric:N",
            tooltip=["round", "experiments", "metric", alt.Tooltip("value:Q", format=".3f")],
        )
        .properties(height=260)
    )


def weights_chart(history: list[dict]):
    """A fused prior's learned weight per source after each round, with its 95% interval (Altair)."""
    import altair as alt
    import pandas as pd

    rows = [
        {
            "experiments": r["experiments"],
            "source": name,
            "weight": entry["weight"],
            "low": entry["interval"][0] if entry["interval"][0] is not None else entry["weight"],
            "high": entry["interval"][1] if entry["interval"][1] is not None else entry["weight"],
            "auroc": entry["auroc"],
        }
        for r in history
        if "fusion" in r
        for name, entry in r["fusion"]["sources"].items()
    ]
    frame = pd.DataFrame(rows, columns=["experiments", "source", "weight", "low", "high", "auroc"])
    x = alt.X("experiments:Q", title="experiments spent")
    band = alt.Chart(frame).mark_area(opacity=0.2).encode(x=x, y="low:Q", y2="high:Q", color="source:N")
    line = (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=x,
            y=alt.Y("weight:Q", title="learned weight"),
            color="source:N",
            tooltip=[
                "source",
                "experiments",
                alt.Tooltip("weight:Q", format=".2f"),
                alt.Tooltip("auroc:Q", format=".2f"),
            ],
        )
    )
    return (band + line).properties(height=220)


def distribution_figure(
    experiment: str, scale: str, metric: str, threshold: float | None = None, where=None, step: str = "last"
):
    """The distributional analysis of a sweep in the runs database, and its figure."""
    from discolab.core.runs import RunsDB
    from discolab.core.scaling import analyze
    from discolab.core.scaling.analysis import select_rows
    from discolab.core.scaling.plots import report_figure

    table = select_rows(RunsDB().wide(experiment), where or {}, step)
    report = analyze(table, scale, metric, threshold=threshold)
    return report, report_figure(report, f"{experiment}: {metric} against {scale}")
