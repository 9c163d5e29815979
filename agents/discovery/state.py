"""The discovery loop's state: plain JSON-able values, so that every checkpoint serialises.

Edges are ``[u, v]`` lists; ``prior_beliefs`` is aligned with ``pairs`` (all ordered pairs), and
``belief_changes`` holds, by pair index, every belief the updates moved away from the prior, so
that a round's checkpoint grows with what changed (:func:`.nodes.current_beliefs` puts the two
together).
"""

from __future__ import annotations

from typing import TypedDict


class ExperimentRecord(TypedDict, total=False):
    edge: list[str]
    present: bool
    round: int
    explored: bool  # picked at random (--explore), not by the strategy


class RoundRecord(TypedDict):
    round: int
    experiments: int
    precision: float | None
    recall: float | None
    f1: float | None
    shd: int | None
    predicted_edges: int
    tested: list[ExperimentRecord]
    fusion: dict  # a fused prior: bias, and each source's weight, interval and AUROC on tested pairs
    update_shift: float  # the LLM update: mean absolute change of the neighbours' beliefs this round
    candidates: dict  # round 0, when a candidate screen ran: its mode, pairs asked, pruned, of all
    listed: int  # round 0, when prompts were bounded: the variables each listed


class DiscoveryState(TypedDict, total=False):
    settings: dict
    graph: str  # the validated graph (variables, descriptions, context, truth) as canonical JSON
    data: dict  # the user's observational data: path, sha256 of its content, and a summary line
    interventions: dict  # the user's interventional data (experimenter data:FILE), likewise
    pairs: list[list[str]]
    prior_beliefs: list[float]
    belief_changes: dict[str, float]  # pair index -> current belief, where it differs from the prior
    beliefs: list[float]  # runs saved before belief_changes: every current belief
    fallbacks: list[list[str]]  # edges whose LLM answer was unusable (kept at 0.5 or old belief)
    sources: dict[str, list[float]]  # a fused prior: each source's beliefs as elicited, aligned with pairs
    source_changes: dict[str, dict[str, float]]  # source -> pair index -> belief the LLM update changed
    fusion: dict  # a fused prior: its sources, bias and weights now (with intervals after a refit)
    explored: list[list[str]]  # the selected edges picked at random (--explore)
    update_shift: float  # the last LLM update's mean absolute change to the neighbours' beliefs
    round: int  # rounds completed
    selected: list[list[str]]  # edges chosen for this round's experiments
    results: list[ExperimentRecord]
    llm: dict  # what the run's LLM cost: calls, cache hits, prompt / completion tokens, seconds waiting
    candidates: dict  # the candidate screen (core/igda/candidates.py): mode, asked, pruned, pairs, seconds
    candidate_rows: list[int]  # the pairs (rows of ``pairs``) the screen kept: the LLM update asks no others
    listed: int  # bounded prompts (core/igda/prompts.py): variables each LLM prompt of the prior listed
    history: list[RoundRecord]  # one record per round, round 0 = the prior alone
