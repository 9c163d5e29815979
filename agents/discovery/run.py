"""Starting, streaming and resuming discovery runs.

A run is a LangGraph thread whose id is the run id, checkpointed after every node in SQLite
(``checkpoints.sqlite`` in the data directory; see :mod:`.checkpoints`): a run killed at any
point resumes from its last completed node, and a paused human-in-the-loop run resumes with the
person's answer. The run's state holds its settings and its graph's validated content, so a run
id alone resumes it, wherever the graph file went. One process at a time drives a run: an
exclusive lock on ``locks/RUN_ID.lock`` (released by the kernel if the process dies) refuses a
second start or resume of the same id while the first is working.

``DISCOLAB_CHECKPOINTS_URL`` moves the store: ``sqlite:///path/to/file.sqlite`` (another file), or
``postgresql://user:password@host:port/name`` (a PostgreSQL database, through LangGraph's Postgres
saver with the same plain-data serializer; ``pip install 'discolab[postgres]'``). On a server,
several machines may share the store, so a run's lock is also a PostgreSQL advisory lock (released
by the server when the process's connection goes). The URL's password is never shown: messages
name the store by the URL with its password masked. Reading a server store needs no read-only mode
of its own: a role that may only read lists and shows runs, and the server refuses its writes.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import re
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from discolab.core.errors import DiscolabError, StoreError
from discolab.core.graphs import resolve_graph
from discolab.core.igda.data_experimenter import load_interventions
from discolab.core.igda.observations import load_observations
from discolab.core.paths import data_path, is_writable, not_writable, store_error
from discolab.core.runs import masked_url, scrub
from discolab.core.stores import readonly_uri, sqlite_error
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from .checkpoints import (
    PlainDataSerializer,
    RunCheckpointer,
    UnsafeCheckpointError,
    postgres_checkpointer,
    server_connection,
)
from .configuration import DiscoverySettings
from .graph import build_graph
from .nodes import check_data, stored_graph

RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
CHECKPOINTS_URL = "DISCOLAB_CHECKPOINTS_URL"  # the checkpoint store, when not checkpoints.sqlite in the data directory

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

    def to_networkx(self, round: int | None = None, acyclic: bool = False):
        """The predicted graph after ``round`` (default: the last) as a networkx DiGraph: node
        descriptions; edge belief, status and provenance (see :mod:`.results`)."""
        from .results import result_graph

        return result_graph(self.run_id, round, acyclic)[0]

    def as_dict(self) -> dict:
        return {
            "run_id": self.run_id,
            "settings": self.settings.as_dict(),
            "simulated_prior": self.settings.prior.startswith("simulated"),
            "data": self.values.get("data"),
            "interventions": self.values.get("interventions"),
            "llm": self.values.get("llm"),
            "done": self.done,
            "question": self.question,
            "rounds": self.history,
        }


@dataclass(frozen=True)
class CheckpointStore:
    """Where runs are checkpointed: a SQLite file (``path``), or a PostgreSQL database (``url``).

    ``url`` holds the password, if the URL has one: it connects and is never shown; ``name``, what
    messages show, is the file or the URL with its password masked."""

    url: str = field(repr=False)
    path: Path | None = None

    @property
    def name(self) -> str:
        return str(self.path) if self.path else masked_url(self.url)


def checkpoint_store() -> CheckpointStore:
    """The store ``DISCOLAB_CHECKPOINTS_URL`` names: ``sqlite:///path/to/file.sqlite`` (SQLAlchemy's
    spelling: ``sqlite:////absolute/path``) or ``postgresql://user:password@host:port/name``;
    ``checkpoints.sqlite`` in the data directory when it is unset."""
    url = os.environ.get(CHECKPOINTS_URL, "").strip()
    if not url:
        return CheckpointStore("", data_path("checkpoints.sqlite"))
    scheme, separator, rest = url.partition("://")
    scheme = scheme.lower().split("+")[0]  # a SQLAlchemy URL may name its driver: postgresql+psycopg://
    if separator and scheme == "sqlite":
        import sqlalchemy as sa

        file = sa.engine.make_url(url).database
        if file and not file.startswith((":memory:", "file:")):
            path = Path(file).expanduser().absolute()
            with contextlib.suppress(OSError):  # a folder that cannot be made: readers find nothing, writers are told
                path.parent.mkdir(parents=True, exist_ok=True)
            return CheckpointStore(url, path)
    if separator and scheme in ("postgresql", "postgres"):
        return CheckpointStore(f"postgresql://{rest}")  # libpq's spelling
    raise DiscolabError(
        f"{CHECKPOINTS_URL}={masked_url(url)}: give a file, sqlite:///path/to/checkpoints.sqlite, "
        "or a server database, postgresql://user:password@host:port/name"
    )


def compiled_graph():
    """The loop compiled with the checkpointer of the current store (one per process): SQLite
    (``checkpoints.sqlite`` in the data directory unless ``DISCOLAB_CHECKPOINTS_URL`` says otherwise)
    or PostgreSQL."""
    store = checkpoint_store()
    return _compiled_for(str(store.path)) if store.path else _compiled_on_server(store.url)


@lru_cache(maxsize=4)
def _compiled_for(path: str):
    store = Path(path)
    with store_errors(path):
        if is_writable(store.parent):
            connection = sqlite3.connect(path, check_same_thread=False, timeout=60)
            connection.execute("PRAGMA journal_mode=WAL")  # the CLI, the dashboard and sweeps may share it
            saver = RunCheckpointer(connection)
            saver.setup()
        else:  # a read-only data directory: runs can still be listed and shown, as they are
            saver = RunCheckpointer(_read_only(store))
            saver.is_setup = True  # creating tables would be a write
    return build_graph().compile(checkpointer=saver)


_SERVER_GRAPHS: dict[str, Any] = {}  # URL -> the loop compiled with that database's checkpointer
_SERVER_LOCK = threading.Lock()


def _compiled_on_server(url: str):
    with _SERVER_LOCK:
        if url not in _SERVER_GRAPHS:
            with store_errors(CheckpointStore(url)):
                saver = postgres_checkpointer(url)
            _SERVER_GRAPHS[url] = build_graph().compile(checkpointer=saver)
        return _SERVER_GRAPHS[url]


def close_server_stores() -> None:
    """Close this process's connections to server checkpoint stores (the next use reconnects)."""
    with _SERVER_LOCK:
        for graph in _SERVER_GRAPHS.values():
            graph.checkpointer.close()
        _SERVER_GRAPHS.clear()


