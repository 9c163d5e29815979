"""A CharED ensemble as an LLM backend: yes/no probabilities and chat replies from several models
with different tokenizers, mixed character by character.

P(yes) of a question: each model reads the question in its own prompt format, and

    p_yes = Y / (Y + N),   Y = sum_{a in Yes spellings} P(answer starts with a),

N likewise for No, where P(answer starts with a) is the CharED process's prefix probability
(:func:`~.score.prefix_log_probabilities`, summed over segmentations). With weights (1, 0) it is
model 1's own character-level probability of the spellings. Being prefix probabilities, "Not" and
"Nothing" count toward No, as "Yesterday" would toward Yes; ``answer_mass`` (Y + N) says how much
of the model's mass the answers got. Boundaries reached with probability below ``min_boundary``
are not expanded, so each probability is short by at most ``min_boundary`` x the answer's length.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ..llm.base import CHARACTER_PROBABILITY, FALLBACK, Prompt, YesNo
from .decode import CharEDModel, generate
from .ensemble import check_weights
from .score import prefix_log_probabilities

YES_SPELLINGS = ("Yes", "yes", " Yes", " yes")
NO_SPELLINGS = ("No", "no", " No", " no")


class CharEDBackend:
    """The protocol of :class:`discolab.core.llm.LLMBackend` over a CharED ensemble."""

    kind = "chared"

    def __init__(
        self,
        models: Sequence[str] = ("smollm2", "gemma3-270m"),
        weights: Sequence[float] = (0.5, 0.5),
        min_boundary: float = 1e-4,
    ):
        self.weights = check_weights(list(weights), len(models))
        self.names = list(models)
        self.model = "+".join(self.names)
        self.min_boundary = min_boundary
        self._models: list[CharEDModel] | None = None

    @property
    def models(self) -> list[CharEDModel]:
        if self._models is None:
            self._models = [CharEDModel(name) for name in self.names]
        return self._models

    def identity(self) -> dict[str, Any]:
        # "boundary": answers cached before token healing (2026-12-03) are not this backend's
        return {
            "kind": self.kind,
            "models": self.names,
            "weights": self.weights,
            "min_boundary": self.min_boundary,
            "boundary": "healed",
        }

    def score_yes_no(self, prompts: Sequence[Prompt], progress: bool = False) -> list[YesNo]:
        return [self._yes_no(p) for p in tqdm(prompts, desc="scoring", unit="q", disable=not progress, leave=False)]

    def _yes_no(self, prompt: Prompt) -> YesNo:
        contexts = [m.render(prompt) for m in self.models]
        seen: dict[str, list] = {}  # answer prefix -> marginals: spellings share their first boundaries

        def marginals_at(answer: str):
            if answer not in seen:
                seen[answer] = [
                    m.marginals(c + answer) if w > 0 else None for m, c, w in zip(self.models, contexts, self.weights)
                ]
            return seen[answer]

        def probability(spelling: str) -> float:
            log_p = prefix_log_probabilities(
                lambda i: marginals_at(spelling[:i]), spelling, [self.weights], min_boundary=self.min_boundary
            )
            return float(np.exp(log_p[0]))

        yes = sum(probability(s) for s in YES_SPELLINGS)
        no = sum(probability(s) for s in NO_SPELLINGS)
        if yes + no <= 0:
            # Flagged like every backend's unusable answer, so calibration and the cache skip it.
            return YesNo(0.5, FALLBACK, 0.0, detail="no mass on Yes or No")
        return YesNo(yes / (yes + no), CHARACTER_PROBABILITY, yes + no)

    def chat(self, messages: Prompt, *, max_tokens: int = 256, temperature: float = 0.0, seed: int = 0) -> str:
        """Greedy CharED at temperature 0, else sampled (seeded; CharED samples at temperature 1)."""
        contexts = [m.render(messages) for m in self.models]
        out = generate(
            contexts, self.models, self.weights, max_chars=4 * max_tokens, seed=None if temperature <= 0 else seed
        )
        return out.text.strip()
