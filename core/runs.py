"""The runs database: every experiment's per-seed results, in a real SQL database.

One row per (cell, metric, step): experiment name, config (JSON) and its hash, seed, the
setting/scale parameters (the config's grid values, JSON), metric, value, step (for
trajectories; 0 otherwise), code version and time. A second table records each cell's status
(``done`` or ``failed`` with its error) so that a sweep rerun skips finished cells and a failure
is kept rather than lost.

SQLite in the data directory by default (``runs.sqlite``); ``DISCOLAB_RUNS_URL`` or the ``url``
argument selects any database SQLAlchemy speaks to (``postgresql://...``, through psycopg 3 when it is
installed: ``pip install 'discolab[postgres]'``; tested against a local server in
tests/test_server_stores.py). SQLite runs in WAL
mode with a busy timeout, and a cell's rows and its status are written in one transaction, so
several processes can write at once without corrupting or losing rows.

Failures of the store itself are one-line :class:`StoreError`s that name the file: a damaged
database (never deleted: the user moves it aside or restores it), a read-only data directory
(reading still works: the file is opened read-only and only writes are refused), a full disk (the
transaction is rolled back, so nothing recorded is lost). A database URL's password is never shown:
``RunsDB.url`` is the URL with the password masked.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import json
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from .errors import DiscolabError, StoreError
from .files import atomic_write
from .paths import data_home, is_writable, not_writable, store_error
from .stores import readonly_uri, sqlite_error

METADATA = sa.MetaData()
RESULTS = sa.Table(
    "results",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("experiment", sa.String(200), nullable=False, index=True),
    sa.Column("config_hash", sa.String(16), nullable=False),
    sa.Column("config", sa.Text, nullable=False),
    sa.Column("setting", sa.Text, nullable=False),
    sa.Column("seed", sa.Integer, nullable=False),
    sa.Column("metric", sa.String(200), nullable=False),
    sa.Column("value", sa.Float),
    sa.Column("step", sa.Integer, nullable=False, default=0),
    sa.Column("code_version", sa.String(64), nullable=False),
    sa.Column("created", sa.Float, nullable=False),
)
CELLS = sa.Table(
    "cells",
    METADATA,
    sa.Column("experiment", sa.String(200), primary_key=True),
    sa.Column("config_hash", sa.String(16), primary_key=True),
    sa.Column("seed", sa.Integer, primary_key=True),
    sa.Column("config", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # done | failed
    sa.Column("error", sa.Text),
    sa.Column("seconds", sa.Float),
    sa.Column("code_version", sa.String(64), nullable=False),
    sa.Column("created", sa.Float, nullable=False),
)


def config_hash(config: Mapping[str, Any]) -> str:
    """A stable 16-hex-digit hash of a JSON-serialisable config (key order does not matter)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


@functools.cache
def code_version() -> str:
    """The package version, plus the git commit (and ``+dirty``) when run from a checkout."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        base = version("discolab")
    except PackageNotFoundError:
        base = "unknown"
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
        )
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return base
    if commit.returncode != 0:
        return base
    return f"{base}+{commit.stdout.strip()}" + ("+dirty" if dirty.stdout.strip() else "")


def default_url() -> str:
    # data_home, not data_path: opening the database must not need a writable data directory
    return os.environ.get("DISCOLAB_RUNS_URL") or f"sqlite:///{data_home() / 'runs.sqlite'}"


SECRET_QUERY_KEYS = ("password", "passwd", "pwd", "sslpassword")  # libpq and drivers take these in the query too


def masked_url(url: str) -> str:
    """``url`` with its password, in the user part or the query, replaced by ``***``: the form that may be printed."""
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:  # not a URL SQLAlchemy can parse: hide everything before the host
        head, at, host = url.rpartition("@")
        return f"{head.split('//')[0]}//***@{host}" if at else url
    query = {k: ("***" if k.lower() in SECRET_QUERY_KEYS else v) for k, v in parsed.query.items()}
    shown = parsed.update_query_dict(query).render_as_string(hide_password=True)
    return shown.replace("=%2A%2A%2A", "=***")  # the query's mask, as the user part's reads


def scrub(text: object, url: str) -> str:
    """A driver's message on one line, with ``url`` and its passwords (which drivers may echo) masked."""
    text = " ".join(str(text).split())
    text = text.replace(url, masked_url(url))
    for secret in _secrets(url):
        text = text.replace(secret, "***")
    return text


