"""Errors a user can act on. The CLI prints them as one line; everything else is a bug."""

from __future__ import annotations

from collections.abc import Sequence

MAX_MESSAGE_CHARS = 600  # the longest one-line error the CLI prints; longer ones are cut with a marker


class DiscolabError(Exception):
    """Base class for errors caused by input or environment, not by a bug."""


class GraphFileError(DiscolabError):
    """A graph file or graph specification is malformed."""


class LLMError(DiscolabError):
    """An LLM backend could not answer (configuration, connection, server)."""


class StoreError(DiscolabError):
    """A file or database in the data directory is damaged, locked or not writable."""


def summarize_problems(problems: Sequence[str], shown: int = 5) -> str:
    """The first ``shown`` problems joined by '; ', and how many more there are."""
    text = "; ".join(problems[:shown])
    if len(problems) > shown:
        text += f"; and {len(problems) - shown} more"
    return text


def one_line(message: object, limit: int = MAX_MESSAGE_CHARS) -> str:
    """A message as one printable line of at most ``limit`` characters: control characters
    (newlines, ANSI escapes, NUL) become visible escapes, and a long message is cut."""
    text = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in str(message))
    return text if len(text) <= limit else text[: limit - 25] + f" ... ({len(text) - limit + 25} more chars)"
