"""The checkpoint store and the runs database on a PostgreSQL server, against a throwaway local one.

The session's fixture starts PostgreSQL with ``initdb`` and ``pg_ctl`` (found on PATH or in
/usr/lib/postgresql/*/bin) in a temporary directory, on a free localhost port with its Unix socket
in that directory, password authentication over TCP, and stops it (``pg_ctl stop -m immediate``)
and removes the directory afterwards. initdb refuses to run as root, so under root the server runs
as the ``postgres`` user (or ``nobody``) through ``setpriv``. The tests are skipped, with the
reason, where no binaries, no such user or no ``langgraph-checkpoint-postgres``/``psycopg`` is
found, or the server does not start.
"""

import glob
import os
import pickle
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import ormsgpack
import pytest
from discolab.agents.discovery import DiscoverySettings, list_runs, load_run, resume_discovery, start_discovery
from discolab.agents.discovery import run as run_module
from discolab.core.errors import DiscolabError, StoreError

QUICK = dict(graph="cancer", prior="simulated:0.7", update="none", rounds=3, per_round=1)
EXT_CONSTRUCTOR_POS_ARGS = 1  # langgraph's msgpack record: import module, call name(*args)


def _binaries() -> tuple[str, str] | None:
    """initdb and pg_ctl: on PATH, else the newest /usr/lib/postgresql/*/bin."""
    found = shutil.which("initdb"), shutil.which("pg_ctl")
    if all(found):
        return found
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda f: int(Path(f).parent.name), reverse=True):
        initdb, pg_ctl = Path(folder, "initdb"), Path(folder, "pg_ctl")
        if initdb.exists() and pg_ctl.exists():
            return str(initdb), str(pg_ctl)
    return None