def _read_only(store: Path) -> sqlite3.Connection:
    return sqlite3.connect(readonly_uri(store), uri=True, check_same_thread=False)


def _server_errors() -> tuple[type[BaseException], ...]:
    try:
        import psycopg
    except ImportError:
        return ()
    return (psycopg.Error,)  # the pool's timeout is one too


@contextmanager
def store_errors(store: CheckpointStore | str, run_id: str | None = None) -> Iterator[None]:
    """Turn a damaged, full, locked or read-only checkpoint store, an unreachable server, or a refused
    checkpoint, into one line (a server's URL with its password masked)."""
    if not isinstance(store, CheckpointStore):
        store = CheckpointStore("", Path(store))
    try:
        yield
    except UnsafeCheckpointError as err:
        where = f"run {run_id!r} in {store.name}" if run_id else store.name
        if store.path:
            fix = "The file may have been tampered with; move it aside and keep it only if you trust it"
        else:
            fix = "The database may have been tampered with; delete the run, or restore the database from a backup"
        raise StoreError(f"refused to load {where}: {err}. {fix}") from None
    except sqlite3.Error as err:
        fix = "move it aside to start a new one (the runs in it cannot be resumed)"
        raise sqlite_error(err, store.path, "the checkpoint store", fix) from None
    except _server_errors() as err:
        detail = scrub(err, store.url) or type(err).__name__
        raise StoreError(
            f"cannot use the checkpoint store {store.name} ({detail}): check the URL, the role's rights "
            "and that the server is up"
        ) from None


def check_run_id(run_id: str) -> str:
    """A new run's id: letters, digits, '.', '_' and '-' (it is typed in shells and shown in pages)."""
    if not RUN_ID.fullmatch(run_id):
        raise DiscolabError(f"run id {run_id[:80]!r}: use 1-64 letters, digits, '.', '_' or '-'")
    return run_id


