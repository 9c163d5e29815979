"""Figures of a :class:`~.analysis.ScalingReport`: the CLI saves them as PNG, the dashboard shows them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backend_bases import FigureCanvasBase
from matplotlib.figure import Figure

from ..errors import DiscolabError
from ..files import atomic_write
from .analysis import ScalingReport
from .success import logistic_curve


def report_figure(report: ScalingReport, title: str = ""):
    """Three panels: values per setting (one dot per seed over a KDE violin, bimodal settings marked), P(success) with
    its 95% interval and the logistic fit, and the mean of all runs vs the mean of successful runs."""
    settings, runs = report.settings, report.runs
    positions = {value: i for i, value in enumerate(settings["setting"])}
    fig = Figure(figsize=(15, 4))  # not registered with pyplot: shown once in notebooks, never leaked
    dist, prob, means = fig.subplots(1, 3)
    rng = np.random.default_rng(0)
    groups = [runs.loc[runs["scale"] == value, "value"].to_numpy() for value in settings["setting"]]
    spread = [i for i, g in enumerate(groups) if len(g) > 1 and np.ptp(g) > 0]
    if spread:  # a kernel density estimate per setting, behind the dots
        violins = dist.violinplot([groups[i] for i in spread], positions=spread, widths=0.8, showextrema=False)
        for body in violins["bodies"]:
            body.set_alpha(0.25)
    x = runs["scale"].map(positions) + rng.uniform(-0.15, 0.15, len(runs))
    dist.scatter(x, runs["value"], c=np.where(runs["success"], "tab:green", "tab:red"), s=14, alpha=0.7)
    for i, row in settings.iterrows():
        if row["bimodal"]:
            dist.annotate("bimodal", (i, runs["value"].max()), ha="center", fontsize=8, color="tab:purple")
    dist.set_title(f"{report.metric} per seed (green = success)")
    prob.errorbar(
        range(len(settings)),
        settings["p_success"],
        yerr=np.clip([settings["p_success"] - settings["ci_low"], settings["ci_high"] - settings["p_success"]], 0, 1),
        fmt="o-",
        capsize=3,
        label="P(success), 95% Wilson",
    )
    if report.logistic and not report.logistic.get("degenerate", True):
        prob.plot(
            range(len(settings)), logistic_curve(report.logistic, settings["setting"]), "--", label="logistic fit"
        )
    prob.set_ylim(-0.02, 1.02)
    prob.set_title("P(success)")
    prob.legend(fontsize=8)
    means.plot(range(len(settings)), settings["mean"], "o-", label="mean of all runs")
    means.plot(range(len(settings)), settings["mean_success"], "s--", label="mean of successful runs")
    means.set_title(f"mean {report.metric}")
    means.legend(fontsize=8)
    for ax in (dist, prob, means):
        ax.set_xticks(
            range(len(settings)),
            [f"{s:g}" if isinstance(s, float) else str(s) for s in settings["setting"]],
            rotation=30,
        )
        ax.set_xlabel(report.scale)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def save_report_figure(report: ScalingReport, path: str | Path, title: str = "") -> Path:
    """Save the report's figure and return the path written: ``path``, with ``.png`` added when
    it has no suffix (the suffix picks the image type). The folder must exist; the file is
    written whole or not at all (a temporary file renamed into place)."""
    path = figure_path(path)
    fig = report_figure(report, title)
    with atomic_write(path, "the plot") as temporary:
        fig.savefig(temporary, dpi=90, format=path.suffix[1:].lower())
    return path


def figure_path(path: str | Path) -> Path:
    """Where a figure asked to go to ``path`` will be written, or a DiscolabError saying why it
    cannot be: the path is a folder, its folder does not exist, or its suffix is no image type."""
    path = Path(path)
    if path.is_dir():
        raise DiscolabError(f"{path} is a folder: give a file name for the plot, e.g. {path / 'scaling.png'}")
    if not path.parent.is_dir():
        raise DiscolabError(f"cannot save the plot as {path}: the folder {path.parent} does not exist")
    if not path.suffix:  # what matplotlib would do anyway; done here so the caller knows the name
        return path.with_name(path.name + ".png")
    types = FigureCanvasBase.get_supported_filetypes()
    if path.suffix[1:].lower() not in types:
        raise DiscolabError(
            f"cannot save the plot as {path}: {path.suffix} is not an image type; use .png, .pdf or .svg"
        )
    return path
