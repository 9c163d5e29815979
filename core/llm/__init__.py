"""LLM backends behind one small protocol: in-process transformers (default) or OpenAI-compatible."""

from __future__ import annotations

from .base import (
    CHARACTER_PROBABILITY,
    FALLBACK,
    LOGPROBS,
    SAMPLES,
    TOKEN_PROBABILITY,
    LLMBackend,
    Prompt,
    YesNo,
    parse_yes_no,
    yes_no_prompt,
)
from .cache import CachedBackend, ResponseCache
from .credentials import api_key_for, set_api_key, trust_base_url

BACKENDS = ("local", "openai")  # a CharED ensemble ("chared") is built by discolab.core.chared


def make_backend(kind: str = "local", *, cache: bool = True, **options) -> LLMBackend:
    """A backend by kind, wrapped in the response cache unless ``cache=False``.

    ``options`` go to :class:`LocalBackend` or :class:`OpenAIBackend` (``model``, ``dtype``,
    ``base_url``, ...); ``None`` values are dropped so that callers can pass CLI flags through.
    """
    options = {k: v for k, v in options.items() if v is not None}
    if kind == "local":
        from .local import LocalBackend

        backend = LocalBackend(**options)
    elif kind == "openai":
        from .openai_backend import OpenAIBackend

        backend = OpenAIBackend(**options)
    elif kind == "chared":
        from ..chared.backend import CharEDBackend

        backend = CharEDBackend(**options)
    else:
        from ..errors import LLMError

        raise LLMError(f"unknown backend {kind!r}; choose from {', '.join(BACKENDS)}")
    return CachedBackend(backend) if cache else backend


__all__ = [
    "BACKENDS",
    "CHARACTER_PROBABILITY",
    "FALLBACK",
    "LOGPROBS",
    "SAMPLES",
    "TOKEN_PROBABILITY",
    "CachedBackend",
    "LLMBackend",
    "Prompt",
    "ResponseCache",
    "YesNo",
    "api_key_for",
    "make_backend",
    "parse_yes_no",
    "set_api_key",
    "trust_base_url",
    "yes_no_prompt",
]
