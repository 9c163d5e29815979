"""CharED decoding with real models: each round, every model re-reads the text with its own
tokenizer, gives its next-token distribution, and :func:`~.ensemble.next_segment` draws the
segment from the weighted character mixture.

Models are the foundation's local models (:func:`discolab.core.llm.models.load_model`, one load
per process), loaded by name: ``smollm2`` (SmolLM2-135M-Instruct, 49k byte-level BPE) and
``gemma3-270m`` (Gemma-3-270M, 262k SentencePiece), or any local model path.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import torch

from ..llm.models import load_model
from .ensemble import check_weights, next_segment
from .vocabulary import CharacterMarginals, TokenStrings


@lru_cache(maxsize=4)
def token_strings(name: str) -> TokenStrings:
    return TokenStrings(load_model(name, "float32")[1])


class CharEDModel:
    """One constituent: a local causal LM, its tokenizer and its sorted token strings."""

    def __init__(self, name: str):
        self.name = name
        self.model, self.tokenizer = load_model(name, "float32")
        self.strings = token_strings(name)

    @torch.no_grad()
    def next_token_probabilities(self, text: str) -> np.ndarray:
        ids = self.tokenizer(text, return_tensors="pt")["input_ids"]  # with the model's BOS, if it uses one
        logits = self.model(ids).logits[0, -1].double()
        return torch.softmax(logits, -1).numpy()

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
    prompt: str,
    models: list[CharEDModel],
    weights: list[float],
    max_chars: int = 80,
    seed: int | None = None,
) -> Generation:
    """Continue ``prompt`` by CharED: greedy when ``seed`` is None, else sampled (seeded)."""
    weights = check_weights(weights, len(models))
    rng = None if seed is None else np.random.default_rng(seed)
    start = time.perf_counter()
    out = Generation("")
    while len(out.text) < max_chars:
        marginals = [m.marginals(prompt + out.text) if w > 0 else None for m, w in zip(models, weights)]
        live = [(m, w) for m, w in zip(marginals, weights) if m is not None]
        u = None if rng is None else float(rng.random())
        segment = next_segment([m for m, _ in live], [w for _, w in live], u=u, max_chars=max_chars - len(out.text))
        if not segment:
            break
        out.segments.append(segment)
        out.text += segment
    out.seconds = time.perf_counter() - start
    return out
