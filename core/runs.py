"""The runs database: every experiment's per-seed results, in a real SQL database.

One row per (cell, metric, step): experiment name, config (JSON) and its hash, seed, the
setting/scale parameters (the config's grid values, JSON), metric, value, step (for
trajectories; 0 otherwise), code version and time. A second table records each cell's status
(``done`` or ``failed`` with its error) so that a sweep rerun skips finished cells and a failure
is kept rather than lost.

SQLite in the data directory by default (``runs.sqlite``); ``DISCOLAB_RUNS_URL`` or the ``url``
argument selects any database SQLAlchemy speaks to (``postgresql://...``). SQLite runs in WAL
mode with a busy timeout, and a cell's rows and its status are written in one transaction, so
several processes can write at once without corrupting or losing rows.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from .errors import DiscolabError
from .paths import data_path

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
    return os.environ.get("DISCOLAB_RUNS_URL") or f"sqlite:///{data_path('runs.sqlite')}"


def _sqlite_pragmas(connection, _record) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cursor.execute("PRAGMA busy_timeout=60000")  # writers wait their turn instead of failing
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class RunsDB:
    """Read and write experiment results. Cheap to create; one per process."""

    def __init__(self, url: str | None = None):
        self.url = url or default_url()
        try:
            self.engine = sa.create_engine(self.url)
        except (sa.exc.ArgumentError, ImportError) as err:
            raise DiscolabError(f"cannot open the runs database {self.url!r}: {err}") from None
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            METADATA.create_all(self.engine)
        except sa.exc.SQLAlchemyError as err:
            raise DiscolabError(f"cannot open the runs database {self.url!r}: {err}") from None

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
        with self.engine.begin() as connection:
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
        with self.engine.begin() as connection:
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
        with self.engine.begin() as connection:
            connection.execute(RESULTS.delete().where(RESULTS.c.experiment == experiment))
            return connection.execute(CELLS.delete().where(CELLS.c.experiment == experiment)).rowcount

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
        with self.engine.connect() as connection:
            return {(h, s) for h, s in connection.execute(query)}

    def cells(self, experiment: str | None = None) -> pd.DataFrame:
        """One row per cell: config, seed, status, error, seconds, code version."""
        query = sa.select(CELLS)
        if experiment is not None:
            query = query.where(CELLS.c.experiment == experiment)
        with self.engine.connect() as connection:
            return pd.read_sql(query, connection)

    def results(self, experiment: str, expand: bool = True) -> pd.DataFrame:
        """All result rows of ``experiment``; with ``expand`` the setting's keys become columns."""
        query = sa.select(RESULTS).where(RESULTS.c.experiment == experiment).order_by(RESULTS.c.id)
        with self.engine.connect() as connection:
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
        with self.engine.connect() as connection:
            summary = pd.read_sql(cells, connection).merge(pd.read_sql(rows, connection), on="experiment", how="left")
        summary["rows"] = summary["rows"].fillna(0).astype(int)
        summary["last"] = pd.to_datetime(summary["last"], unit="s").dt.strftime("%Y-%m-%d %H:%M")
        return summary.sort_values("experiment").reset_index(drop=True)

    def export_csv(self, experiment: str, path: str | Path) -> int:
        frame = self.results(experiment)
        frame.to_csv(path, index=False)
        return len(frame)


def _metric_rows(metrics) -> list[dict]:
    if isinstance(metrics, Mapping):
        return [{"metric": str(k), "value": v, "step": 0} for k, v in metrics.items()]
    rows = [dict(r) for r in metrics]
    for row in rows:
        if "metric" not in row or "value" not in row:
            raise ValueError(f"a metric row needs 'metric' and 'value', got {row!r}")
    return rows