@contextmanager
def run_lock(run_id: str) -> Iterator[None]:
    """Hold the run's exclusive lock while driving it; refuse at once if another process has it."""
    name = hashlib.sha256(run_id.encode()).hexdigest()[:32]  # any id, even one from before ids were checked
    path = data_path("locks", f"{name}.lock")
    try:
        handle = open(path, "a+")
    except OSError as err:
        raise store_error(err, path, f"the lock of run {run_id}") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise DiscolabError(f"run {run_id} is being driven by another process right now") from None
            raise
        with _server_lock(run_id):
            yield  # the lock goes with the file's closing


@contextmanager
def _server_lock(run_id: str) -> Iterator[None]:
    """On a server store, which other machines may share, the run's PostgreSQL advisory lock too:
    held by a connection of its own, and released by the server when that connection goes."""
    store = checkpoint_store()
    if store.path:
        yield
        return
    key = int.from_bytes(hashlib.sha256(f"discolab run {run_id}".encode()).digest()[:8], "big", signed=True)
    with store_errors(store, run_id):
        connection = server_connection(store.url)
    with closing(connection):
        with store_errors(store, run_id):
            held = connection.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]
        if not held:
            raise DiscolabError(f"run {run_id} is being driven by another process right now")
        yield


def load_run(run_id: str) -> DiscoveryRun:
    """Where a stored run stands, without running anything."""
    store = checkpoint_store()
    _check_store_exists(store, run_id)
    with store_errors(store, run_id):
        snapshot = compiled_graph().get_state(_config(run_id))
    if not snapshot.values:
        raise DiscolabError(f"no discovery run with id {run_id!r} in {store.name}")
    settings = DiscoverySettings.from_dict(snapshot.values["settings"])
    return DiscoveryRun(run_id, settings, snapshot.values, _pending_question(snapshot))


def round_states(run_id: str) -> dict[int, dict]:
    """The run's values at the end of each completed round (0 = the prior), from its checkpoint
    history: what a round slider steps through."""
    store = checkpoint_store()
    _check_store_exists(store, run_id)
    states: dict[int, dict] = {}
    with store_errors(store, run_id):
        for snapshot in compiled_graph().get_state_history(_config(run_id)):  # newest first
            values = snapshot.values
            number = values.get("round") if values else None
            if number is None or number in states:
                continue
            if snapshot.next in (("select",), ()):  # right after elicit_prior or score: the round is closed
                states[number] = values
    if not states:
        raise DiscolabError(f"no discovery run with id {run_id!r} in {store.name}")
    return dict(sorted(states.items()))


