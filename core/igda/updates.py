"""Local updates: what experiment results change about the edges not yet tested.

- ``llm`` (IGDA): re-ask the LLM about every untested edge that shares an endpoint with an
  edge tested so far, with all results stated in the prompt; the new answer replaces the belief.
- ``structural`` (no LLM): a confirmed u -> v makes v -> u impossible and, more generally, any
  untested edge that would close a directed cycle with confirmed edges; those beliefs are
  capped at ``floor``. Other beliefs are unchanged.
- ``none``: beliefs are unchanged (ablation).
"""

from __future__ import annotations

from collections.abc import Mapping

import networkx as nx

from ..graphs import Edge, GraphSpec
from ..llm import LLMBackend
from .prior import ask_edges

UPDATES = ("llm", "structural", "none")
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
) -> tuple[dict[Edge, float], list[Edge]]:
    """Re-predict the neighbours of tested edges with the results in context.

    Returns the new beliefs and the edges whose answer fell back to 0.5 (those keep their old
    belief rather than being reset).
    """
    targets = neighbouring_edges(beliefs, results)
    fresh, fallbacks = ask_edges(spec, backend, targets, sorted(results.items()), seed, calibration)
    updated = dict(beliefs)
    updated.update({e: p for e, p in fresh.items() if e not in fallbacks})
    return updated, fallbacks


def structural_update(beliefs: Mapping[Edge, float], results: Results, floor: float = 0.02) -> dict[Edge, float]:
    """Cap the beliefs of untested edges that would close a cycle with confirmed edges."""
    confirmed = nx.DiGraph([e for e, present in results.items() if present])
    updated = dict(beliefs)
    for u, v in beliefs:
        if (u, v) in results or u not in confirmed or v not in confirmed:
            continue
        if nx.has_path(confirmed, v, u):  # u -> v would close v ~> u -> v
            updated[(u, v)] = min(updated[(u, v)], floor)
    return updated