def engine_url(url: str) -> str | sa.engine.URL:
    """``url`` as SQLAlchemy should open it: ``postgres://`` (libpq's other spelling) as ``postgresql://``,
    and a PostgreSQL URL that names no driver through psycopg 3 where it is installed (SQLAlchemy 2.0
    would otherwise look for psycopg2)."""
    parsed = sa.engine.make_url(url)
    if parsed.drivername not in ("postgres", "postgresql"):
        return url
    driver = "postgresql+psycopg" if importlib.util.find_spec("psycopg") else "postgresql"
    return parsed.set(drivername=driver)


def _secrets(url: str) -> list[str]:
    """The password values in ``url`` (user part and query), to scrub from a driver's messages."""
    with contextlib.suppress(sa.exc.ArgumentError):
        parsed = sa.engine.make_url(url)
        values = [parsed.password] + [v for k, v in parsed.query.items() if k.lower() in SECRET_QUERY_KEYS]
        return [str(v) for value in values if value for v in ([value] if isinstance(value, str) else value)]
    return []


def _sqlite_pragmas(connection, _record) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cursor.execute("PRAGMA busy_timeout=60000")  # writers wait their turn instead of failing
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class RunsDB:
    """Read and write experiment results. Cheap to create; one per process.

    ``url`` is the database URL with its password masked; the real one stays private.
    """

    def __init__(self, url: str | None = None, readonly: bool = False):
        self._url = url or default_url()
        self.url = masked_url(self._url)
        self.path: Path | None = None  # the SQLite file, when the database is one
        self.readonly = readonly  # also: a file we cannot write (below)
        try:
            parsed = sa.engine.make_url(self._url)
            file = parsed.database or ":memory:"
            if parsed.get_backend_name() == "sqlite" and not file.startswith((":memory:", "file:")):
                self.path = Path(file).expanduser().absolute()
                # a folder (or file) we cannot write is opened read-only: commands that only read still work
                self.readonly = (
                    readonly
                    or not is_writable(self.path.parent)
                    or (self.path.exists() and not os.access(self.path, os.W_OK))
                )
                self.engine = self._sqlite_engine()
            else:  # a server (pre-ping: a connection it dropped while a long sweep computed is replaced)
                self.engine = sa.create_engine(engine_url(self._url), pool_pre_ping=True)
        except sa.exc.ArgumentError as err:
            raise DiscolabError(
                f"cannot open the runs database {self.url}: {self._scrub(err)}; give a URL such as "
                "sqlite:///path/to/runs.sqlite or postgresql://user@host/name"
            ) from None
        except ImportError as err:
            raise DiscolabError(
                f"cannot open the runs database {self.url}: its driver is not installed ({self._scrub(err)}); "
                "pip install it"
            ) from None
        if not self.readonly:
            with self._errors():
                METADATA.create_all(self.engine)

    def _sqlite_engine(self) -> sa.Engine:
        # Read-only: every read works as usual and _write refuses writes with a clear message.
        if not self.readonly:
            engine = sa.create_engine(self._url)
            sa.event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        if not self.path.exists():  # nothing recorded yet: read an empty database
            engine = sa.create_engine("sqlite://", poolclass=sa.pool.StaticPool)
            METADATA.create_all(engine)
            return engine
        # WAL mode needs to create the -shm file beside the database; with no -wal file (the normal state
        # after the last writer closed) every result is in the file itself and immutable=1 reads it as is.
        uri = readonly_uri(self.path)
        return sa.create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True, timeout=60))

    # -- errors ---------------------------------------------------------------------------
    def _scrub(self, text: object) -> str:
        """Driver text on one line, with the URL's password (which drivers may echo) masked."""
        return scrub(text, self._url)

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn the driver's errors into one-line StoreErrors that name the database and what to do."""
        try:
            yield
        except sa.exc.DBAPIError as err:
            raise self._store_error(err.orig) from None
        except OSError as err:
            if isinstance(err.__cause__, sa.exc.DBAPIError):  # pandas wraps the driver's error in an OSError
                raise self._store_error(err.__cause__.orig) from None
            raise store_error(err, self.path or self.url, "the runs database") from None

    def _store_error(self, error: BaseException) -> StoreError:
        detail = self._scrub(error)
        if self.path:
            fix = "move it aside or restore it from a backup"
            return sqlite_error(error, self.path, "the runs database", fix, detail)
        fix = "check the URL and that the database server is up"
        return StoreError(f"cannot use the runs database {self.url} ({detail}): {fix}")

    @contextlib.contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        with self._errors(), self.engine.connect() as connection:
            yield connection

    @contextlib.contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        """A transaction: everything in it is written, or nothing."""
        if self.readonly:
            if self.path is None:  # a server opened read-only (an import's source)
                raise StoreError(f"the runs database {self.url} is open read-only here")
            raise not_writable(self.path, "the runs database")
        with self._errors(), self.engine.begin() as connection:
            yield connection

    # -- writing --------------------------------------------------------------------------
    def record(
        self,
        experiment: str,
        config: Mapping[str, Any],
        seed: int,
        metrics: Mapping[str, float] | Iterable[Mapping[str, Any]],
        setting: Mapping[str, Any] | None = None,
        seconds: float | None = None,
    ) -> int:
        """Store one finished cell: its metric rows and its ``done`` status, atomically.

        ``metrics`` is ``{name: value}`` or rows ``{"metric", "value", "step"}`` (a trajectory).
        Recording a cell again replaces its rows. Returns the number of rows written.
        """
        rows = _metric_rows(metrics)
        key, now, version = config_hash(config), time.time(), code_version()
        text = json.dumps(config, sort_keys=True, default=str)
        setting_text = json.dumps(dict(setting or config), sort_keys=True, default=str)
        values = [
            {
                "experiment": experiment,
                "config_hash": key,
                "config": text,
                "setting": setting_text,
                "seed": int(seed),
                "metric": row["metric"],
                "value": None if row["value"] is None else float(row["value"]),
                "step": int(row.get("step", 0)),
                "code_version": version,
                "created": now,
            }
            for row in rows
        ]
        with self._write() as connection:
            self._clear_cell(connection, experiment, key, seed)
            if values:
                connection.execute(RESULTS.insert(), values)
            connection.execute(
                CELLS.insert(),
                {
                    "experiment": experiment,
                    "config_hash": key,
                    "seed": int(seed),
                    "config": text,
                    "status": "done",
                    "error": None,
                    "seconds": seconds,
                    "code_version": version,
                    "created": now,
                },
            )
        return len(values)

    def record_failure(
        self, experiment: str, config: Mapping[str, Any], seed: int, error: str, seconds: float | None = None
    ) -> None:
        """Store that a cell failed, with its error; a rerun of the sweep tries it again."""
        key = config_hash(config)
        with self._write() as connection:
            self._clear_cell(connection, experiment, key, seed)
            connection.execute(
                CELLS.insert(),
                {
                    "experiment": experiment,
                    "config_hash": key,
                    "seed": int(seed),
                    "config": json.dumps(config, sort_keys=True, default=str),
                    "status": "failed",
                    "error": error[-4000:],
                    "seconds": seconds,
                    "code_version": code_version(),
                    "created": time.time(),
                },
            )

    def delete(self, experiment: str) -> int:
        """Remove every result and cell of ``experiment`` (so that its sweep runs afresh); returns the cells removed."""
        with self._write() as connection:
            connection.execute(RESULTS.delete().where(RESULTS.c.experiment == experiment))
            return connection.execute(CELLS.delete().where(CELLS.c.experiment == experiment)).rowcount

    def import_cells(self, source: RunsDB, experiments: Iterable[str] | None = None) -> dict[str, int]:
        """Copy into this database the finished cells of ``source`` (another runs database, e.g. one
        a sweep filled on another machine) that this one has not finished, with their rows exactly
        as recorded there (config, setting, seed, code version, time), so that a sweep here skips
        them and reports read them. A cell done here is kept as it is; one that failed here is
        replaced. ``experiments`` limits the copy to those names. One transaction: all or nothing.

        Returns ``{"cells": copied, "rows": copied, "kept": cells already done here}``.
        """
        if self.path is not None and self.path == source.path:
            raise DiscolabError(f"cannot import {source.url} into itself")
        with source._read() as connection:
            if not sa.inspect(connection).has_table("cells"):
                raise DiscolabError(f"{source.url} is not a runs database: it has no cells table")
        cells = source.cells()
        cells = cells[cells["status"] == "done"]
        if experiments is not None:
            wanted = set(experiments)
            if missing := sorted(wanted - set(cells["experiment"])):
                raise DiscolabError(f"no finished cells of {', '.join(missing)} in {source.url}")
            cells = cells[cells["experiment"].isin(wanted)]
        keys = ["experiment", "config_hash", "seed"]
        here = self.cells()
        done_here = set(zip(*(here.loc[here["status"] == "done", c] for c in keys)))
        failed_here = set(zip(*(here.loc[here["status"] != "done", c] for c in keys)))
        new = cells[[key not in done_here for key in zip(*(cells[c] for c in keys))]]
        report = {"cells": len(new), "rows": 0, "kept": len(cells) - len(new)}
        if new.empty:
            return report
        query = sa.select(RESULTS).where(RESULTS.c.experiment.in_(sorted(set(new["experiment"]))))
        with source._read() as connection:
            rows = pd.read_sql(query, connection)
        rows = rows.merge(new[keys], on=keys).drop(columns="id")
        with self._write() as connection:
            for experiment, key, seed in failed_here.intersection(zip(*(new[c] for c in keys))):
                self._clear_cell(connection, experiment, key, seed)
            if not rows.empty:
                connection.execute(RESULTS.insert(), _records(rows))
            connection.execute(CELLS.insert(), _records(new))
        report["rows"] = len(rows)
        return report

    @staticmethod
    def _clear_cell(connection, experiment: str, key: str, seed: int) -> None:
        for table in (RESULTS, CELLS):
            connection.execute(
                table.delete().where(
                    (table.c.experiment == experiment) & (table.c.config_hash == key) & (table.c.seed == int(seed))
                )
            )

    # -- reading --------------------------------------------------------------------------
    def done_cells(self, experiment: str) -> set[tuple[str, int]]:
        """(config hash, seed) of the cells of ``experiment`` that finished."""
        query = sa.select(CELLS.c.config_hash, CELLS.c.seed).where(
            (CELLS.c.experiment == experiment) & (CELLS.c.status == "done")
        )
        with self._read() as connection:
            return {(h, s) for h, s in connection.execute(query)}

    def cells(self, experiment: str | None = None) -> pd.DataFrame:
        """One row per cell: config, seed, status, error, seconds, code version."""
        query = sa.select(CELLS)
        if experiment is not None:
            query = query.where(CELLS.c.experiment == experiment)
        with self._read() as connection:
            return pd.read_sql(query, connection)

    def results(self, experiment: str, expand: bool = True) -> pd.DataFrame:
        """All result rows of ``experiment``; with ``expand`` the setting's keys become columns."""
        query = sa.select(RESULTS).where(RESULTS.c.experiment == experiment).order_by(RESULTS.c.id)
        with self._read() as connection:
            frame = pd.read_sql(query, connection)
        if frame.empty:
            raise DiscolabError(f"no results for experiment {experiment!r} in {self.url}")
        if expand:
            settings = pd.DataFrame([json.loads(s) for s in frame["setting"]], index=frame.index)
            settings = settings.drop(columns=[c for c in settings.columns if c in frame.columns])
            frame = pd.concat([frame, settings], axis=1)
        return frame

    def wide(self, experiment: str) -> pd.DataFrame:
        """One row per (cell, step) with the setting's keys and one column per metric: the shape
        analyses want."""
        frame = self.results(experiment, expand=False)
        keys = ["config_hash", "seed", "step"]
        metrics = frame.set_index([*keys, "metric"])["value"].unstack("metric").rename_axis(columns=None)
        cells = frame.drop_duplicates("config_hash").set_index("config_hash")["setting"]
        settings = pd.DataFrame([json.loads(s) for s in cells], index=cells.index)
        settings = settings.drop(columns=[c for c in settings.columns if c in (*keys, *metrics.columns)])
        return metrics.reset_index().join(settings, on="config_hash")

    def experiments(self) -> pd.DataFrame:
        """Per experiment: cells done and failed, result rows, last write."""
        cells = sa.select(
            CELLS.c.experiment,
            sa.func.sum(sa.case((CELLS.c.status == "done", 1), else_=0)).label("done"),
            sa.func.sum(sa.case((CELLS.c.status == "failed", 1), else_=0)).label("failed"),
            sa.func.max(CELLS.c.created).label("last"),
        ).group_by(CELLS.c.experiment)
        rows = sa.select(RESULTS.c.experiment, sa.func.count().label("rows")).group_by(RESULTS.c.experiment)
        with self._read() as connection:
            summary = pd.read_sql(cells, connection).merge(pd.read_sql(rows, connection), on="experiment", how="left")
        summary["rows"] = summary["rows"].fillna(0).astype(int)
        summary["last"] = pd.to_datetime(summary["last"], unit="s").dt.strftime("%Y-%m-%d %H:%M")
        return summary.sort_values("experiment").reset_index(drop=True)

    def export_csv(self, experiment: str, path: str | Path) -> int:
        """Write the results of ``experiment`` to a CSV file, atomically (a failed export leaves no
        half-written file); returns the number of rows."""
        frame = self.results(experiment)
        with atomic_write(path, "the CSV file") as temporary:
            frame.to_csv(temporary, index=False)
        return len(frame)


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows for an INSERT: plain Python values, missing ones (NaN) as NULL."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def _metric_rows(metrics) -> list[dict]:
    if isinstance(metrics, Mapping):
        return [{"metric": str(k), "value": v, "step": 0} for k, v in metrics.items()]
    rows = [dict(r) for r in metrics]
    for row in rows:
        if "metric" not in row or "value" not in row:
            raise ValueError(f"a metric row needs 'metric' and 'value', got {row!r}")
    return rows
