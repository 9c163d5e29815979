"""The views of a discovery run and of a sweep, as objects a notebook or the dashboard displays.

- :func:`graph_figure`: the graph at one round: every edge believed above ``min_belief`` drawn
  with width and colour by belief, tested edges marked (green: confirmed, red dashed: ruled
  out), true edges underlaid in grey when asked and known. A matplotlib figure.
- :func:`metrics_chart`: precision, recall and F1 against experiments spent. An Altair chart.
- :func:`distribution_figure`: the distributional analysis of a sweep (core/scaling's figure).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import networkx as nx
import pandas as pd
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure


def plain(text: object) -> str:
    """Text for Streamlit's Markdown elements (captions, warnings, errors) shown as typed: every
    Markdown character escaped, so a name or message cannot become a link, an image that the
    browser fetches from a remote server, or formatting."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|~$<>:])", r"\\\1", str(text))


@dataclass(frozen=True)
class DistributionGuide:
    scale: str
    metric: str
    step: str  # "last": each run's final value; "all": every step
    explanation: str


# (experiment prefix, preferred scales, preferred metrics, step, what one point is)
GUIDES = (
    ("count-task", ("params",), ("ood_exact", "id_exact"), "last",
     "Each run trains one small transformer to count. Scale: its parameter count (the model's size). Metric: "
     "exact-match accuracy on longer, held-out inputs (ood_exact). Each point is one seed: the spread at a size "
     "is the distribution the scaling paper is about. The sweep varies one dimension at a time: filter layers = 2 "
     "for the width axis, width = 32 for the depth axis."),
    ("igda", ("step",), ("f1",), "all",
     "Each run is one discovery. Scale: the round (each round spends a fixed number of experiments). Metric: F1 "
     "of the predicted graph against the true one. Filter a graph and a prior on the right."),
    ("moe", ("params_total", "n_experts"), ("accuracy",), "last",
     "Each run trains one dense or mixture-of-experts model. Scale: its total parameters. Metric: test accuracy."),
    ("tree", ("center_share",), ("ood_hierarchical",), "last",
     "Each run trains one tiny LM on question formation. Scale: the share of center-embedded training sentences. "
     "Metric: the fraction of held-out questions formed by the hierarchical rule; per seed it tends to 0 or 1."),
    ("distill", ("ipc", "budget_ipc"), ("accuracy", "test_accuracy"), "last",
     "Each run distils a data set and trains a student on it. Scale: images per class. Metric: test accuracy."),
    ("ddeq", ("params",), ("accuracy",), "last",
     "Each run trains one point-cloud classifier. Scale: its parameter count. Metric: test accuracy."),
)  # fmt: skip


def distribution_guide(experiment: str, wide: pd.DataFrame) -> DistributionGuide:
    """Sensible scale, metric and step for ``experiment``'s table ``wide`` (so a first plot is one
    click) and what a scale and a metric mean for it; a generic guess for other experiments."""
    columns = [c for c in wide.columns if c not in ("config_hash", "seed")]
    numeric = [c for c in columns if wide[c].dtype.kind in "fi"]
    for prefix, scales, metrics, step, explanation in GUIDES:
        if experiment.startswith(prefix):
            scale = next((c for c in scales if c in columns), columns[0])
            metric = next((c for c in metrics if c in numeric and c != scale), None)
            if metric is not None:
                return DistributionGuide(scale, metric, step, explanation)
    settings = [c for c in columns if c not in numeric or wide[c].nunique() <= 12]
    scale = next((c for c in settings if c != "step" and wide[c].nunique() > 1), "step")
    metric = next((c for c in numeric if c not in (scale, "step")), numeric[0] if numeric else scale)
    return DistributionGuide(
        scale, metric, "last",
        "Scale: the setting the sweep varies (one column of its config); metric: a number each run recorded. Each "
        "point of the plot is one seed at one value of the scale.",
    )  # fmt: skip


def quick_label(experiment: str) -> str:
    """An experiment's name for a picker, saying when it is a quick study's (small budgets)."""
    return f"{experiment} (quick study: small budgets)" if experiment.endswith("-quick") else experiment


def _layout(names: list[str], edges: list[tuple[str, str]], seed: int = 0) -> dict:
    graph = nx.DiGraph()
    graph.add_nodes_from(names)
    graph.add_edges_from(edges)
    return nx.spring_layout(graph.to_undirected(), seed=seed, k=1.8 / max(len(names), 1) ** 0.5)


def graph_figure(values: dict, show_truth: bool = True, min_belief: float = 0.3, title: str = ""):
    """Draw a run's state (``DiscoveryRun.values`` or one of ``round_states``) as a figure."""
    # A Figure not registered with pyplot: notebooks display the returned object once, nothing leaks.
    fig = Figure(figsize=(7, 5.5))
    draw_graph(fig, fig.subplots(), values, show_truth, min_belief, title)
    fig.tight_layout()
    return fig


