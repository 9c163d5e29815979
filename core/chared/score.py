"""The probability that CharED's output begins with a given text, summed over segmentations.

CharED writes a text as a sequence of segments; at every segment boundary each model re-reads
everything so far with its own tokenizer. The same text can come out of many segmentations, so
its probability under the process is a sum over them (a forward algorithm over boundaries):

    f(0) = 1,   f(j) = sum_{i<j} f(i) * exact_i(j - i)                 (a boundary falls at j)
    P(output starts with x) = sum_{i<n} f(i) * starts_i(n - i)

where ``exact_i`` / ``starts_i`` are :func:`~.ensemble.segment_probabilities` of x[i:] with every
model reading context + x[:i]. Summing in log space keeps long texts from underflowing; bits per
character are -log2 P / n. One forward pass per model and boundary position serves every weight
vector at once, which is what makes an alpha sweep cheap.

``min_boundary`` prunes boundaries whose forward probability f(i), relative to the largest
one so far, is below it; the result is then a lower bound short by at most the pruned mass
(each pruned path's continuation has probability <= 1). 0 (the default) is exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from .ensemble import check_weights, segment_probabilities
from .vocabulary import CharacterMarginals

# Given a boundary position i, each model's character marginals after context + text[:i].
MarginalsAt = Callable[[int], Sequence[CharacterMarginals]]


def prefix_log_probabilities(
    marginals_at: MarginalsAt,
    text: str,
    weight_sets: Sequence[Sequence[float]],
    min_boundary: float = 0.0,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """ln P(CharED's output starts with ``text``) for each weight vector (natural log).

    ``marginals_at(i)`` is called once per boundary position that some weight vector reaches,
    in increasing order, so a caller can reuse its KV cache between calls.
    """
    if not text:
        return np.zeros(len(weight_sets))
    weight_sets = [check_weights(w, len(w)) for w in weight_sets]
    n, sets = len(text), len(weight_sets)
    log_forward = np.full((sets, n), -np.inf)  # ln f(i) per weight vector
    log_forward[:, 0] = 0.0
    log_total = np.full(sets, -np.inf)
    for i in range(n):
        reached = log_forward[:, i]
        if not np.any(np.isfinite(reached)):
            continue
        if min_boundary > 0 and np.all(reached < np.log(min_boundary) + log_forward[:, : i + 1].max(axis=1)):
            continue
        marginals = marginals_at(i)
        for s, weights in enumerate(weight_sets):
            if not np.isfinite(reached[s]):
                continue
            starts, exact = segment_probabilities(marginals, weights, text[i:])
            for k, (p_start, p_exact) in enumerate(zip(starts, exact), start=1):
                if i + k == n:
                    log_total[s] = np.logaddexp(log_total[s], reached[s] + math.log(p_start))
                elif p_exact > 0:
                    log_forward[s, i + k] = np.logaddexp(log_forward[s, i + k], reached[s] + math.log(p_exact))
        if progress is not None:
            progress(i)
    return log_total


def bits_per_character(log_probability: float | np.ndarray, characters: int):
    """-log2 P / n."""
    return -np.asarray(log_probability) / math.log(2) / characters
