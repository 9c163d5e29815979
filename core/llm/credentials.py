"""Which API key goes to which OpenAI-compatible server.

The environment's key (``OPENAI_API_KEY``) is a credential for one server: the one named by
``OPENAI_BASE_URL``, or the official API when that is unset. A base URL can also come from
places the person running the process does not control (a dashboard field, a tool argument
chosen by a model), and such a URL must not receive that key. So:

- the environment's key goes to the environment's base URL, and to URLs the person running the
  process trusted on the command line (:func:`trust_base_url`);
- a key typed in the dashboard goes to the URL it was typed for (:func:`set_api_key`);
- every other URL gets no key (local servers accept any).

Both registries live in this process's memory only: nothing here is written, logged or shown.
URLs are compared after :func:`normalise_url`; a different port or path is a different server.
Where a base URL is typed, several servers of one model (one per GPU) can be given, separated by
commas (:func:`split_base_urls`): each is a server of its own here, and gets its own key by these
rules, never another's.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

from ..errors import LLMError

OFFICIAL_URL = "https://api.openai.com/v1"
NO_KEY = "not-needed"  # what a keyless client sends: local servers usually accept any key

_lock = threading.Lock()  # the dashboard's sessions run in threads of one process
_trusted: set[str] = set()
_typed: dict[str, str] = {}


def normalise_url(url: str) -> str:
    """``url`` with its scheme and host lowercased and trailing slashes dropped; nothing else changes."""
    parts = urlsplit(url.strip())
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"), parts.query, parts.fragment))


def check_base_url(url: str, source: str = "base URL") -> str:
    """``url`` if it is an http(s) URL with a host, else an :class:`LLMError` naming ``source``."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise LLMError(f"{source} {url!r} is not an http:// or https:// URL with a host")
    return url


def split_base_urls(urls: str | Sequence[str]) -> list[str]:
    """The URLs in ``urls``: a list, or one string with URLs separated by commas, blanks dropped.
    Not checked (:func:`check_base_urls` is): this also serves to trust or key what was typed."""
    parts = urls.split(",") if isinstance(urls, str) else list(urls)
    return [part.strip() for part in parts if part and part.strip()]


def check_base_urls(urls: str | Sequence[str], source: str = "base URL") -> list[str]:
    """The servers ``urls`` names (:func:`split_base_urls`), each checked by :func:`check_base_url`,
    trailing slashes dropped; an :class:`LLMError` naming ``source`` if it names none, or one server
    twice (a request spread over "two" servers would go to one)."""
    checked: list[str] = []
    seen: dict[str, str] = {}
    for url in split_base_urls(urls):
        url = check_base_url(url, source).rstrip("/")
        first = seen.get(normalise_url(url))
        if first is not None:
            also = f" (as {first!r} and {url!r})" if first != url else ""
            raise LLMError(f"{source} names the server {first!r} twice{also}")
        seen[normalise_url(url)] = url
        checked.append(url)
    if not checked:
        raise LLMError(f"{source} {urls!r} names no URL")
    return checked


def default_base_url() -> str:
    """The environment's server: ``OPENAI_BASE_URL``, else the official API."""
    url = os.environ.get("OPENAI_BASE_URL") or OFFICIAL_URL
    return check_base_url(url, "OPENAI_BASE_URL").rstrip("/")


def trust_base_url(url: str) -> None:
    """Let the environment's key go to ``url`` too: for a URL given on the command line (several
    separated by commas: each of them)."""
    with _lock:
        _trusted.update(normalise_url(part) for part in split_base_urls(url))


def set_api_key(url: str, key: str | None) -> None:
    """Use ``key`` (typed in the dashboard) for ``url`` (several separated by commas: for each of
    them, as typed beside them); an empty key forgets the one set before."""
    with _lock:
        for part in map(normalise_url, split_base_urls(url)):
            if key:
                _typed[part] = key
            else:
                _typed.pop(part, None)


def api_key_for(base_url: str | None) -> str | None:
    """The key that may be sent to ``base_url`` (None: the environment's server), or None."""
    url = normalise_url(base_url or default_base_url())
    with _lock:
        typed, trusted = _typed.get(url), url in _trusted
    if typed:
        return typed
    if trusted or url == normalise_url(default_base_url()):
        return os.environ.get("OPENAI_API_KEY") or None
    return None


def client_api_key(base_url: str) -> str:
    """What a client for ``base_url`` sends: its key, or a placeholder for servers that need none.

    The official API always needs a key, so asking it without one fails here, plainly.
    """
    key = api_key_for(base_url)
    if key:
        return key
    if normalise_url(base_url) == OFFICIAL_URL:
        if os.environ.get("OPENAI_API_KEY"):  # set, but meant for the server OPENAI_BASE_URL names
            raise LLMError(
                f"no API key for {OFFICIAL_URL}: OPENAI_API_KEY goes only to OPENAI_BASE_URL "
                f"({default_base_url()}) or a --base-url given on the command line"
            )
        raise LLMError(f"no API key for {OFFICIAL_URL}: set OPENAI_API_KEY, or point OPENAI_BASE_URL at a local server")
    return NO_KEY