def run_figure(values: dict, history: list[dict], show_truth: bool = True, min_belief: float = 0.3):
    """A run on one figure, as the dashboard shows it: the graph after the last round beside
    precision, recall and F1 against experiments spent (``discolab discover --plot``)."""
    fig = Figure(figsize=(12, 5.5))
    graph_ax, curve_ax = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.7, 1]})
    draw_graph(fig, graph_ax, values, show_truth, min_belief)
    scored = [r for r in history if r.get("f1") is not None]
    for metric in ("precision", "recall", "f1"):
        curve_ax.plot([r["experiments"] for r in scored], [r[metric] for r in scored], marker="o", label=metric)
    curve_ax.set(xlabel="experiments spent", ylim=(0, 1.02), title="against the true graph")
    if scored:
        curve_ax.legend()
    else:  # a user's own problem has no true graph to score against
        curve_ax.text(0.5, 0.5, "no true graph: nothing to score", ha="center", transform=curve_ax.transAxes)
    fig.tight_layout()
    return fig


def draw_graph(fig, ax, values: dict, show_truth: bool = True, min_belief: float = 0.3, title: str = "") -> None:
    """Draw a run's state on ``ax`` of ``fig``: believed edges by belief, tested ones by answer."""
    from discolab.agents.discovery.configuration import DiscoverySettings
    from discolab.agents.discovery.nodes import current_beliefs, run_graph

    settings = DiscoverySettings.from_dict(values["settings"])
    spec = run_graph(values)
    beliefs = {(u, v): p for (u, v), p in zip(values["pairs"], current_beliefs(values))}
    results = {tuple(r["edge"]): r["present"] for r in values.get("results", [])}
    truth = set(spec.edges or ()) if show_truth else set()
    believed = [e for e, p in beliefs.items() if p >= min_belief and e not in results]
    position = _layout(spec.names, list(truth) + believed + list(results), seed=settings.seed)
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
    tooltip = ["source", "experiments", alt.Tooltip("weight:Q", format=".2f"), alt.Tooltip("auroc:Q", format=".2f")]
    return band_chart(frame, "weight", "learned weight", "source", tooltip).properties(height=220)


def band_chart(frame: pd.DataFrame, y: str, title: str, colour: str, tooltip: list):
    """A line per ``colour`` of ``y`` against experiments spent, in a band from ``low`` to ``high`` (Altair)."""
    import altair as alt

    x = alt.X("experiments:Q", title="experiments spent")
    band = alt.Chart(frame).mark_area(opacity=0.2).encode(x=x, y="low:Q", y2="high:Q", color=f"{colour}:N")
    line = (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(x=x, y=alt.Y(f"{y}:Q", title=title), color=f"{colour}:N", tooltip=tooltip)
    )
    return band + line


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


COMPARED_SETTINGS = ("graph", "prior", "strategy", "update", "experimenter", "samples", "rounds", "per_round")


def comparison_frame(runs: dict[str, tuple[dict, list[dict]]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Runs side by side. ``runs`` maps a run id to (its settings as a dict, its history).

    Returns the curves (one row per run and round: run, setting, seed, experiments, f1, shd) and
    the settings table (a row per run). Runs that differ only in their seed share a setting, so
    their curves can be drawn as a mean with a band."""
    curves, table = [], []
    for run_id, (settings, history) in runs.items():
        setting = ", ".join(f"{key} {settings.get(key)}" for key in COMPARED_SETTINGS[:5])
        table.append({"run": run_id, **{k: settings.get(k) for k in COMPARED_SETTINGS}, "seed": settings.get("seed")})
        curves += [
            {
                "run": run_id,
                "setting": setting,
                "seed": settings.get("seed"),
                "experiments": r["experiments"],
                "f1": r.get("f1"),
                "shd": r.get("shd"),
            }
            for r in history
        ]
    return pd.DataFrame(curves, columns=["run", "setting", "seed", "experiments", "f1", "shd"]), pd.DataFrame(table)


def comparison_chart(curves: pd.DataFrame, metric: str = "f1", by_setting: bool = False):
    """``metric`` (f1 or shd) against experiments spent: a line per run, or with ``by_setting`` a
    line per setting (the mean over its seeds) in a band of +- one standard deviation (Altair)."""
    import altair as alt

    scored = curves.dropna(subset=[metric])
    x = alt.X("experiments:Q", title="experiments spent")
    y_title = "F1" if metric == "f1" else "SHD"
    if not by_setting:
        return (
            alt.Chart(scored)
            .mark_line(point=True)
            .encode(
                x=x,
                y=alt.Y(f"{metric}:Q", title=y_title),
                color="run:N",
                tooltip=["run", "setting", "experiments", metric],
            )
            .properties(height=300)
        )
    stats = scored.groupby(["setting", "experiments"])[metric].agg(["mean", "std", "count"]).reset_index()
    stats["std"] = stats["std"].fillna(0.0)
    stats["low"], stats["high"] = stats["mean"] - stats["std"], stats["mean"] + stats["std"]
    tooltip = ["setting", "experiments", alt.Tooltip("mean:Q", format=".3f"), "count"]
    return band_chart(stats, "mean", f"{y_title} (mean over seeds)", "setting", tooltip).properties(height=300)
