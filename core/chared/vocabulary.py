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

from .ensemble import mix

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


@dataclass
class HealedMarginals:
    """Next-character distributions at a boundary that the text's last token may straddle (token healing).

    A text is read as its canonical tokens, and its last token is often only the start of what the
    model would have written: a prompt that ends in a newline ends in the token "\\n", while the
    model writes the next line's indent as one token "\\n   " and so reads a bare "\\n" as "no
    indent follows" (SmolLM2 then closes the code block instead of writing the body). Healing backs
    off the last token, string ``s``: with p_h the next-token distribution after the text without
    it, and p_f the one after the whole text, the next token either extends ``s`` or is exactly
    ``s`` and the continuation comes from p_f:

        mass(g)  = [mass_h(s + g) - [g = ''] exact_h(s) + exact_h(s) mass_f(g) / mass_f('')] / mass_h(s)
        exact(g) = [[g != ''] exact_h(s + g) + exact_h(s) exact_f(g) / mass_f('')] / mass_h(s)

    for the characters g emitted since the boundary (mass('') = 1). Both distributions come out
    of one forward pass (the last two positions). Where no token is exactly ``s`` (``full`` None),
    the second path is empty. Which tokens are backed off, and how readings are weighed:
    :meth:`~.decode.CharEDModel.boundaries`, :class:`MixedMarginals`. Reference: "token healing"
    (Lundberg, guidance, 2023); the prompt-boundary problem: Phan et al., "Understanding and
    Mitigating Tokenization Bias in Language Models" (2024).
    """

    healed: CharacterMarginals  # after the text without the backed-off token
    pending: str  # the backed-off text: what the next token must start with
    full: CharacterMarginals | None  # after the text with the token exactly ``pending``; None: no such token

    def __post_init__(self):
        mass, self._exact = self.healed.masses(self.pending)  # mass_h(s), exact_h(s)
        if self.full is None:  # a token that is exactly s cannot be continued: its mass is dropped
            mass -= self._exact
        self.boundary_mass = mass  # P(next token continues the pending string), unnormalised
        self._full_total = self.full.mass("") if self.full is not None else 1.0
        if self.boundary_mass <= 0 or self._full_total <= 0:
            raise ValueError(f"healing at {self.pending!r}: no probability mass on tokens that continue it")

    @property
    def excluded(self) -> float:
        return (self.full or self.healed).excluded

    def _parts(self, prefix: str) -> tuple[float, float, float, float]:
        """Unnormalised (extends-s mass, extends-s exact, full-path mass, full-path exact) of ``prefix``."""
        mass_h, exact_h = self.healed.masses(self.pending + prefix)
        if not prefix:  # the tokens exactly s are the full path's, not a segment of their own
            mass_h, exact_h = mass_h - self._exact, 0.0
        if self.full is None:
            return mass_h, exact_h, 0.0, 0.0
        mass_f, exact_f = self.full.masses(prefix)
        share = self._exact / self._full_total
        return mass_h, exact_h, share * mass_f, share * exact_f

    def mass(self, prefix: str) -> float:
        return self.masses(prefix)[0]

    def masses(self, prefix: str) -> tuple[float, float]:
        mass_h, exact_h, mass_f, exact_f = self._parts(prefix)
        return max(0.0, mass_h + mass_f) / self.boundary_mass, (exact_h + exact_f) / self.boundary_mass

    def distribution(self, prefix: str) -> dict[str | None, float]:
        """As :meth:`CharacterMarginals.distribution`: the two paths' distributions, mixed by their masses."""
        mass_h, _, mass_f, _ = self._parts(prefix)
        total = mass_h + mass_f
        if total <= 0.0:
            return {}
        out: dict[str | None, float] = {}
        if mass_h > 0.0:
            extended = self.healed.distribution(self.pending + prefix)
            scale = self.healed.mass(self.pending + prefix) / total  # extended's probabilities are of this mass
            for option, p in extended.items():
                if option is not None or prefix:
                    out[option] = out.get(option, 0.0) + scale * p
        if mass_f > 0.0:
            for option, p in self.full.distribution(prefix).items():
                out[option] = out.get(option, 0.0) + mass_f / total * p
        return out


@dataclass
class MixedMarginals:
    """Several readings of the same text's boundary, mixed: weights pi_i (summing to 1) times each
    reading's masses, which all start from mass('') = 1:

        mass(g) = sum_i pi_i mass_i(g),   P(c | g) = sum_i pi_i mass_i(g + c) / mass(g).
    """

    readings: list[HealedMarginals]
    weights: list[float]

    @property
    def excluded(self) -> float:
        return float(sum(w * r.excluded for r, w in zip(self.readings, self.weights)))

    def mass(self, prefix: str) -> float:
        return self.masses(prefix)[0]

    def masses(self, prefix: str) -> tuple[float, float]:
        parts = [r.masses(prefix) for r in self.readings]
        return (
            float(sum(w * m for w, (m, _) in zip(self.weights, parts))),
            float(sum(w * e for w, (_, e) in zip(self.weights, parts))),
        )

    def distribution(self, prefix: str) -> dict[str | None, float]:
        weights = [w * r.mass(prefix) for r, w in zip(self.readings, self.weights)]
        return mix([r.distribution(prefix) if w > 0 else {} for r, w in zip(self.readings, weights)], weights)
