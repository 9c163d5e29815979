"""The store of discovery runs: LangGraph checkpoints in SQLite, plain data only, each value once.

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
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import ormsgpack
from discolab.core.errors import StoreError
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
