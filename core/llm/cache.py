"""A response cache in SQLite, so that reruns and sweeps cost no repeated LLM calls.

Keys hash (backend identity, prompt, parameters); the identity never holds an API key.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..paths import data_path
from .base import LLMBackend, Prompt, YesNo


class ResponseCache:
    """Key -> JSON value store, safe to share between threads and processes (WAL mode)."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else data_path("cache", "llm.sqlite")
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(*parts: Any) -> str:
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()

    def get_many(self, keys: Sequence[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(f"SELECT key, value FROM responses WHERE key IN ({marks})", chunk)
                found.update((k, json.loads(v)) for k, v in rows)
        self.hits += sum(k in found for k in keys)
        self.misses += sum(k not in found for k in keys)
        return found

    def put_many(self, items: dict[str, Any]) -> None:
        with self._lock, self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO responses (key, value) VALUES (?, ?)",
                [(k, json.dumps(v)) for k, v in items.items()],
            )

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

    def identity(self) -> dict[str, Any]:
        return self.backend.identity()

    def score_yes_no(self, prompts: Sequence[Prompt], progress: bool = False) -> list[YesNo]:
        identity = self.identity()
        keys = [self.cache.key("yes_no", identity, p) for p in prompts]
        found = self.cache.get_many(keys)
        todo = [i for i, k in enumerate(keys) if k not in found]
        fresh = self.backend.score_yes_no([prompts[i] for i in todo], progress=progress) if todo else []
        self.cache.put_many({keys[i]: a.as_dict() for i, a in zip(todo, fresh) if not a.fallback})
        answers = {keys[i]: a for i, a in zip(todo, fresh)}
        return [answers[k] if k in answers else YesNo(**found[k]) for k in keys]

    def chat(self, messages: Prompt, *, max_tokens: int = 256, temperature: float = 0.0, seed: int = 0) -> str:
        params = {"max_tokens": max_tokens, "temperature": temperature, "seed": seed}
        key = self.cache.key("chat", self.identity(), messages, params)
        found = self.cache.get_many([key])
        if key in found:
            return found[key]
        reply = self.backend.chat(messages, **params)
        self.cache.put_many({key: reply})
        return reply
