"""Discovery runs explored in Jupyter: the dashboard's views as widgets in a cell.

``explore(run_id)`` shows a run's interactive graph (:mod:`.graph_view`, Plotly, offline) with a
round slider and the dashboard's filters; when the run waits for the human experimenter, its
question and Yes / No buttons, which resume the run through the same LangGraph interrupt the
dashboard and the CLI answer. ``start(settings)`` starts a run and explores it; ``compare`` puts
several runs on one chart. ::

    from discolab.ui.notebook import compare, explore, start
    panel = start(DiscoverySettings(graph="asia", prior="pc", experimenter="human"))
    panel  # the last expression of a cell displays it
"""

from __future__ import annotations

import html

import ipywidgets as widgets
from discolab.agents.discovery import DiscoverySettings, load_run, resume_discovery, round_states, start_discovery
from discolab.agents.discovery.results import edge_records
from discolab.ui.graph_view import interactive_graph, stable_positions
from discolab.ui.views import comparison_chart, comparison_frame
from IPython.display import display


class RunExplorer(widgets.VBox):
    """A run's graph, round by round, with its pending question when it has one."""

    def __init__(self, run_id: str):
        self.run_id = run_id
        self.rounds = widgets.IntSlider(description="round", continuous_update=False)
        self.min_belief = widgets.FloatSlider(0.5, min=0.0, max=1.0, step=0.05, description="beliefs from")
        self.tested_only = widgets.Checkbox(description="tested edges only")
        self.true_only = widgets.Checkbox(description="true edges only")
        self.question = widgets.HTML()
        self.yes, self.no = widgets.Button(description="Yes", button_style="success"), widgets.Button(description="No")
        self.yes.on_click(lambda _: self.answer(True))
        self.no.on_click(lambda _: self.answer(False))
        self.figure = widgets.Output()
        for control in (self.rounds, self.min_belief, self.tested_only, self.true_only):
            control.observe(lambda _: self.draw(), names="value")
        filters = widgets.HBox([self.min_belief, self.tested_only, self.true_only])
        super().__init__([self.rounds, filters, self.question, widgets.HBox([self.yes, self.no]), self.figure])
        self.refresh()

    def refresh(self) -> None:
        """Read the run again (after an answer, or when it went on elsewhere) and redraw."""
        self.run = load_run(self.run_id)
        self.states = round_states(self.run_id)
        self.positions = getattr(self, "positions", None) or stable_positions(
            self.states, seed=self.run.settings.seed
        )  # one layout for the run's life: nodes stay where they are
        self.rounds.min, self.rounds.max = min(self.states), max(self.states)
        self.rounds.value = max(self.states)
        waiting = self.run.question is not None
        self.question.value = (
            f"<b>Experiment needed:</b> {html.escape(self.run.question['question'])}" if waiting else ""
        )
        self.yes.layout.display = self.no.layout.display = None if waiting else "none"
        self.draw()

    @property
    def pending(self) -> tuple[str, str] | None:
        latest = self.rounds.value == max(self.states)
        return tuple(self.run.question["edge"]) if self.run.question is not None and latest else None

    def graph(self):
        """The Plotly figure shown for the current controls."""
        return interactive_graph(
            self.states[self.rounds.value],
            self.positions,
            edge_records(self.states, self.rounds.value),
            min_belief=self.min_belief.value,
            tested_only=self.tested_only.value,
            true_only=self.true_only.value,
            pending=self.pending,
        )

    def draw(self) -> None:
        self.figure.clear_output(wait=True)
        with self.figure:
            display(self.graph())

    def answer(self, present: bool) -> None:
        """Answer the pending question (the human experimenter) and show the run as it goes on."""
        resume_discovery(self.run_id, answer=present)
        self.refresh()


def explore(run_id: str) -> RunExplorer:
    """Reopen run ``run_id`` (from the dashboard, the CLI or a script) in the cell."""
    return RunExplorer(run_id)


def start(settings: DiscoverySettings) -> RunExplorer:
    """Start a run with ``settings`` and explore it (it stops at a human experimenter's question)."""
    return RunExplorer(start_discovery(settings).run_id)


def compare(run_ids: list[str], metric: str = "f1", by_setting: bool = False):
    """Runs' F1 (or SHD) against experiments spent on one chart (Altair), as the dashboard draws it;
    ``by_setting``: seeds of one setting as a mean with a band."""
    runs = {}
    for run_id in run_ids:
        run = load_run(run_id)
        runs[run_id] = (run.settings.as_dict(), run.history)
    curves, table = comparison_frame(runs)
    return comparison_chart(curves, metric, by_setting), table
