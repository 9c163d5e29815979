"""The one small protocol every LLM backend implements.

A backend does two things: give the probability that the answer to a yes/no question is
"yes" (for many questions at once), and chat (generate a reply). A prompt is a list of chat
messages ``{"role": "system" | "user" | "assistant", "content": str}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

Message = dict[str, str]
Prompt = list[Message]

# How a yes/no probability was obtained; recorded with every answer.
TOKEN_PROBABILITY = "token-probability"  # normalised P(Yes) / (P(Yes) + P(No)) from the model's logits
LOGPROBS = "logprobs"  # the same, from a server's top log-probabilities
CHARACTER_PROBABILITY = "character-probability"  # the same from character-level prefix probabilities (CharED)
SAMPLES = "samples"  # fraction of k sampled answers that say yes
FALLBACK = "fallback"  # no usable answer: 0.5, flagged


@dataclass(frozen=True)
class YesNo:
    """P(yes) for one question and how it was obtained."""

    p_yes: float
    method: str
    # Probability mass the model put on the yes/no answer tokens (1.0 where not measurable):
    # a small value means the model wanted to say something else.
    answer_mass: float = 1.0
    detail: str = ""

    @property
    def fallback(self) -> bool:
        return self.method == FALLBACK

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Usage:
    """What asking a model cost: questions sent to it, answers taken from the response cache,
    tokens as the model or the server counts them (0 where a server reports none), and seconds
    spent waiting for answers."""

    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(**{k: v + getattr(other, k) for k, v in asdict(self).items()})

    def __sub__(self, other: Usage) -> Usage:
        return Usage(**{k: v - getattr(other, k) for k, v in asdict(self).items()})

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "seconds": round(self.seconds, 3)}

    def describe(self) -> str:
        return (
            f"{self.calls} questions asked ({self.cache_hits} more from the cache), "
            f"{self.prompt_tokens:,} prompt and {self.completion_tokens:,} completion tokens, "
            f"{self.seconds:.1f} s waiting"
        )


@runtime_checkable
class LLMBackend(Protocol):
    """What the rest of discolab needs from a language model."""

    kind: str  # "local" or "openai"
    model: str

    def identity(self) -> dict[str, Any]:
        """Everything that determines the backend's outputs (for cache keys and run records)."""
        ...

    def score_yes_no(self, prompts: Sequence[Prompt], progress: bool = False) -> list[YesNo]:
        """P(yes) for each prompt, in order."""
        ...

    def chat(self, messages: Prompt, *, max_tokens: int = 256, temperature: float = 0.0, seed: int = 0) -> str:
        """The assistant's reply to ``messages``."""
        ...


def yes_no_prompt(question: str, context: str = "") -> Prompt:
    """A plain yes/no prompt: optional context, the question, and the answer format."""
    system = "You are an expert assistant. Answer the user's question with a single word: Yes or No."
    content = f"{context.strip()}\n\n{question.strip()}" if context.strip() else question.strip()
    return [{"role": "system", "content": system}, {"role": "user", "content": content}]


def parse_yes_no(text: str) -> bool | None:
    """True/False when a reply starts with yes/no (ignoring case and punctuation), else None."""
    word = text.strip().lstrip("*\"'`([ ").split(maxsplit=1)
    if not word:
        return None
    head = word[0].strip(".,!:;*\"')").lower()
    if head in ("yes", "y", "true"):
        return True
    if head in ("no", "n", "false"):
        return False
    return None
