"""CharED decoding with real models: each round, every model re-reads the text with its own
tokenizer, gives its next-token distribution, and :func:`~.ensemble.next_segment` draws the
segment from the weighted character mixture.

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
from .vocabulary import CharacterMarginals, TokenStrings


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

    def __init__(self, name: str, reuse_cache: bool = True):
        self.name = name
        self.reuse_cache = reuse_cache
        self.model, self.tokenizer = load_model(name, "float32")
        self.strings = token_strings(name)
        self._ids: list[int] = []
        self._cache = None

    def render(self, messages: list[dict]) -> str:
        """A chat prompt as this model's text, ending where the assistant's answer begins."""
        return render_prompt(self.tokenizer, messages)

    @torch.no_grad()
    def next_token_probabilities(self, text: str) -> np.ndarray:
        ids = self.tokenizer(text)["input_ids"]  # with the model's BOS, if it uses one
        if not ids:
            raise ValueError(f"{self.name}: empty context; give a prompt")
        shared = 0
        for a, b in zip(ids, self._ids):
            if a != b:
                break
            shared += 1
        shared = min(shared, len(ids) - 1)  # at least one token must run to give the logits
        if self._cache is not None and shared > 0 and self.reuse_cache:
            try:
                self._cache.crop(shared - len(self._ids))
            except (RuntimeError, ValueError):
                self._cache, shared = None, 0
        else:
            self._cache, shared = None, 0
        out = self.model(torch.tensor([ids[shared:]]), cache=self._cache, use_cache=True, logits_to_keep=1)
        self._cache, self._ids = out.cache, ids
        return torch.softmax(out.logits[0, -1].double(), -1).numpy()

    def marginals(self, text: str) -> CharacterMarginals:
        return CharacterMarginals.from_probabilities(self.strings, self.next_token_probabilities(text))


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
