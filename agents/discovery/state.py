"""The discovery loop's state: plain JSON-able values, so that every checkpoint serialises.

Edges are ``[u, v]`` lists; ``beliefs`` is aligned with ``pairs`` (all ordered pairs).
"""

from __future__ import annotations

from typing import TypedDict


class ExperimentRecord(TypedDict):
    edge: list[str]
    present: bool
    round: int


class RoundRecord(TypedDict):
    round: int
    experiments: int
    precision: float | None
    recall: float | None
    f1: float | None
    shd: int | None
    predicted_edges: int
    tested: list[ExperimentRecord]


class DiscoveryState(TypedDict, total=False):
    settings: dict
    pairs: list[list[str]]
    beliefs: list[float]
    prior_beliefs: list[float]
    fallbacks: list[list[str]]  # edges whose LLM answer was unusable (kept at 0.5 or old belief)
    round: int  # rounds completed
    selected: list[list[str]]  # edges chosen for this round's experiments
    results: list[ExperimentRecord]
    history: list[RoundRecord]  # one record per round, round 0 = the prior alone
