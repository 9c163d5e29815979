"""A response cache in SQLite, so that reruns and sweeps cost no repeated LLM calls.

Keys hash (backend identity, prompt, parameters); the identity never holds an API key.

The cache is disposable, so its failures never stop a command: a damaged file is moved aside
(``llm.sqlite.damaged-TIMESTAMP``) and a new one started; where the file cannot be written (a
read-only data directory, a full disk) answers are kept for this process only. Each says so in a
one-line warning.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from ..errors import StoreError
from ..files import warn
from ..paths import data_path
from ..stores import is_damaged
from .base import LLMBackend, Prompt, Usage, YesNo

T = TypeVar("T")


def _usable(db: sqlite3.Connection) -> bool:
    try:
        db.execute("SELECT 1")
        return True
    except sqlite3.Error:
        return False


class ResponseCache:
    """Key -> JSON value store, safe to share between threads and processes (WAL mode)."""

    def __init__(self, path: str | Path | None = None):
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self._inode: int | None = None  # of the file opened: tells whether another process replaced it
        self._failed = False  # a failed read or write was reported: report it once, not per call
        try:
            self.path = Path(path) if path else data_path("cache", "llm.sqlite")
        except StoreError as err:  # a read-only data directory without a cache/ folder
            warn(f"{err}; answers are kept in memory for this run only")
            self.path = Path(":memory:")
        self._db = self._open()

    @staticmethod
    def key(*parts: Any) -> str:
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()

    def get_many(self, keys: Sequence[str]) -> dict[str, Any]:
        def read(db: sqlite3.Connection) -> dict[str, Any]:
            found: dict[str, Any] = {}
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                marks = ",".join("?" * len(chunk))
                rows = db.execute(f"SELECT key, value FROM responses WHERE key IN ({marks})", chunk)
                found.update((k, json.loads(v)) for k, v in rows)
            return found

        found = self._run(read, {})
        self.hits += sum(k in found for k in keys)
        self.misses += sum(k not in found for k in keys)
        return found

    def put_many(self, items: dict[str, Any]) -> None:
        rows = [(k, json.dumps(v)) for k, v in items.items()]

        def write(db: sqlite3.Connection) -> None:
            with db:  # one transaction
                db.executemany("INSERT OR REPLACE INTO responses (key, value) VALUES (?, ?)", rows)

        self._run(write, None)

    # -- keeping a disposable file usable ---------------------------------------------------
    def _run(self, action: Callable[[sqlite3.Connection], T], otherwise: T) -> T:
        """``action(connection)`` under the lock. A damaged file is replaced by a new one and the action
        run again; any other failure (full disk, read-only file, locked too long) returns ``otherwise``:
        the cache is then a miss, never an error."""
        with self._lock:
            try:
                try:
                    return action(self._db)
                except sqlite3.DatabaseError as err:
                    if not is_damaged(err):
                        raise
                    self._db.close()
                    self._move_aside(err)
                    self._db = self._open()
                    return action(self._db)
            except (sqlite3.Error, OSError, ValueError) as err:  # ValueError: a value that is not JSON
                if not self._failed:
                    warn(f"the response cache {self.path} failed ({err}); carrying on without it")
                    self._failed = True
                if not _usable(self._db):  # closed when moving it aside failed: go on in memory
                    self._db = self._connect(":memory:")
                return otherwise

    def _open(self) -> sqlite3.Connection:
        try:
            try:
                return self._connect(self.path)
            except sqlite3.DatabaseError as err:
                if not is_damaged(err):
                    raise
                self._move_aside(err)
                return self._connect(self.path)
        except (sqlite3.Error, OSError) as err:  # cannot open it or create its -wal file or table: read-only, full
            warn(
                f"the response cache {self.path} cannot be opened ({err}); answers are kept in memory for this run only"
            )
            return self._connect(":memory:")

    def _connect(self, target: Path | str) -> sqlite3.Connection:
        db = sqlite3.connect(target, check_same_thread=False, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        except sqlite3.Error:
            db.close()
            raise
        self._inode = None if str(target) == ":memory:" else os.stat(target).st_ino
        return db

    def _move_aside(self, err: sqlite3.Error) -> None:
        """Rename the damaged file (with its -wal and -shm) out of the way, unless another process that met
        the same damage has already done so and started a new file, which is then used as it is."""
        try:
            current = os.stat(self.path).st_ino
        except FileNotFoundError:
            return
        if self._inode not in (None, current):
            return
        aside = f"{self.path}.damaged-{time.strftime('%Y%m%d-%H%M%S')}"
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{self.path}{suffix}").exists():
                os.replace(f"{self.path}{suffix}", f"{aside}{suffix}")
        warn(f"the response cache {self.path} is damaged ({err}); moved it to {aside} and started a new one")

    def stats(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses}

    def close(self) -> None:
        self._db.close()


class CachedBackend:
    """Any backend with its answers cached; asks the backend only for what the cache lacks.

    Fallback answers (no usable reply) are not cached, so a later run asks again.
    """

    def __init__(self, backend: LLMBackend, cache: ResponseCache | None = None):
        self.backend = backend
        self.cache = cache or ResponseCache()
        self.kind = backend.kind
        self.model = backend.model
        self._asked = Usage()  # calls, cache hits and seconds; the tokens are the backend's own count

    @property
    def usage(self) -> Usage:
        """Everything this backend has cost so far (a run takes the difference over its calls)."""
        tokens = getattr(self.backend, "usage", Usage())
        return Usage(
            self._asked.calls,
            self._asked.cache_hits,
            tokens.prompt_tokens,
            tokens.completion_tokens,
            self._asked.seconds,
        )

    @property
    def context_tokens(self) -> int | None:
        """The wrapped backend's context length, where it knows it (a server's must be given)."""
        return getattr(self.backend, "context_tokens", None)

    def count_tokens(self, text: str) -> int | None:
        """The wrapped backend's token count of ``text``, where it has a tokenizer (else None)."""
        count = getattr(self.backend, "count_tokens", None)
        return count(text) if count else None

    def _ask(self, count: int, ask: Callable[[], T]) -> T:
        start = time.perf_counter()
        try:
            return ask()
        finally:
            self._asked.calls += count
            self._asked.seconds += time.perf_counter() - start

    def identity(self) -> dict[str, Any]:
        return self.backend.identity()

    def score_yes_no(self, prompts: Sequence[Prompt], progress: bool = False) -> list[YesNo]:
        identity = self.identity()
        keys = [self.cache.key("yes_no", identity, p) for p in prompts]
        found = self.cache.get_many(keys)
        todo = [i for i, k in enumerate(keys) if k not in found]
        self._asked.cache_hits += len(keys) - len(todo)
        ask = partial(self.backend.score_yes_no, [prompts[i] for i in todo], progress=progress)
        fresh = self._ask(len(todo), ask) if todo else []
        self.cache.put_many({keys[i]: a.as_dict() for i, a in zip(todo, fresh) if not a.fallback})
        answers = {keys[i]: a for i, a in zip(todo, fresh)}
        return [answers[k] if k in answers else YesNo(**found[k]) for k in keys]

    def chat(self, messages: Prompt, *, max_tokens: int = 256, temperature: float = 0.0, seed: int = 0) -> str:
        params = {"max_tokens": max_tokens, "temperature": temperature, "seed": seed}
        key = self.cache.key("chat", self.identity(), messages, params)
        found = self.cache.get_many([key])
        if key in found:
            self._asked.cache_hits += 1
            return found[key]
        reply = self._ask(1, partial(self.backend.chat, messages, **params))
        self.cache.put_many({key: reply})
        return reply
