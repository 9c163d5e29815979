"""The store of discovery runs: LangGraph checkpoints in SQLite or PostgreSQL, plain data only, each value once.

Two departures from langgraph's ``SqliteSaver``, both about what the file holds:

- **Plain data only.** LangGraph's default serializer rebuilds any type a checkpoint names
  (msgpack extension records carry a module and a constructor), so a planted record in a
  tampered ``checkpoints.sqlite`` would run code when a run is resumed or listed. A run's state
  here is plain data (dicts, lists, strings, numbers); :class:`PlainDataSerializer` checks every
  record before anything is built and refuses the whole checkpoint, with a :class:`StoreError`,
  if it names any type but the few LangGraph itself needs (a pending human question is an
  ``Interrupt``).
- **Each channel's value stored once per version.** ``SqliteSaver`` writes every channel's
  value into every checkpoint, so a run over n variables rewrote all n^2 beliefs, pairs and the
  graph after every node (182 MB per round at 1,000 variables). Like LangGraph's in-memory and
  Postgres savers, :class:`RunCheckpointer` writes a channel's value to a ``blobs`` table only
  when its version changes and puts the checkpoint back together on read.

On a database server (``DISCOLAB_CHECKPOINTS_URL=postgresql://...``, see :mod:`.run`),
:func:`postgres_checkpointer` gives LangGraph's ``PostgresSaver`` the same serializer; it already
stores values once per version, and its subclass here (:func:`server_saver_class`) extends that
to text values.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterator
from typing import Any

import ormsgpack
from discolab.core.errors import DiscolabError, StoreError
from langgraph.checkpoint.serde import jsonplus
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver

# The only non-plain types a discovery run's checkpoints hold: a pending human question.
ALLOWED_TYPES = frozenset({("langgraph.types", "Interrupt")})
# LangGraph's records that name a type or a function as (module, name, ...); a delta snapshot only wraps a value.
_NAMED_TYPE_CODES = {
    jsonplus.EXT_CONSTRUCTOR_SINGLE_ARG,
    jsonplus.EXT_CONSTRUCTOR_POS_ARGS,
    jsonplus.EXT_CONSTRUCTOR_KW_ARGS,
    jsonplus.EXT_METHOD_SINGLE_ARG,
    jsonplus.EXT_PYDANTIC_V1,
    jsonplus.EXT_PYDANTIC_V2,
}
_DELTA_SNAPSHOT = jsonplus.EXT_DELTA_SNAPSHOT
_PLAIN_ENCODINGS = ("null", "bytes", "bytearray", "msgpack")


class UnsafeCheckpointError(StoreError):
    """A checkpoint names a type that discolab does not rebuild."""


def named_types(payload: bytes) -> list[str]:
    """The types a msgpack payload's extension records name, outside :data:`ALLOWED_TYPES`.

    Only inspects: the records are decoded as data, nothing is imported or called. (The hook
    records rather than raises, as ormsgpack replaces a hook's exception with its own.)"""
    refused: list[str] = []

    def inspect(code: int, data: bytes) -> None:
        inner = ormsgpack.unpackb(data, ext_hook=inspect, option=ormsgpack.OPT_NON_STR_KEYS)
        if code == _DELTA_SNAPSHOT:
            return None
        named = code in _NAMED_TYPE_CODES and isinstance(inner, (list, tuple)) and len(inner) >= 2
        key = (str(inner[0]), str(inner[1])) if named else None
        if key not in ALLOWED_TYPES:
            refused.append(".".join(key)[:120] if key else f"extension record {code}")
        return None

    ormsgpack.unpackb(payload, ext_hook=inspect, option=ormsgpack.OPT_NON_STR_KEYS)
    return refused


class PlainDataSerializer(JsonPlusSerializer):
    """LangGraph's serializer for writing; for reading, plain data and :data:`ALLOWED_TYPES` only."""

    def __init__(self) -> None:
        super().__init__(allowed_msgpack_modules=list(ALLOWED_TYPES))

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        encoding, payload = data
        if encoding not in _PLAIN_ENCODINGS:  # "json" revives constructors, "pickle" runs code
            raise UnsafeCheckpointError(f"it is stored as {str(encoding)[:40]!r}, not as plain msgpack data")
        if encoding == "msgpack":
            try:
                refused = named_types(payload)
            except (ValueError, TypeError) as err:
                raise UnsafeCheckpointError(f"it does not decode as msgpack ({err})") from None
            if refused:
                raise UnsafeCheckpointError(
                    f"it names {', '.join(map(repr, refused[:3]))}, and a discovery run holds plain data only"
                )
        return super().loads_typed(data)


class RunCheckpointer(SqliteSaver):
    """``SqliteSaver`` with :class:`PlainDataSerializer` and channel values stored once per version."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        super().__init__(connection, serde=PlainDataSerializer())

    def setup(self) -> None:
        if self.is_setup:
            return
        super().setup()
        self.conn.execute(
            """CREATE TABLE IF NOT EXISTS blobs (
                thread_id TEXT NOT NULL, checkpoint_ns TEXT NOT NULL, channel TEXT NOT NULL,
                version TEXT NOT NULL, type TEXT NOT NULL, blob BLOB,
                PRIMARY KEY (thread_id, checkpoint_ns, channel, version))"""
        )
        self.conn.commit()

    def put(self, config, checkpoint, metadata, new_versions):
        thread_id = str(config["configurable"]["thread_id"])
        namespace = config["configurable"]["checkpoint_ns"]
        values = checkpoint["channel_values"]
        rows = [
            (thread_id, namespace, channel, str(version), *self._dump(values, channel))
            for channel, version in new_versions.items()
        ]
        self.setup()
        with self.cursor() as cursor:  # blobs first: a crash in between leaves only unused blobs
            cursor.executemany("INSERT OR REPLACE INTO blobs VALUES (?, ?, ?, ?, ?, ?)", rows)
        return super().put(config, {**checkpoint, "channel_values": {}}, metadata, new_versions)

    def get_tuple(self, config):
        found = super().get_tuple(config)
        return self._with_values(found) if found else None

    def list(self, config, *, filter=None, before=None, limit=None) -> Iterator:
        # Read the rows first: the parent's generator holds the connection's lock while it yields.
        for found in [*super().list(config, filter=filter, before=before, limit=limit)]:
            yield self._with_values(found)

    def delete_thread(self, thread_id: str) -> None:
        super().delete_thread(thread_id)
        with self.cursor() as cursor:
            cursor.execute("DELETE FROM blobs WHERE thread_id = ?", (str(thread_id),))

    def _dump(self, values: dict, channel: str) -> tuple[str, bytes]:
        return self.serde.dumps_typed(values[channel]) if channel in values else ("empty", b"")

    def _with_values(self, found):
        """Fill a checkpoint read from the table with the values of its channels' versions."""
        configurable = found.config["configurable"]
        versions = found.checkpoint["channel_versions"]
        keys = [(channel, str(version)) for channel, version in versions.items()]
        stored = {}
        if keys:
            with self.cursor(transaction=False) as cursor:
                cursor.execute(
                    "SELECT channel, version, type, blob FROM blobs WHERE thread_id = ? AND checkpoint_ns = ?"
                    f" AND (channel, version) IN (VALUES {', '.join(['(?, ?)'] * len(keys))})",
                    (str(configurable["thread_id"]), configurable.get("checkpoint_ns", ""), *sum(keys, ())),
                )
                stored = {(channel, version): (kind, blob) for channel, version, kind, blob in cursor.fetchall()}
        values = found.checkpoint["channel_values"]
        for key in keys:
            kind, blob = stored.get(key, ("empty", b""))
            if kind != "empty":
                values[key[0]] = self.serde.loads_typed((kind, blob))
        return found


# -- PostgreSQL ---------------------------------------------------------------------------------
CONNECT_TIMEOUT_S = 10  # libpq's own default is to wait for as long as TCP does


def _postgres():
    """LangGraph's Postgres saver and psycopg, from the optional ``postgres`` extra."""
    try:
        import psycopg
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg_pool import ConnectionPool
    except ImportError as err:
        raise DiscolabError(
            f"a postgresql:// checkpoint store needs LangGraph's Postgres saver and psycopg ({err}): "
            "pip install 'discolab[postgres]'"
        ) from None
    return psycopg, PostgresSaver, ConnectionPool


def server_connection(url: str, **options: Any):
    """A psycopg connection to ``url`` (autocommit; it gives up after :data:`CONNECT_TIMEOUT_S` unless
    the URL sets ``connect_timeout``)."""
    psycopg, _, _ = _postgres()
    return psycopg.connect(url, autocommit=True, **_connect_options(url), **options)


def _connect_options(url: str) -> dict:
    from psycopg.conninfo import conninfo_to_dict

    return {} if "connect_timeout" in conninfo_to_dict(url) else {"connect_timeout": CONNECT_TIMEOUT_S}


def postgres_checkpointer(url: str):
    """A ``ServerRunCheckpointer`` (:func:`server_saver_class`) on the PostgreSQL database ``url``
    (``postgresql://user:password@host:port/name``), reading with :class:`PlainDataSerializer`.

    Its tables are created when missing. A role that may only read (or a read-only standby) uses the
    tables as they are: runs are listed and shown, and the server refuses writes. The saver draws its
    connection from a pool of one, which replaces a connection the server dropped (a restart), as a
    dashboard that stays up needs.
    """
    psycopg, _, ConnectionPool = _postgres()
    from psycopg.rows import dict_row

    options = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    # One direct connection first: it says at once, in libpq's words, why the server cannot be used.
    with server_connection(url, prepare_threshold=0, row_factory=dict_row) as connection:
        try:
            server_saver_class()(connection).setup()
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ReadOnlySqlTransaction):
            found = connection.execute("SELECT to_regclass('checkpoint_blobs') IS NOT NULL AS found").fetchone()
            if not found["found"]:
                raise
    pool = ConnectionPool(
        url,
        min_size=1,
        max_size=1,  # the saver holds its lock around every use of the connection
        kwargs={**options, **_connect_options(url)},
        check=ConnectionPool.check_connection,
        name="discolab-checkpoints",
        open=False,
    )
    pool.open(wait=True, timeout=2 * CONNECT_TIMEOUT_S)
    return server_saver_class()(pool)