def _as_server_user() -> tuple[list[str], pwd.struct_passwd | None]:
    """The command prefix that runs PostgreSQL's programs: none for a normal user; under root (which
    initdb refuses) setpriv to the ``postgres`` user, or to ``nobody``."""
    if os.geteuid() != 0:
        return [], None
    setpriv = shutil.which("setpriv")
    for name in ("postgres", "nobody"):
        try:
            user = pwd.getpwnam(name)
        except KeyError:
            continue
        if setpriv:
            return [setpriv, f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", "--"], user
    pytest.skip("running as root, which initdb refuses, with no setpriv or no postgres/nobody user to run it as")


class Server:
    """A running throwaway PostgreSQL: its port, password and database URLs."""

    def __init__(self, port: int, password: str, user: str):
        self.port, self.password, self.user = port, password, user

    def url(self, database: str = "postgres", password: str | None = None, user: str = "discolab") -> str:
        password = self.password if password is None else password
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{database}"

    def sql(self, query: str, *args, database: str = "postgres"):
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as connection:
            cursor = connection.execute(query, args or None)
            return cursor.fetchall() if cursor.description else cursor.rowcount


@pytest.fixture(scope="session")
def postgres():
    for module in ("psycopg", "langgraph.checkpoint.postgres"):
        pytest.importorskip(module, reason="pip install 'discolab[postgres]' for the server-store tests")
    binaries = _binaries()
    if binaries is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin")
    initdb, pg_ctl = binaries
    prefix, user = _as_server_user()
    home = Path(tempfile.mkdtemp(prefix="discolab-pg-"))  # /tmp: short enough for the socket's path
    password = "pw-" + secrets.token_hex(12)
    (home / "password").write_text(password + "\n")
    if user is not None:
        for path in (home, home / "password"):
            os.chown(path, user.pw_uid, user.pw_gid)
    data, log = home / "data", home / "server.log"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = False
    try:
        init = [*prefix, initdb, "-D", str(data), "-U", "discolab", f"--pwfile={home / 'password'}", "-E", "UTF8"]
        init += ["--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync"]
        done = subprocess.run(init, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            pytest.skip(f"initdb failed: {(done.stderr or done.stdout).strip()[-300:]}")
        options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
        start = [*prefix, pg_ctl, "start", "-w", "-t", "60", "-D", str(data), "-l", str(log), "-o", options]
        started = subprocess.run(start, capture_output=True, text=True, timeout=90).returncode == 0
        if not started:
            pytest.skip(f"PostgreSQL did not start: {log.read_text()[-300:] if log.exists() else 'no log'}")
        server = Server(port, password, user.pw_name if user else pwd.getpwuid(os.getuid()).pw_name)
        for database in ("checkpoints", "runs"):
            server.sql(f"CREATE DATABASE {database}")
        yield server
    finally:
        run_module.close_server_stores()  # before the server goes: no pool left retrying
        if started:
            pid = int((data / "postmaster.pid").read_text().split()[0])
            subprocess.run([*prefix, pg_ctl, "stop", "-m", "immediate", "-w", "-D", str(data)], capture_output=True)
            deadline = time.time() + 30
            while _alive(pid) and time.time() < deadline:
                time.sleep(0.1)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(home, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def on_server(postgres, monkeypatch, tmp_path):
    """Discovery runs checkpointed on the server, with a fresh data directory (locks only)."""
    monkeypatch.setenv("DISCOLAB_HOME", str(tmp_path))
    monkeypatch.setenv("DISCOLAB_CHECKPOINTS_URL", postgres.url("checkpoints"))
    return postgres


def planted(marker) -> bytes:
    """A checkpoint value whose decoding, by LangGraph's permissive default, calls os.mkdir(marker)."""
    record = ormsgpack.Ext(EXT_CONSTRUCTOR_POS_ARGS, ormsgpack.packb(["os", "mkdir", [str(marker)]]))
    return ormsgpack.packb([{"round": 0, "payload": record}])


class Mkdir:
    """Unpickling this calls os.mkdir(path)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.mkdir, (self.path,))


# Checkpoints are written in the background while the next nodes run (LangGraph's default
# durability), so the process waits for round 1's to reach the server before it dies.
CRASH_AT_ROUND_2 = """
import os, signal, time
import psycopg
import discolab.agents.discovery.nodes as nodes
from discolab.agents.discovery import DiscoverySettings, start_discovery

real, calls = nodes.make_experimenter, []
ROUND = "SELECT MAX((checkpoint -> 'channel_values' ->> 'round')::int) FROM checkpoints WHERE thread_id = 'crashed'"

def dying(*args, **kwargs):  # round 2's experiment: the process dies as if killed
    calls.append(1)
    if len(calls) == 2:
        deadline = time.time() + 60
        with psycopg.connect(os.environ["DISCOLAB_CHECKPOINTS_URL"], autocommit=True) as db:
            while (db.execute(ROUND).fetchone()[0] or 0) < 1 and time.time() < deadline:
                time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*args, **kwargs)

nodes.make_experimenter = dying
start_discovery(DiscoverySettings(**{settings!r}), run_id="crashed")
"""


def test_the_setting_moves_the_sqlite_store_and_a_run_can_be_deleted(monkeypatch, tmp_path):
    monkeypatch.setenv("DISCOLAB_HOME", str(tmp_path / "home"))
    start_discovery(DiscoverySettings(**QUICK), run_id="at-home")
    assert (tmp_path / "home" / "checkpoints.sqlite").exists()  # unset: the data directory, as before
    run_module.delete_run("at-home")
    assert list_runs() == []
    with pytest.raises(DiscolabError, match="no discovery run with id 'at-home'"):
        run_module.delete_run("at-home")

    elsewhere = tmp_path / "shared" / "runs.sqlite"
    monkeypatch.setenv("DISCOLAB_CHECKPOINTS_URL", f"sqlite:///{elsewhere}")  # sqlite:////abs/path
    assert run_module.checkpoint_store().path == elsewhere
    start_discovery(DiscoverySettings(**QUICK), run_id="elsewhere")
    assert elsewhere.exists() and [r["run_id"] for r in list_runs()] == ["elsewhere"]
    assert sorted(run_module.round_states("elsewhere")) == [0, 1, 2, 3]
    monkeypatch.delenv("DISCOLAB_CHECKPOINTS_URL")
    assert list_runs() == []  # the default store does not have it


def test_a_server_url_without_the_postgres_extra_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("DISCOLAB_HOME", str(tmp_path))
    monkeypatch.setitem(sys.modules, "langgraph.checkpoint.postgres", None)  # as if not installed
    monkeypatch.setenv("DISCOLAB_CHECKPOINTS_URL", "postgresql://someone:hunter2@127.0.0.1:1/db")
    with pytest.raises(DiscolabError, match=r"pip install 'discolab\[postgres\]'") as caught:
        list_runs()
    assert "hunter2" not in str(caught.value)


def test_a_run_on_postgres_resumes_after_a_crash_and_is_listed_and_deleted(on_server, tmp_path):
    script = textwrap.dedent(CRASH_AT_ROUND_2).format(settings=QUICK)
    crashed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    interrupted = load_run("crashed")
    assert interrupted.values["round"] == 1 and [r["round"] for r in interrupted.history] == [0, 1]

    resumed = resume_discovery("crashed")
    reference = start_discovery(DiscoverySettings(**QUICK), run_id="reference")
    assert resumed.done and [r["round"] for r in resumed.history] == [0, 1, 2, 3]
    assert resumed.history == reference.history  # the crash and the resume changed nothing
    assert sorted(run_module.round_states("crashed")) == [0, 1, 2, 3]
    listed = [r for r in list_runs() if r["run_id"] in ("crashed", "reference")]
    assert [r["run_id"] for r in listed] == ["reference", "crashed"]  # the last checkpointed first
    assert listed[1]["rounds_done"] == 3 and not listed[1]["waiting"]
    assert not (tmp_path / "checkpoints.sqlite").exists()  # everything went to the server
    assert on_server.sql("SELECT COUNT(*) FROM checkpoints WHERE thread_id = 'crashed'", database="checkpoints")[0][0]

    run_module.delete_run("reference")
    assert "reference" not in {r["run_id"] for r in list_runs()}
    with pytest.raises(DiscolabError, match="no discovery run with id 'reference'"):
        load_run("reference")
    for table in ("checkpoints", "checkpoint_blobs", "checkpoint_writes"):
        assert on_server.sql(f"SELECT COUNT(*) FROM {table} WHERE thread_id = 'reference'", database="checkpoints") == [
            (0,)
        ]


@pytest.mark.parametrize("kind", ["msgpack", "pickle"])
def test_a_planted_record_on_the_server_is_refused_as_in_sqlite(on_server, tmp_path, capsys, kind):
    run_id = f"planted-{kind}"
    start_discovery(DiscoverySettings(**QUICK), run_id=run_id)
    marker = tmp_path / "ran"
    payload = planted(marker) if kind == "msgpack" else pickle.dumps(Mkdir(marker))
    changed = on_server.sql(
        "UPDATE checkpoint_blobs SET type = %s, blob = %s WHERE thread_id = %s AND channel = 'history'",
        kind,
        payload,
        run_id,
        database="checkpoints",
    )
    assert changed > 0
    refused = "os.mkdir" if kind == "msgpack" else "stored as 'pickle'"
    with pytest.raises(StoreError, match=f"{refused}.*tampered") as caught:  # the class SQLite's refusal has
        load_run(run_id)
    assert "postgresql://discolab:***@127.0.0.1" in str(caught.value) and on_server.password not in str(caught.value)
    with pytest.raises(StoreError, match="tampered"):
        run_module.round_states(run_id)
    assert "tampered" in {r["run_id"]: r for r in list_runs()}[run_id]["error"]
    from discolab.ui.cli import main

    assert main(["resume", run_id]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and refused in err and on_server.password not in err
    assert not marker.exists()
    run_module.delete_run(run_id)  # a refused run can still be deleted
    assert run_id not in {r["run_id"] for r in list_runs()}


def test_a_round_on_the_server_stores_what_changed(on_server):
    """As with SQLite: the pairs, the prior and the graph (a string, which PostgresSaver would copy
    into every checkpoint row) are stored once; a round adds its own small changes."""

    def stored(run_id: str, rounds: int) -> int:
        settings = DiscoverySettings(graph="alarm", prior="simulated:0.7", update="structural", rounds=rounds)
        start_discovery(settings, run_id=run_id)
        once = on_server.sql(
            "SELECT COUNT(*) FROM checkpoint_blobs WHERE thread_id = %s"
            " AND channel IN ('pairs', 'prior_beliefs', 'graph')",
            run_id,
            database="checkpoints",
        )[0][0]
        assert once == 3
        inline = on_server.sql(
            "SELECT COUNT(*) FROM checkpoints WHERE thread_id = %s AND checkpoint -> 'channel_values' ? 'graph'",
            run_id,
            database="checkpoints",
        )[0][0]
        assert inline == 0
        (total,) = on_server.sql(
            "SELECT (SELECT COALESCE(SUM(octet_length(blob)), 0) FROM checkpoint_blobs WHERE thread_id = %s)"
            " + (SELECT SUM(octet_length(blob)) FROM checkpoint_writes WHERE thread_id = %s)"
            " + (SELECT SUM(octet_length(checkpoint::text) + octet_length(metadata::text)) FROM checkpoints"
            " WHERE thread_id = %s)",
            run_id,
            run_id,
            run_id,
            database="checkpoints",
        )[0]
        return int(total)

    per_round = (stored("bytes-3-rounds", 3) - stored("bytes-0-rounds", 0)) / 3
    graph = len(load_run("bytes-3-rounds").values["graph"])
    assert per_round < 5 * graph, (per_round, graph)  # five checkpoints a round, none with its own copy
    print(f"alarm on PostgreSQL: {per_round / 1e3:.1f} kB a round; the graph string is {graph / 1e3:.1f} kB")


def test_a_run_driven_on_another_machine_is_refused(on_server):
    """The file lock is per machine; on a shared server the run's advisory lock refuses a second driver."""
    with run_module._server_lock("elsewhere"):  # another machine's driver: the server lock without our file lock
        with pytest.raises(DiscolabError, match="being driven by another process"):
            start_discovery(DiscoverySettings(**QUICK), run_id="elsewhere")
    assert start_discovery(DiscoverySettings(**QUICK), run_id="elsewhere").done  # released with its connection


def test_a_read_only_role_lists_and_shows_runs_and_cannot_write(on_server, monkeypatch):
    start_discovery(DiscoverySettings(**QUICK), run_id="for-readers")
    on_server.sql("CREATE ROLE reader LOGIN PASSWORD 'reader-secret'", database="checkpoints")
    on_server.sql("GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader", database="checkpoints")
    monkeypatch.setenv("DISCOLAB_CHECKPOINTS_URL", on_server.url("checkpoints", "reader-secret", user="reader"))
    assert "for-readers" in {r["run_id"] for r in list_runs()}
    assert load_run("for-readers").history[-1]["round"] == 3
    with pytest.raises(StoreError, match="permission denied") as caught:
        start_discovery(DiscoverySettings(**QUICK), run_id="by-a-reader")
    assert "reader-secret" not in str(caught.value) and "reader:***@" in str(caught.value)


def _sweep_cell(config: dict, seed: int) -> dict:
    if config["n"] == 2 and seed == 1:
        raise ValueError("this cell fails")
    return [{"metric": "loss", "value": config["n"] / (step + 1) + seed, "step": step} for step in range(3)] + [
        {"metric": "accuracy", "value": 0.5 + 0.1 * seed, "step": 2}
    ]


def test_the_runs_database_on_postgres_records_a_sweep_and_reads_it_back(postgres, tmp_path):
    from discolab.core.runs import RunsDB
    from discolab.experiments.sweep import Sweep, grid_configs, run_sweep

    db = RunsDB(postgres.url("runs"))
    assert db.path is None and db.url == f"postgresql://discolab:***@127.0.0.1:{postgres.port}/runs"
    sweep = Sweep("server-sweep", _sweep_cell, grid_configs({"n": [1, 2]}, width=8), seeds=[0, 1], setting_keys=["n"])
    first = run_sweep(sweep, db, progress=False)
    assert (first.done, first.failed, first.skipped) == (3, 1, 0)
    wide = db.wide("server-sweep")
    assert len(wide) == 3 * 3 and set(wide.columns) >= {"config_hash", "seed", "step", "loss", "accuracy", "n"}
    last = wide[(wide.n == 2) & (wide.seed == 0) & (wide.step == 2)].iloc[0]
    assert last.loss == pytest.approx(2 / 3) and last.accuracy == pytest.approx(0.5)

    other = RunsDB(postgres.url("runs").replace("postgresql://", "postgres://"))  # another process, libpq's spelling
    again = run_sweep(sweep, other, progress=False)
    assert (again.done, again.failed, again.skipped) == (0, 1, 3)  # the finished cells are not run again
    cells = other.cells("server-sweep")
    assert sorted(cells.status) == ["done", "done", "done", "failed"] and "this cell fails" in " ".join(
        cells.error.dropna()
    )
    summary = other.experiments().set_index("experiment").loc["server-sweep"]
    assert (summary.done, summary.failed, summary.rows) == (3, 1, 12)
    assert other.export_csv("server-sweep", tmp_path / "rows.csv") == 12
    assert other.delete("server-sweep") == 4
    with pytest.raises(DiscolabError, match="no results"):
        db.results("server-sweep")


def test_the_password_is_never_shown(postgres, monkeypatch, tmp_path, capsys, caplog):
    import logging

    from discolab.core.runs import RunsDB
    from discolab.ui.cli import main

    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("DISCOLAB_HOME", str(tmp_path))
    wrong = "wrong-" + secrets.token_hex(8)
    for url, secret in [
        (postgres.url("checkpoints", wrong), wrong),  # refused by the server
        (postgres.url("no-such-database"), postgres.password),  # accepted, then the database is missing
        (f"postgresql://discolab@127.0.0.1:{postgres.port}/nowhere?password={wrong}", wrong),  # in the query
        (f"postgresql+psycopg://discolab:{wrong}@127.0.0.1:1/x", wrong),  # no server there
    ]:
        monkeypatch.setenv("DISCOLAB_CHECKPOINTS_URL", url)
        with pytest.raises(StoreError) as caught:
            list_runs()
        message = str(caught.value)
        assert secret not in message and "***" in message and message.count("\n") == 0, message
        assert main(["resume", "some-run"]) == 2
        err = capsys.readouterr().err
        assert secret not in err and "***" in err, err
        with pytest.raises(DiscolabError) as caught:
            RunsDB(url.replace("checkpoints", "runs"))
        assert secret not in str(caught.value) and "***" in str(caught.value), str(caught.value)
    monkeypatch.setenv("DISCOLAB_CHECKPOINTS_URL", "mysql://discolab:" + wrong + "@host/db")
    with pytest.raises(DiscolabError, match=r"DISCOLAB_CHECKPOINTS_URL=mysql://discolab:\*\*\*@host/db: give"):
        list_runs()

    monkeypatch.setenv("DISCOLAB_CHECKPOINTS_URL", postgres.url("checkpoints"))
    run = start_discovery(DiscoverySettings(**QUICK), run_id="no-secrets-kept")
    assert postgres.password not in repr(run.as_dict()) and postgres.password not in repr(run_module.checkpoint_store())
    needle = postgres.password.encode()
    for table, column in [("checkpoints", "checkpoint::text::bytea"), ("checkpoint_blobs", "blob")]:
        query = f"SELECT COUNT(*) FROM {table} WHERE position(%s::bytea in COALESCE({column}, ''::bytea)) > 0"
        assert postgres.sql(query, needle, database="checkpoints") == [(0,)]
    assert postgres.password not in caplog.text and wrong not in caplog.text
