"""SQLite files in the data directory: opening one read-only, and its errors as one clear line.

The runs database, the checkpoint store and the response cache are SQLite files; the same error
means the same thing in each, so it is sorted once here, by SQLite's result code (never by
message text): damaged, full, not writable, locked, or something else (then named as it is,
without advice that could cost the user her data).
"""

from __future__ import annotations

import sqlite3
import urllib.parse
from pathlib import Path

from .errors import StoreError
from .paths import not_writable

DAMAGED = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)  # a file that is not a sound database


def result_code(err: BaseException) -> int | None:
    """SQLite's primary result code of an error from the driver, if it carries one."""
    code = getattr(err, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


def is_damaged(err: BaseException) -> bool:
    return result_code(err) in DAMAGED


def readonly_uri(path: Path) -> str:
    """The URI that reads ``path`` without writing anything beside it: ``mode=ro``, and
    ``immutable=1`` when no ``-wal`` file is there (WAL mode would otherwise create a -shm file;
    with a -wal file left by a killed writer, immutable would miss what it holds)."""
    wal = path.with_name(path.name + "-wal").exists()
    return f"file:{urllib.parse.quote(str(path))}?mode=ro" + ("" if wal else "&immutable=1")


def sqlite_error(err: BaseException, path: Path, what: str, damaged_fix: str, detail: str | None = None) -> StoreError:
    """One line for an error met on the SQLite file ``path`` (``what``: its role, e.g. "the runs
    database"; ``damaged_fix``: what to do with a damaged one; ``detail``: the driver's text, scrubbed)."""
    name = f"{what} {path}"
    detail = detail if detail is not None else " ".join(str(err).split())
    code = result_code(err)
    if code in DAMAGED:
        return StoreError(f"{name} is damaged ({detail}): {damaged_fix}")
    if code == sqlite3.SQLITE_FULL:
        return StoreError(f"no space left for {name} ({detail}): free some space; what was recorded before is kept")
    if code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM):
        return not_writable(path, what, detail)
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return StoreError(f"{name} is locked by another process ({detail}): try again when it has finished")
    return StoreError(f"cannot use {name} ({detail}): check the file and its disk")