@functools.cache
def server_saver_class() -> type:
    """:class:`ServerRunCheckpointer`, defined on first use, so that the ``postgres`` extra stays optional."""
    _, PostgresSaver, ConnectionPool = _postgres()

    class ServerRunCheckpointer(PostgresSaver):
        """LangGraph's ``PostgresSaver`` with :class:`PlainDataSerializer`, text values stored once per version.

        ``PostgresSaver`` stores a channel's value in ``checkpoint_blobs`` once per version, except
        None, booleans, numbers and strings, which it copies into every checkpoint row (JSONB). A
        run's graph is a string (104.5 kB at 1,000 variables) and there are five checkpoints a round,
        so strings go to the blobs too. What psycopg reads from the JSONB columns is plain JSON; every
        other value (a blob, a pending write) is decoded by the serializer, which refuses a checkpoint
        naming a type outside :data:`ALLOWED_TYPES`, as :class:`RunCheckpointer` does.
        """

        def __init__(self, conn) -> None:
            super().__init__(conn, serde=PlainDataSerializer())

        def put(self, config, checkpoint, metadata, new_versions):
            values = checkpoint["channel_values"]
            texts = {channel: value for channel, value in values.items() if isinstance(value, str)}
            changed = {channel: version for channel, version in new_versions.items() if channel in texts}
            if changed:  # blobs first: a crash in between leaves only unused blobs
                configurable = config["configurable"]
                rows = self._dump_blobs(configurable["thread_id"], configurable["checkpoint_ns"], texts, changed)
                with self._cursor(pipeline=True) as cursor:
                    cursor.executemany(self.UPSERT_CHECKPOINT_BLOBS_SQL, rows)
            if texts:
                rest = {channel: value for channel, value in values.items() if channel not in texts}
                checkpoint = {**checkpoint, "channel_values": rest}
            return super().put(config, checkpoint, metadata, new_versions)

        def thread_ids(self, limit: int | None = None) -> list[str]:
            """The threads (run ids) stored, the last checkpointed first; nothing is decoded."""
            query = (
                "SELECT thread_id, MAX(checkpoint_id) AS last FROM checkpoints GROUP BY thread_id ORDER BY last DESC"
            )
            with self._cursor() as cursor:
                if limit is None:
                    cursor.execute(query)
                else:
                    cursor.execute(query + " LIMIT %s", (int(limit),))
                return [row["thread_id"] for row in cursor.fetchall()]

        def has_thread(self, thread_id: str) -> bool:
            with self._cursor() as cursor:
                cursor.execute("SELECT 1 FROM checkpoints WHERE thread_id = %s LIMIT 1", (str(thread_id),))
                return cursor.fetchone() is not None

        def close(self) -> None:
            """Close the connection pool (a saver built on one connection leaves it to its owner)."""
            if isinstance(self.conn, ConnectionPool):
                self.conn.close()

    return ServerRunCheckpointer
