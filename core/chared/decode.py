"""CharED decoding with real models: each round, every model re-reads the text with its own
tokenizer, gives its next-character distributions (healed at the text's last token:
:class:`~.vocabulary.HealedMarginals`), and :func:`~.ensemble.next_segment` draws the segment
from the weighted character mixture.

Models are the foundation's local models (:func:`discolab.core.llm.models.load_model`, one load
per process), loaded by name: ``smollm2`` (SmolLM2-135M-Instruct, 49k byte-level BPE) and
``gemma3-270m`` (Gemma-3-270M, 262k SentencePiece), or any local model path.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import torch

from ..llm.local import render_prompt
from ..llm.models import load_model
from .ensemble import check_weights, next_segment
from .vocabulary import CharacterMarginals, HealedMarginals, MixedMarginals, TokenStrings

WORD_PROBE = "x"  # what :meth:`CharEDModel.boundaries` appends to see how trailing whitespace would be split


@lru_cache(maxsize=4)
def token_strings(name: str) -> TokenStrings:
    return TokenStrings(load_model(name, "float32")[1])


class CharEDModel:
    """One constituent: a local causal LM, its tokenizer and its sorted token strings.

    Successive calls usually extend the previous text by a segment, and the re-tokenized text
    shares all but its last few tokens with the previous one: the key/value cache of the common
    token prefix is kept and only the rest is run (exact, by causal attention). A cache that
    cannot be cut back (a sliding-window layer past its window) is rebuilt from scratch.
    """

    def __init__(self, name: str, reuse_cache: bool = True, heal: bool = True):
        self.name = name
        self.reuse_cache = reuse_cache
        self.heal = heal  # read the text's last token as a prefix of the next (HealedMarginals)
        self.model, self.tokenizer = load_model(name, "float32")
        self.strings = token_strings(name)
        self._special = set(self.tokenizer.all_special_ids)
        self._ids: list[int] = []
        self._cache = None

    def render(self, messages: list[dict]) -> str:
        """A chat prompt as this model's text, ending where the assistant's answer begins."""
        return render_prompt(self.tokenizer, messages)

    def next_token_probabilities(self, text: str) -> np.ndarray:
        """The next-token distribution after the whole ``text`` (its canonical tokens)."""
        return self._last_probabilities(self.tokenizer(text)["input_ids"], 1)[-1]

    @torch.no_grad()
    def _last_probabilities(self, ids: list[int], keep: int) -> np.ndarray:
        """Next-token distributions after each of the last ``keep`` prefixes of ``ids`` (rows, oldest first)."""
        if not ids:
            raise ValueError(f"{self.name}: empty context; give a prompt")
        shared = 0
        for a, b in zip(ids, self._ids):
            if a != b:
                break
            shared += 1
        shared = min(shared, len(ids) - keep)  # the last `keep` positions must run to give their logits
        if self._cache is not None and shared > 0 and self.reuse_cache:
            try:
                self._cache.crop(shared - len(self._ids))
            except (RuntimeError, ValueError):
                self._cache, shared = None, 0
        else:
            self._cache, shared = None, 0
        out = self.model(torch.tensor([ids[shared:]]), cache=self._cache, use_cache=True, logits_to_keep=keep)
        self._cache, self._ids = out.cache, ids
        return torch.softmax(out.logits[0].double(), -1).numpy()

    def marginals(self, text: str) -> CharacterMarginals | HealedMarginals | MixedMarginals:
        """The next-character distributions after ``text``: without ``heal``, from all of its tokens;
        with it, healed at each of :meth:`boundaries`, the readings weighted by their probability."""
        paths = self.boundaries(text)
        if not paths[0][1]:  # nothing to back off
            return CharacterMarginals.from_probabilities(self.strings, self._last_probabilities(paths[0][0], 1)[-1])
        common = _common_length([prefix for prefix, _, _ in paths])
        if common == 0:  # readings that differ from the first token (no BOS): no shared context to weigh them in
            paths, common = paths[:1], len(paths[0][0])
        readings, log_weights = [], []
        for prefix, pending, exact_id in paths:
            run = prefix if exact_id is None else [*prefix, exact_id]
            rows = self._last_probabilities(run, len(run) - common + 1)  # rows[j]: after run[:common + j]
            start = len(prefix) - common
            try:
                reading = HealedMarginals(
                    CharacterMarginals.from_probabilities(self.strings, rows[start]),
                    pending,
                    None if exact_id is None else CharacterMarginals.from_probabilities(self.strings, rows[start + 1]),
                )
            except ValueError:  # no mass on tokens that continue this reading
                continue
            steps = [rows[j][token] for j, token in enumerate(prefix[common:])]  # P(this reading's own tokens)
            if min(steps, default=1.0) <= 0:
                continue
            readings.append(reading)
            log_weights.append(float(np.sum(np.log(steps))) + np.log(reading.boundary_mass))
        if not readings:  # every reading underflowed: read the whole text
            return CharacterMarginals.from_probabilities(
                self.strings, self._last_probabilities(self.tokenizer(text)["input_ids"], 1)[-1]
            )
        if len(readings) == 1:
            return readings[0]
        weights = np.exp(np.array(log_weights) - max(log_weights))
        return MixedMarginals(readings, list(weights / weights.sum()))

    def boundaries(self, text: str) -> list[tuple[list[int], str, int | None]]:
        """The readings of where the text's tokens stop being certain, each (the token ids to
        condition on, the string ``pending`` that the next token must start with, the id of the
        token that is exactly ``pending``, or None).

        Without healing: one reading, all of the text's tokens, nothing pending. With it, the
        last token is backed off; after trailing whitespace also the token that a word would start
        in (the text tokenized as ``text + "x"``): SmolLM2 writes a four-space indent as "\\n   "
        then " return", but reads a text ending in four spaces as the one token "\\n    ", which
        only ever precedes a blank line, while after three spaces its own token "\\n   " is the
        right reading. :meth:`marginals` weighs the two by their probabilities.
        """
        encoded = self.tokenizer(text, return_offsets_mapping=True)
        ids, offsets = encoded["input_ids"], encoded["offset_mapping"]
        if not self.heal or len(ids) < 2 or ids[-1] in self._special:
            return [(ids, "", None)]
        cut, start = len(ids) - 1, offsets[-1][0]
        while cut > 1 and offsets[cut - 1][1] > start:  # byte tokens of one character share its span: back off all
            cut, start = cut - 1, min(start, offsets[cut - 1][0])
        pending = text[start:]
        whole = cut == len(ids) - 1 and self.tokenizer.decode(ids[-1:]) == pending
        paths = [(ids[:cut], pending, ids[-1] if whole else self._exact_id(pending))]
        if text[-1].isspace():
            probe = self.tokenizer(text + WORD_PROBE, return_offsets_mapping=True)
            inside = sum(1 for _, stop in probe["offset_mapping"] if stop <= len(text))
            start = probe["offset_mapping"][inside][0] if inside < len(probe["input_ids"]) else len(text)
            if 0 < inside and start < len(text) and probe["input_ids"][:inside] != ids[:-1]:
                paths.append((probe["input_ids"][:inside], text[start:], self._exact_id(text[start:])))
        return paths

    def _exact_id(self, string: str) -> int | None:
        """The id of the token whose string is ``string`` (the tokenizer's own spelling), or None."""
        ids = self.tokenizer(string, add_special_tokens=False)["input_ids"]
        return ids[0] if len(ids) == 1 and self.tokenizer.decode(ids) == string else None


def _common_length(sequences: list[list[int]]) -> int:
    """The length of the longest common prefix of the sequences."""
    length = 0
    for column in zip(*sequences):
        if any(token != column[0] for token in column):
            break
        length += 1
    return length


@dataclass
class Generation:
    text: str
    segments: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def chars_per_second(self) -> float:
        return len(self.text) / self.seconds if self.seconds else 0.0


def generate(
    prompt: str | Sequence[str],
    models: list[CharEDModel],
    weights: list[float],
    max_chars: int = 80,
    seed: int | None = None,
    stop: str | Sequence[str] | None = None,
) -> Generation:
    """Continue ``prompt`` by CharED: greedy when ``seed`` is None, else sampled (seeded).

    ``prompt`` is one text for all models, or one per model (each in its own chat format).
    Ends after ``max_chars`` characters, or before the first of the ``stop`` strings (not included).
    """
    stops = [stop] if isinstance(stop, str) else [s for s in (stop or ()) if s]
    prompts = [prompt] * len(models) if isinstance(prompt, str) else list(prompt)
    if len(prompts) != len(models):
        raise ValueError(f"{len(prompts)} prompts for {len(models)} models")
    weights = check_weights(weights, len(models))
    rng = None if seed is None else np.random.default_rng(seed)
    start = time.perf_counter()
    out = Generation("")
    while len(out.text) < max_chars:
        marginals = [m.marginals(p + out.text) if w > 0 else None for m, p, w in zip(models, prompts, weights)]
        live = [(m, w) for m, w in zip(marginals, weights) if m is not None]
        u = None if rng is None else float(rng.random())
        segment = next_segment([m for m, _ in live], [w for _, w in live], u=u, max_chars=max_chars - len(out.text))
        if not segment:
            break
        out.segments.append(segment)
        out.text += segment
        found = [out.text.index(s) for s in stops if s in out.text]
        if found:
            out.text = out.text[: min(found)]
            break
    out.seconds = time.perf_counter() - start
    return out
