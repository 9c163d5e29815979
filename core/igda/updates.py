"""Local updates: what experiment results change about the edges not yet tested.

- ``llm`` (IGDA): re-ask the LLM about every untested edge that shares an endpoint with an
  edge tested so far, with all results stated in the prompt; the new answer replaces the belief.
- ``structural`` (no LLM): a confirmed u -> v makes v -> u impossible and, more generally, any
  untested edge that would close a directed cycle with confirmed edges; those beliefs are
  capped at ``floor``. Other beliefs are unchanged.
- ``none``: beliefs are unchanged (ablation).
- ``shift:D`` (a control for ``llm``, no LLM): every untested edge sharing an endpoint with a
  tested edge moves by D on the probability scale, up or down at random (seeded per edge and
  round), clipped to [0.01, 0.99]. Set D to the mean absolute change the LLM update makes (each
  round records it as ``update_shift``): if the LLM update's gain is no larger than this
  control's, it comes from stirring the neighbours' beliefs, not from what the model knows.
"""

from __future__ import annotations

from collections.abc import Mapping

import networkx as nx

from ..graphs import Edge, GraphSpec
from ..llm import LLMBackend
from .prior import ask_edges

UPDATES = ("llm", "structural", "none", "shift:D")
Results = Mapping[Edge, bool]


def neighbouring_edges(beliefs: Mapping[Edge, float], results: Results) -> list[Edge]:
    """Untested edges sharing an endpoint with a tested edge."""
    touched = {x for edge in results for x in edge}
    return sorted(e for e in beliefs if e not in results and (e[0] in touched or e[1] in touched))


def llm_update(
    spec: GraphSpec,
    backend: LLMBackend,
    beliefs: Mapping[Edge, float],
    results: Results,
    seed: int = 0,
    calibration: str = "content-free",
    listed: int | None = None,
) -> tuple[dict[Edge, float], list[Edge]]:
    """Re-predict the neighbours of tested edges with the results in context.

    Returns the new beliefs and the edges whose answer fell back to 0.5 (those keep their old
    belief rather than being reset). Only the edges in ``beliefs`` are asked about (a run whose
    candidate screen pruned pairs leaves them out); ``listed``: bounded prompts (:mod:`.prompts`).
    """
    targets = neighbouring_edges(beliefs, results)
    fresh, fallbacks = ask_edges(spec, backend, targets, sorted(results.items()), seed, calibration, listed=listed)
    updated = dict(beliefs)
    updated.update({e: p for e, p in fresh.items() if e not in fallbacks})
    return updated, fallbacks


CYCLE_FLOOR = 0.02  # the belief the structural update leaves on an edge that would close a cycle


def cycle_pairs(results: Results) -> list[Edge]:
    """The untested pairs (u, v) whose edge would close a cycle with the confirmed edges: u is a
    descendant of v. Found from the confirmed graph alone, so the cost grows with what is
    confirmed, not with the number of pairs."""
    confirmed = nx.DiGraph([e for e, present in results.items() if present])
    return [(u, v) for v in confirmed for u in nx.descendants(confirmed, v) if (u, v) not in results]


def structural_update(beliefs: Mapping[Edge, float], results: Results, floor: float = CYCLE_FLOOR) -> dict[Edge, float]:
    """Cap the beliefs of untested edges that would close a cycle with confirmed edges."""
    updated = dict(beliefs)
    for edge in cycle_pairs(results):
        if edge in updated:
            updated[edge] = min(updated[edge], floor)
    return updated


def shift_update(beliefs: Mapping[Edge, float], results: Results, step: float, rng) -> dict[Edge, float]:
    """The ``shift:D`` control: each untested neighbour of a tested edge moved by +-``step``."""
    updated = dict(beliefs)
    for edge in neighbouring_edges(beliefs, results):
        direction = 1.0 if rng.random() < 0.5 else -1.0
        updated[edge] = min(max(beliefs[edge] + direction * step, 0.01), 0.99)
    return updated


def parse_shift(update: str) -> float | None:
    """D of ``shift:D`` (a number in (0, 1)), None for the other updates; ValueError if malformed."""
    if not update.startswith("shift:"):
        return None
    try:
        step = float(update.split(":", 1)[1])
    except ValueError:
        step = float("nan")
    if not 0.0 < step < 1.0:
        raise ValueError(f"update {update!r}: shift:D moves beliefs by D, a number in (0, 1)")
    return step
