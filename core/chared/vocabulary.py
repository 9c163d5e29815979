"""Next-character distributions from a next-token distribution, in time independent of the vocabulary.

For a model with next-token probabilities p(t) and token strings str(t), the probability that the
next token's string starts with s is

    mass(s) = sum_{t : str(t) starts with s} p(t),

and, having emitted the characters s of the current token so far,

    P(c | s)   = mass(s + c) / mass(s)                     (the next character is c)
    P(end | s) = sum_{t : str(t) = s} p(t) / mass(s)       (the token is exactly s)

so that the product of the conditionals along str(t), times P(end | str(t)), is the probability
of the string str(t) (the chain rule; for a string shared by several tokens, their summed mass).

Sorting the token strings once per tokenizer makes the tokens with a given prefix a contiguous
range (two bisections), and one cumulative sum of the permuted probabilities per forward pass
gives every mass(s) as a difference of two entries: nothing loops over the vocabulary per
character, which matters for Gemma's 262,144 tokens.

Policies (documented, tested):

- Token strings are ``tokenizer.decode([id])``, so byte-level markers (GPT-2's "Ġ", SentencePiece's
  "▁") become the spaces they stand for.
- Special tokens (BOS, EOS, PAD, chat markers) and tokens whose string is not valid text on its
  own (a partial UTF-8 sequence, decoded with U+FFFD; SentencePiece byte-fallback pieces) take no
  part: their probability is dropped and the rest renormalised. Generation therefore ends by a
  character budget, not by EOS, and a character that only byte-pieces can spell is not reachable
  from that model (``excluded`` says how much mass this drops; on ordinary text it is small).
- Empty strings are excluded too: a token that adds no character cannot end a segment.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

import numpy as np

_TOP = "\U0010ffff"  # sorts after every character a token string can contain


class TokenStrings:
    """The decoded strings of a tokenizer's usable tokens, sorted once."""

    def __init__(self, tokenizer):
        special = set(tokenizer.all_special_ids)
        strings = tokenizer.batch_decode([[i] for i in range(len(tokenizer))])
        usable = [
            (s, i) for i, s in enumerate(strings) if i not in special and s and "\ufffd" not in s and _TOP not in s
        ]
        usable.sort()
        self.strings: list[str] = [s for s, _ in usable]
        self.ids = np.array([i for _, i in usable], dtype=np.int64)  # token id at each sorted position
        self.vocab_size = len(strings)

    def range(self, prefix: str, lo: int = 0, hi: int | None = None) -> tuple[int, int]:
        """Sorted positions [start, stop) of the strings that start with ``prefix``."""
        hi = len(self.strings) if hi is None else hi
        return bisect_left(self.strings, prefix, lo, hi), bisect_left(self.strings, prefix + _TOP, lo, hi)


@dataclass
class CharacterMarginals:
    """One model's next-character distributions for one next-token distribution."""

    strings: TokenStrings
    cumulative: np.ndarray  # cumulative[k] = total probability of sorted positions < k
    excluded: float  # probability on special / partial / empty tokens, dropped

    @classmethod
    def from_probabilities(cls, strings: TokenStrings, probabilities) -> CharacterMarginals:
        p = np.asarray(probabilities, dtype=np.float64)
        if p.shape[-1] < strings.vocab_size:
            raise ValueError(f"{p.shape[-1]} probabilities for a vocabulary of {strings.vocab_size}")
        usable = p[strings.ids]
        cumulative = np.concatenate([[0.0], np.cumsum(usable)])
        return cls(strings, cumulative, float(max(0.0, 1.0 - cumulative[-1])))

    def mass(self, prefix: str) -> float:
        start, stop = self.strings.range(prefix)
        return float(self.cumulative[stop] - self.cumulative[start])

    def masses(self, prefix: str) -> tuple[float, float]:
        """(mass(prefix), mass of the tokens whose string is exactly ``prefix``)."""
        start, stop = self.strings.range(prefix)
        exact = bisect_left(self.strings.strings, prefix + "\x00", start, stop)  # equal strings sort first
        return float(self.cumulative[stop] - self.cumulative[start]), float(
            self.cumulative[exact] - self.cumulative[start]
        )

    def distribution(self, prefix: str) -> dict[str | None, float]:
        """P(next character | prefix) for each possible character, and P(end | prefix) under ``None``.

        Empty when no usable token starts with ``prefix`` (this model cannot continue it).
        """
        strings, cumulative = self.strings.strings, self.cumulative
        start, stop = self.strings.range(prefix)
        total = cumulative[stop] - cumulative[start]
        if stop == start or total <= 0.0:
            return {}
        out: dict[str | None, float] = {}
        exact = bisect_left(strings, prefix + "\x00", start, stop)  # strings equal to prefix sort first
        if exact > start:
            out[None] = (cumulative[exact] - cumulative[start]) / total
        position, depth = exact, len(prefix)
        while position < stop:  # one step per distinct next character, not per token
            char = strings[position][depth]
            nxt = bisect_left(strings, prefix + chr(ord(char) + 1), position, stop)
            out[char] = (cumulative[nxt] - cumulative[position]) / total
            position = nxt
        return out
