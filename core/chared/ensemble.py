"""One CharED segment: characters drawn from the weighted mixture of the models' character
distributions until the end-of-token option is chosen.

    J(c | s) = sum_i w_i P_i(c | s),   weights w on the simplex,

over the options of every model (a character, or ``None`` for "end"). A model that cannot
continue the prefix (no usable token starts with it) drops out for the rest of the segment and
the remaining weights are renormalised; if none can continue, the segment ends.

Sampling uses one uniform number per segment, rescaled after each choice (inverse-CDF sampling
along the chain of conditionals), with options in sorted-string order: "end" first, then
characters in code-point order. With one model of weight 1, the segment drawn from u is then
exactly the token string that inverse-CDF sampling over the sorted vocabulary picks from the same
u: alpha = 1 reproduces model 1's token-level sampling, draw for draw (for marginals of one
token distribution; a healed reading, :class:`~.vocabulary.HealedMarginals`, samples the model's
distribution over continuation strings the same way).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: vocabulary's mixed readings use mix() from here
    from .vocabulary import CharacterMarginals


def check_weights(weights: Sequence[float], n_models: int) -> list[float]:
    """The weights normalised to the simplex; ValueError unless one non-negative weight per model, not all 0."""
    if len(weights) != n_models or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"give one non-negative weight per model ({n_models}), not all zero; got {list(weights)}")
    total = sum(weights)
    return [w / total for w in weights]


def mix(distributions: Sequence[dict], weights: Sequence[float]) -> dict:
    """The weighted mixture of the distributions that are not empty (weights renormalised)."""
    live = [(d, w) for d, w in zip(distributions, weights) if d and w > 0]
    total = sum(w for _, w in live)
    mixed: dict = {}
    for distribution, weight in live:
        for option, p in distribution.items():
            mixed[option] = mixed.get(option, 0.0) + weight / total * p
    return mixed


def _ordered(distribution: dict) -> list:
    return sorted(distribution, key=lambda option: "" if option is None else option)


def choose(distribution: dict, u: float) -> tuple:
    """The option at ``u`` in the distribution's CDF (sorted order), and ``u`` rescaled within it."""
    below = 0.0
    options = _ordered(distribution)
    for option in options:
        p = distribution[option]
        if u < below + p or option is options[-1]:
            return option, min(max((u - below) / p, 0.0), 1.0 - 1e-12) if p > 0 else 0.0
        below += p
    raise ValueError("empty distribution")


def next_segment(
    marginals: Sequence[CharacterMarginals],
    weights: Sequence[float],
    u: float | None = None,
    max_chars: int = 64,
) -> str:
    """The next segment: greedy (``u`` None: the most probable option each step) or sampled from ``u``."""
    segment = ""
    alive = check_weights(weights, len(marginals))
    while len(segment) < max_chars:
        distributions = [m.distribution(segment) if w > 0 else {} for m, w in zip(marginals, alive)]
        alive = [w if d else 0.0 for d, w in zip(distributions, alive)]
        mixed = mix(distributions, alive)
        if not mixed:
            break
        if u is None:
            option = max(_ordered(mixed), key=mixed.get)
        else:
            option, u = choose(mixed, u)
        if option is None:
            break
        segment += option
    return segment


def segment_probabilities(
    marginals: Sequence[CharacterMarginals], weights: Sequence[float], text: str
) -> tuple[list[float], list[float]]:
    """For k = 1, 2, ...: P(the segment starts with text[:k]) and P(the segment is exactly text[:k]).

    With s_k = text[:k] and the live weights w_i(s) (those of models with mass_i(s) > 0,
    renormalised, as in :func:`next_segment`),

        starts(k) = prod_{j<k} J(text[j] | s_j),   J(c | s) = sum_i w_i(s) mass_i(s + c) / mass_i(s),
        exact(k)  = starts(k) * J(end | s_k),     J(end | s) = sum_i w_i(s) exact_i(s) / mass_i(s).

    The lists stop where no model can continue (``starts`` would be 0), so their length is at
    most that of the longest token string that ``text`` begins with.
    """
    weights = check_weights(weights, len(marginals))
    starts: list[float] = []
    exact: list[float] = []
    previous = [m.masses("")[0] if w > 0 else 0.0 for m, w in zip(marginals, weights)]
    probability = 1.0
    for k in range(1, len(text) + 1):
        masses = [m.masses(text[:k]) if p > 0 else (0.0, 0.0) for m, p in zip(marginals, previous)]
        live = sum(w for w, p in zip(weights, previous) if p > 0)
        if live <= 0:
            break
        step = sum(w * mass / p for w, p, (mass, _) in zip(weights, previous, masses) if p > 0) / live
        probability *= step
        if probability <= 0.0:
            break
        starts.append(probability)
        alive = sum(w for w, (mass, _) in zip(weights, masses) if mass > 0)
        end = sum(w * e / mass for w, (mass, e) in zip(weights, masses) if mass > 0) / alive
        exact.append(probability * end)
        previous = [mass for mass, _ in masses]
    return starts, exact
