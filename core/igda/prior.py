"""Beliefs over directed edges, elicited from an LLM, and the graph they predict.

A belief is P(u -> v in G*) for every ordered pair of distinct variables. The LLM prior asks
the model, for each pair, whether u directly causes v and reads P(yes) (see
:mod:`discolab.core.llm`). The predicted graph keeps the edges whose belief exceeds a threshold.

Calibration (``content-free``, after Zhao et al., 2021, "Calibrate Before Use"): small models
say yes at a rate that depends on the prompt's context far more than on the pair, so raw
answers from different contexts (before and after experiment results are stated) are not
comparable. With the same prefix we also ask a content-free question ("Does N/A directly cause
N/A?"), with answer p0, and report

    p_cal = sigmoid(logit(p) - logit(p0) + logit(rho)),   rho = min(1/2, 1/(n - 1)),

so that an answer no more confident than the content-free one maps to rho, the edge rate of a
sparse graph with n edges over n variables (a generic prior that uses nothing of the truth).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tqdm.auto import tqdm

from ..graphs import Edge, GraphMetrics, GraphSpec, score_graph
from ..llm import LLMBackend
from .prompts import CONTENT_FREE, edge_questions, reference_question, related_variables

Beliefs = dict[Edge, float]
CALIBRATIONS = ("content-free", "none")
REFERENCE = (CONTENT_FREE, CONTENT_FREE)  # stands for the reference question in a group's list
CHUNK = 4096  # questions built and asked at a time (ask_edges)


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def calibrate(p: float, p_content_free: float, base_rate: float) -> float:
    """sigmoid(logit(p) - logit(p_content_free) + logit(base_rate))."""
    return 1.0 / (1.0 + math.exp(-(_logit(p) - _logit(p_content_free) + _logit(base_rate))))


def sparse_edge_rate(n_variables: int) -> float:
    """Edge rate of a graph with as many edges as variables: 1/(n-1), at most 1/2."""
    return min(0.5, 1.0 / max(n_variables - 1, 1))


def ask_edges(
    spec: GraphSpec,
    backend: LLMBackend,
    edges: Sequence[Edge],
    results: Iterable[tuple[Edge, bool]] = (),
    seed: int = 0,
    calibration: str = "content-free",
    progress: bool = False,
    listed: int | None = None,
) -> tuple[Beliefs, list[Edge]]:
    """P(u -> v) for each edge, given any experiment results; also the edges that fell back.

    All questions share one prefix (context, variables, results), so the local backend encodes
    it once; the content-free reference question shares it too. The questions are built and
    asked :data:`CHUNK` at a time: each prompt lists every variable, so all n(n - 1) of a large
    problem at once would not fit in memory (about 54 GB of text at 1,000 variables).

    ``listed``: bounded prompts of that many variables (:mod:`.prompts`). They are asked a cause
    at a time, each cause's questions with a reference of their own (its listing is their
    shared prefix), so that the calibration compares answers given the same context.
    """
    if calibration not in CALIBRATIONS:
        raise ValueError(f"unknown calibration {calibration!r}; choose from {', '.join(CALIBRATIONS)}")
    results, edges = list(results), list(edges)
    if listed is None:
        groups = [(None, edges)]
        related = None
    else:
        by_cause: dict[str, list[Edge]] = {}
        for edge in edges:
            by_cause.setdefault(edge[0], []).append(edge)
        groups = list(by_cause.items())
        related = related_variables(spec, listed)
    total = len(edges) + (len(groups) if calibration == "content-free" else 0)
    bar = tqdm(total=total, desc="asking", unit="q", disable=not progress or total <= CHUNK, leave=False)
    rate = sparse_edge_rate(len(spec.variables))
    beliefs: Beliefs = {}
    fallbacks: list[Edge] = []
    for cause, group in groups:
        # the content-free reference is asked last, in the same chunk as the group's last questions
        asked = group + [REFERENCE] if calibration == "content-free" else group
        answers = []
        for start in range(0, len(asked), CHUNK):
            part = [edge for edge in asked[start : start + CHUNK] if edge != REFERENCE]
            prompts = edge_questions(spec, part, results, seed, listed, related)
            if start + CHUNK >= len(asked) and asked[-1] == REFERENCE:
                prompts.append(reference_question(spec, cause, results, seed, listed, related))
            answers += backend.score_yes_no(prompts, progress=progress and bar.disable)
            bar.update(len(prompts))
        reference_answer = answers.pop() if calibration == "content-free" else None
        for edge, answer in zip(group, answers):
            if answer.fallback:
                fallbacks.append(edge)
            if reference_answer is None or reference_answer.fallback or answer.fallback:
                beliefs[edge] = answer.p_yes
            else:
                beliefs[edge] = calibrate(answer.p_yes, reference_answer.p_yes, rate)
    bar.close()
    return beliefs, fallbacks


@dataclass
class Prediction:
    """A static prediction: beliefs, the graph above threshold, and its scores when truth is known."""

    graph: str
    beliefs: Beliefs
    threshold: float
    edges: list[Edge]
    fallbacks: list[Edge] = field(default_factory=list)
    metrics: GraphMetrics | None = None

    def as_dict(self) -> dict:
        return {
            "graph": self.graph,
            "threshold": self.threshold,
            "edges": [list(e) for e in self.edges],
            "fallbacks": [list(e) for e in self.fallbacks],
            "beliefs": [[u, v, p] for (u, v), p in sorted(self.beliefs.items())],
            "metrics": self.metrics.as_dict() if self.metrics else None,
        }


def llm_edge_beliefs(
    spec: GraphSpec,
    backend: LLMBackend,
    seed: int = 0,
    calibration: str = "content-free",
    progress: bool = False,
    listed: int | None = None,
) -> tuple[Beliefs, list[Edge]]:
    """P(u -> v) for every ordered pair, from the backend; also the pairs that fell back to 0.5."""
    pairs = spec.ordered_pairs()
    return ask_edges(spec, backend, pairs, seed=seed, calibration=calibration, progress=progress, listed=listed)


def edges_above(beliefs: Beliefs, threshold: float = 0.5) -> list[Edge]:
    return sorted(e for e, p in beliefs.items() if p > threshold)


def predict_graph(
    spec: GraphSpec,
    backend: LLMBackend,
    threshold: float = 0.5,
    seed: int = 0,
    calibration: str = "content-free",
    progress: bool = False,
) -> Prediction:
    """The static LLM prediction (no experiments), scored against the truth where it is known."""
    beliefs, fallbacks = llm_edge_beliefs(spec, backend, seed=seed, calibration=calibration, progress=progress)
    edges = edges_above(beliefs, threshold)
    metrics = score_graph(spec.edges, edges) if spec.has_truth else None
    return Prediction(spec.name, beliefs, threshold, edges, fallbacks, metrics)


def simulated_expert_beliefs(spec: GraphSpec, quality: float, seed: int = 0, confident_errors: bool = False) -> Beliefs:
    """Beliefs of a simulated expert whose predicted graph (threshold 0.5) has F1 = ``quality``.

    Let E be the true edges. The expert is wrong about r = round((1 - quality) |E|) true edges
    (belief below 1/2) and about as many non-edges (belief above 1/2), drawn at random; then
    precision = recall = 1 - r/|E|, so F1 is ``quality`` up to rounding. Its confidence is
    informative, as a real expert's would be: correct beliefs sit at a distance
    0.5 * Beta(2, 2) from 1/2, wrong ones at 0.5 * Beta(1, 4), i.e. mostly close to 1/2. That
    hands uncertainty selection the expert's errors; with ``confident_errors`` the wrong beliefs
    are as far from 1/2 as the right ones (both 0.5 * Beta(2, 2)), an expert whose confidence
    says nothing about where it is wrong (prior ``simulated:Q:confident``).
    Always labelled "simulated" in outputs; for controlled studies only.
    """
    import random

    if not 0.0 <= quality <= 1.0:
        raise ValueError(f"simulated expert quality must be in [0, 1], got {quality}")
    if not spec.has_truth:
        raise ValueError("a simulated expert needs the true graph")
    rng = random.Random(seed)
    truth = set(spec.edges)
    pairs = spec.ordered_pairs()
    non_edges = [e for e in pairs if e not in truth]
    wrong_count = min(round((1.0 - quality) * len(truth)), len(non_edges))
    wrong = set(rng.sample(sorted(truth), wrong_count)) | set(rng.sample(non_edges, wrong_count))
    beliefs = {}
    for edge in pairs:
        margin = 0.5 * (rng.betavariate(1, 4) if edge in wrong and not confident_errors else rng.betavariate(2, 2))
        margin = min(max(margin, 1e-3), 0.499)
        says_yes = (edge in truth) != (edge in wrong)
        beliefs[edge] = 0.5 + margin if says_yes else 0.5 - margin
    return beliefs