def list_runs(limit: int = 50) -> list[dict]:
    """Stored runs, newest first: id, graph, prior, strategy, rounds done, and whether it waits for
    an answer. A run that cannot be read is listed with its error, not skipped and not fatal."""
    store = checkpoint_store()
    if store.path is None:
        with store_errors(store):
            run_ids = compiled_graph().checkpointer.thread_ids(limit)
    else:
        path = store.path
        if not path.exists():
            return []
        compiled_graph()  # creates the tables on a fresh data directory
        connect = sqlite3.connect(path, timeout=60) if is_writable(path.parent) else _read_only(path)
        with store_errors(store), closing(connect) as connection:
            rows = connection.execute(
                "SELECT thread_id, MAX(rowid) AS last FROM checkpoints GROUP BY thread_id ORDER BY last DESC LIMIT ?",
                (limit,),
            ).fetchall()
        run_ids = [run_id for run_id, _ in rows]
    out = []
    for run_id in run_ids:
        try:
            run = load_run(run_id)
        except DiscolabError as err:
            out.append({"run_id": run_id, "error": str(err)})
            continue
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

    The graph is read and every setting checked against it before anything is stored, so a
    run that could only fail is never created. ``durable=False`` keeps the checkpoints in memory
    only (offline evaluations run thousands of short runs whose results go to the runs database
    instead); such a run cannot be resumed.
    """
    run_id = check_run_id(run_id or uuid.uuid4().hex[:12])
    spec = settings.with_knowledge(resolve_graph(settings.graph))  # read afresh: the file may have changed
    settings.check_problem(spec)
    start = {"settings": settings.as_dict(), "graph": stored_graph(spec)}
    data = settings.data_file(spec)
    if data and (settings.uses_data_source or settings.strategy == "bootstrap"):
        # read and checked now, so that a bad table creates no run; its hash ties the run to it
        found = load_observations(data, spec, settings.ignore_columns, dict(settings.column_types))
        start["data"] = {"path": str(Path(data).resolve()), "sha256": found.digest, "summary": found.describe()}
    if settings.experimenter.startswith("data:"):
        path = Path(settings.experimenter.split(":", 1)[1]).resolve()
        experimenter = load_interventions(str(path), spec)
        summary = experimenter.describe(spec.ordered_pairs())
        start["interventions"] = {"path": str(path), "sha256": experimenter.digest, "summary": summary}
    if not durable:
        memory = build_graph().compile(InMemorySaver(serde=PlainDataSerializer()))
        return _drive(run_id, start, on_event, memory)
    store = checkpoint_store()
    if store.path and not is_writable(store.path.parent):  # say so before any work, not after the prior
        raise not_writable(store.path, "the checkpoint store")
    with run_lock(run_id):
        with store_errors(store, run_id):
            exists = bool(compiled_graph().get_state(_config(run_id)).values)
        if exists:
            raise DiscolabError(f"a run with id {run_id!r} exists already; use `discolab resume {run_id}`")
        return _drive(run_id, start, on_event)


def resume_discovery(run_id: str, answer: Any = None, on_event: Callable[[Event], None] | None = None) -> DiscoveryRun:
    """Continue a run from its last checkpoint; ``answer`` answers a pending human question."""
    with run_lock(run_id):
        run = load_run(run_id)
        if run.question is not None and answer is None:
            return run  # paused: nothing to do without an answer
        check_data(run.values)
        payload = Command(resume=answer) if run.question is not None else None
        return _drive(run_id, payload, on_event)


def delete_run(run_id: str) -> None:
    """Remove a stored run: its checkpoints, the writes pending in them and its stored values. Refused
    while another process drives it; a run refused as tampered with can still be deleted."""
    store = checkpoint_store()
    _check_store_exists(store, run_id)
    with run_lock(run_id), store_errors(store, run_id):
        saver = compiled_graph().checkpointer
        if store.path:
            with saver.cursor(transaction=False) as cursor:
                cursor.execute("SELECT 1 FROM checkpoints WHERE thread_id = ? LIMIT 1", (run_id,))
                found = cursor.fetchone() is not None
        else:
            found = saver.has_thread(run_id)
        if not found:
            raise DiscolabError(f"no discovery run with id {run_id!r} in {store.name}")
        saver.delete_thread(run_id)


def _drive(run_id: str, payload: Any, on_event, graph=None) -> DiscoveryRun:
    # an in-memory run (graph given) is named as before: it has no store of its own
    store = checkpoint_store() if graph is None else CheckpointStore("", data_path("checkpoints.sqlite"))
    graph = graph or compiled_graph()
    config = _config(run_id)
    events: list[Event] = []
    try:
        with store_errors(store, run_id):
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
    except StoreError:
        raise  # the store itself failed: its message says what to do
    except (DiscolabError, ValueError) as err:
        # Everything up to the last completed node is checkpointed: say how to go on.
        raise DiscolabError(f"{err} (run {run_id} is saved; continue it with `discolab resume {run_id}`)") from err
    snapshot = graph.get_state(config)
    settings = DiscoverySettings.from_dict(snapshot.values["settings"])
    return DiscoveryRun(run_id, settings, snapshot.values, _pending_question(snapshot), events)


def _check_store_exists(store: CheckpointStore, run_id: str) -> None:
    """Reading a run must not create an empty store where there was none (a file; a server database
    gets its tables when first connected to)."""
    if store.path and not store.path.exists():
        raise DiscolabError(f"no discovery run with id {run_id!r}: {store.path} does not exist")


def _pending_question(snapshot) -> dict | None:
    for task in snapshot.tasks:
        for pending in task.interrupts:
            return pending.value
    return None


def _config(run_id: str) -> dict:
    return {"configurable": {"thread_id": run_id}}
