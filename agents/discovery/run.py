"""Starting, streaming and resuming discovery runs.

A run is a LangGraph thread whose id is the run id, checkpointed after every node in SQLite
(``checkpoints.sqlite`` in the data directory): a run killed at any point resumes from its
last completed node, and a paused human-in-the-loop run resumes with the person's answer.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from discolab.core.errors import DiscolabError
from discolab.core.paths import data_path
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command

from .configuration import DiscoverySettings
from .graph import build_graph

Event = dict[str, Any]


@dataclass
class DiscoveryRun:
    """Where a run stands: its values, and the pending human question if it is paused."""

    run_id: str
    settings: DiscoverySettings
    values: dict
    question: dict | None = None
    events: list[Event] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.question is None

    @property
    def history(self) -> list[dict]:
        return self.values.get("history", [])

    def as_dict(self) -> dict:
        return {
            "run_id": self.run_id,
            "settings": self.settings.as_dict(),
            "simulated_prior": self.settings.prior.startswith("simulated"),
            "done": self.done,
            "question": self.question,
            "rounds": self.history,
        }


def compiled_graph():
    """The loop compiled with the SQLite checkpointer of the current data directory (one per process)."""
    return _compiled_for(str(data_path("checkpoints.sqlite")))


@lru_cache(maxsize=4)
def _compiled_for(path: str):
    connection = sqlite3.connect(path, check_same_thread=False, timeout=60)
    connection.execute("PRAGMA journal_mode=WAL")  # the CLI, the dashboard and sweeps may share it
    saver = SqliteSaver(connection)
    return build_graph().compile(checkpointer=saver)


def load_run(run_id: str) -> DiscoveryRun:
    """Where a stored run stands, without running anything."""
    snapshot = compiled_graph().get_state(_config(run_id))
    if not snapshot.values:
        raise DiscolabError(f"no discovery run with id {run_id!r} in {data_path('checkpoints.sqlite')}")
    settings = DiscoverySettings.from_dict(snapshot.values["settings"])
    return DiscoveryRun(run_id, settings, snapshot.values, _pending_question(snapshot))


def round_states(run_id: str) -> dict[int, dict]:
    """The run's values at the end of each completed round (0 = the prior), from its checkpoint
    history: what a round slider steps through."""
    states: dict[int, dict] = {}
    for snapshot in compiled_graph().get_state_history(_config(run_id)):  # newest first
        values = snapshot.values
        number = values.get("round") if values else None
        if number is None or number in states:
            continue
        if snapshot.next in (("select",), ()):  # right after elicit_prior or score: the round is closed
            states[number] = values
    if not states:
        raise DiscolabError(f"no discovery run with id {run_id!r} in {data_path('checkpoints.sqlite')}")
    return dict(sorted(states.items()))


def list_runs(limit: int = 50) -> list[dict]:
    """Stored runs, newest first: id, graph, prior, strategy, rounds done, and whether it waits for an answer."""
    path = data_path("checkpoints.sqlite")
    if not path.exists():
        return []
    compiled_graph()  # creates the tables on a fresh data directory
    with sqlite3.connect(path, timeout=60) as connection:
        rows = connection.execute(
            "SELECT thread_id, MAX(rowid) AS last FROM checkpoints GROUP BY thread_id ORDER BY last DESC LIMIT ?",
            (limit,),
        ).fetchall()
    out = []
    for run_id, _ in rows:
        run = load_run(run_id)
        out.append(
            {
                "run_id": run_id,
                "graph": run.settings.graph,
                "prior": run.settings.prior,
                "strategy": run.settings.strategy,
                "rounds_done": run.values.get("round", 0),
                "rounds": run.settings.rounds,
                "waiting": not run.done,
                "f1": run.history[-1]["f1"] if run.history else None,
            }
        )
    return out


def start_discovery(
    settings: DiscoverySettings,
    run_id: str | None = None,
    on_event: Callable[[Event], None] | None = None,
    durable: bool = True,
) -> DiscoveryRun:
    """Run a discovery from the start until it ends or pauses for a human answer.

    ``durable=False`` keeps the checkpoints in memory only (offline evaluations run thousands
    of short runs whose results go to the runs database instead); such a run cannot be resumed.
    """
    run_id = run_id or uuid.uuid4().hex[:12]
    if not durable:
        return _drive(run_id, {"settings": settings.as_dict()}, on_event, build_graph().compile(InMemorySaver()))
    if compiled_graph().get_state(_config(run_id)).values:
        raise DiscolabError(f"a run with id {run_id!r} exists already; use `discolab resume {run_id}`")
    return _drive(run_id, {"settings": settings.as_dict()}, on_event)


def resume_discovery(run_id: str, answer: Any = None, on_event: Callable[[Event], None] | None = None) -> DiscoveryRun:
    """Continue a run from its last checkpoint; ``answer`` answers a pending human question."""
    run = load_run(run_id)
    if run.question is not None and answer is None:
        return run  # paused: nothing to do without an answer
    payload = Command(resume=answer) if run.question is not None else None
    return _drive(run_id, payload, on_event)


def _drive(run_id: str, payload: Any, on_event, graph=None) -> DiscoveryRun:
    graph = graph or compiled_graph()
    config = _config(run_id)
    events: list[Event] = []
    try:
        for update in graph.stream(payload, config, stream_mode="updates"):
            for node, change in update.items():
                if node == "__interrupt__":
                    continue
                event = {"run_id": run_id, "node": node}
                if node in ("elicit_prior", "score") and change:
                    event["record"] = change["history"][-1]
                events.append(event)
                if on_event:
                    on_event(event)
    except (DiscolabError, ValueError) as err:
        # Everything up to the last completed node is checkpointed: say how to go on.
        raise DiscolabError(f"{err} (run {run_id} is saved; continue it with `discolab resume {run_id}`)") from err
    snapshot = graph.get_state(config)
    settings = DiscoverySettings.from_dict(snapshot.values["settings"])
    return DiscoveryRun(run_id, settings, snapshot.values, _pending_question(snapshot), events)


def _pending_question(snapshot) -> dict | None:
    for task in snapshot.tasks:
        for pending in task.interrupts:
            return pending.value
    return None


def _config(run_id: str) -> dict:
    return {"configurable": {"thread_id": run_id}}
