"""Errors a user can act on. The CLI prints them as one line; everything else is a bug."""

from __future__ import annotations

import reprlib
from collections.abc import Sequence
from typing import Any

MAX_MESSAGE_CHARS = 600  # the longest one-line error the CLI prints; longer ones are cut with a marker
SHOWN_CHARS = 30  # how much of a value from a file or a table a message quotes

_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = SHOWN_CHARS
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = _SHORT.maxset = 4
_SHORT.maxlevel = 2


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


def short_repr(value: Any) -> str:
    """A value quoted in a message: its repr, cut to about ``SHOWN_CHARS`` characters (a 1 MB name
    or a huge structure is shown in part)."""
    try:
        return _SHORT.repr(value)
    except ValueError:  # e.g. an int too long to print
        return f"<{type(value).__name__}>"
