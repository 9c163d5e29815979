"""Candidates before pairs: a cheap first pass that narrows the pairs the LLM prior is asked about.

Asking the LLM about every ordered pair costs n(n - 1) questions; a first pass that keeps the
pairs that could plausibly be adjacent, and scores only those, costs far less on a sparse graph.
Two screens, each returning unordered pairs ``frozenset({u, v})``:

* :func:`data_candidates` (when the run has observational data): the skeleton of PC at a loose
  level. Only the adjacency phase runs (no orientation), with conditioning sets of at most
  ``depth`` variables. A pair is dropped only when some test finds it independent at level
  ``alpha``; a loose level (0.2 rather than PC's usual 0.05) removes an edge only on clear
  evidence of independence, so that a weak true dependence in a small sample is kept: the
  screen's errors should be false candidates (which the LLM then scores), not lost edges
  (which no later step recovers). A shallow depth is both the cheap screen (depth 0 is n(n - 1)/2
  marginal tests) and the safe one: deeper conditioning removes more pairs, true ones included
  when the sample is small. Pairs with a constant column are kept (the data cannot speak).
  Spirtes, Glymour & Scheines (2000), *Causation, Prediction, and Search*, ch. 5 (the PC
  skeleton); the same loose-level pre-screen is PC's role in the hybrid MMHC-style methods
  (Tsamardinos, Brown & Aliferis, 2006, Machine Learning 65).
* :func:`llm_candidates`: per variable one generation listing its plausible direct causes among
  the others (n calls instead of n(n - 1)), in the spirit of the breadth-first prompting of
  Jiralerspong et al. (2024), "Efficient Causal Graph Discovery Using Large Language Models".
  Names are parsed strictly against the variable list: an item of the reply counts only if it is
  exactly a variable's name (case-insensitive, after bullets, quotes and a trailing description
  are stripped); anything else is ignored and counted. A pair is a candidate if either
  direction was named.

:func:`candidate_pairs` takes the union of the screens given and returns ordered pairs both ways.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..graphs import Edge, GraphSpec
from ..llm import LLMBackend, Prompt
from .observations import Observations
from .prior import sparse_edge_rate
from .prompts import related_variables, variable_listing

CANDIDATES = ("all", "data", "llm", "data+llm", "auto")
CANDIDATES_FROM = 30  # auto: every pair below this many variables (docs/scale.md, "Candidates before pairs")
PRUNED_SHARE = 0.5  # a pruned pair's belief: this share of the calibrated base rate (see pruned_belief)
DATA_ALPHA = 0.2  # PC's level for the screen: loose, so that a weak true dependence is kept
DATA_DEPTH = 1  # conditioning sets of at most one variable: cheap, and loses few true edges
MAX_TOKENS = 48  # one reply lists a few names
NONE_WORDS = {"none", "nothing", "no", "n/a", "na", "-", ""}

SYSTEM = (
    "You are a careful domain expert who judges direct causal relations between measured variables. "
    "Answer with variable names from the list only."
)


@dataclass
class LLMListing:
    """What :func:`llm_candidates` found: the candidate pairs, and the reply items that named no variable."""

    pairs: set[frozenset] = field(default_factory=set)
    unknown: int = 0  # reply items that are no listed variable (ignored)
    calls: int = 0


def data_candidates(observations: Observations, alpha: float = DATA_ALPHA, depth: int = DATA_DEPTH) -> set[frozenset]:
    """The unordered pairs PC's skeleton keeps at level ``alpha`` with conditioning sets of at most
    ``depth`` variables (PC's own test for the column types, as in :mod:`.data_prior`); every pair
    with a constant column is kept."""
    from causallearn.utils.cit import CIT
    from causallearn.utils.PCUtils.SkeletonDiscovery import skeleton_discovery

    everyone = list(observations.frame.columns)
    varying = observations.varying()
    names = list(varying.frame.columns)
    kept: set[frozenset] = set()
    if len(names) >= 2:
        matrix = varying.matrix()
        graph = skeleton_discovery(
            matrix, alpha, CIT(matrix, varying.test), stable=True, show_progress=False, max_k=depth
        ).G.graph
        kept = {
            frozenset((names[i], names[j]))
            for i in range(len(names))
            for j in range(i + 1, len(names))
            if graph[i, j] != 0
        }
    constant = set(everyone) - set(names)
    kept |= {frozenset((u, v)) for u in constant for v in everyone if u != v}
    return kept


def causes_prompt(
    spec: GraphSpec, effect: str, seed: int = 0, related: Mapping[str, list[str]] | None = None
) -> Prompt:
    """The question for one variable: which of the others plausibly directly cause it? With
    ``related`` (bounded prompts, :func:`.prompts.related_variables`), only the variables most
    related to it are listed."""
    parts = [f"Setting: {spec.context}"] if spec.context else []
    if related is None:
        parts.append(f"Variables:\n{variable_listing(spec, seed)}")
    else:
        names = list(related[effect])
        random.Random(f"{seed}:{effect}").shuffle(names)
        header = f"Variables (the {len(names)} of {len(spec.variables)} most related to {effect}):"
        parts.append(f"{header}\n{variable_listing(spec, names=names)}")
    parts.append(
        f"Which of the listed variables plausibly directly cause {effect}? "
        "Reply with their names only, separated by commas, or NONE."
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


def parse_names(reply: str, names: Iterable[str]) -> tuple[list[str], int]:
    """The variables ``reply`` names, in order, and how many of its items named none.

    The reply is split on commas, semicolons, newlines and " and "; from each item a bullet or
    number, surrounding quotes or backticks, and a trailing description (after ":", " - " or
    "(") are stripped; what is left must equal a listed name (case-insensitive). Words such as
    "none" are neither names nor unknown. Nothing of the reply is evaluated."""
    by_lower = {name.lower(): name for name in names}
    found: list[str] = []
    unknown = 0
    for item in re.split(r"[,;\n]|\band\b", reply):
        item = re.sub(r"^\s*(?:[-*\u2022]|\d+[.)])\s*", "", item)
        item = re.split(r":|\s-\s|\(", item, maxsplit=1)[0]
        item = item.strip().strip("`'\"*.").strip()
        key = item.lower()
        if key in NONE_WORDS:
            continue
        if key in by_lower:
            if by_lower[key] not in found:
                found.append(by_lower[key])
        else:
            unknown += 1
    return found, unknown


def llm_candidates(
    spec: GraphSpec,
    backend: LLMBackend,
    seed: int = 0,
    max_tokens: int = MAX_TOKENS,
    listing: LLMListing | None = None,
    listed: int | None = None,
) -> set[frozenset]:
    """The unordered pairs {u, v} where the backend names u among v's plausible direct causes or
    v among u's: one ``backend.chat`` per variable. ``listing``, if given, receives the count of
    unknown items and of calls; ``listed``: each prompt lists that many variables, those most
    related to the one asked about."""
    listing = listing if listing is not None else LLMListing()
    names = spec.names
    related = related_variables(spec, listed) if listed is not None else None
    for effect in names:
        prompt = causes_prompt(spec, effect, seed, related)
        reply = backend.chat(prompt, max_tokens=max_tokens, temperature=0.0, seed=seed)
        listing.calls += 1
        causes, unknown = parse_names(reply, names)
        listing.unknown += unknown
        listing.pairs |= {frozenset((cause, effect)) for cause in causes if cause != effect}
    return listing.pairs


def candidate_pairs(spec: GraphSpec, *screens: set[frozenset]) -> set[Edge]:
    """The ordered pairs, both ways, of the union of ``screens`` (each a set of unordered pairs)."""
    union = set().union(*screens) if screens else set()
    return {(u, v) for u, v in spec.ordered_pairs() if frozenset((u, v)) in union}


def pruned_belief(n_variables: int) -> float:
    """The belief a pair the screens dropped gets instead of an LLM answer: half the calibrated
    base rate 1/(n - 1) (:func:`.prior.sparse_edge_rate`), which is what an uninformative answer
    calibrates to. Lower, because the screen is evidence against the pair; not 0, so that an
    update or a fused source can still raise it; and below every asked pair that the model
    did not favour, so that uncertainty selection does not spend experiments on pruned pairs."""
    return PRUNED_SHARE * sparse_edge_rate(n_variables)


def resolve_candidates(choice: str, n_variables: int, has_data: bool, threshold: int = CANDIDATES_FROM) -> str:
    """What ``auto`` means for a problem: every pair below ``threshold`` variables; else the data
    screen when the run has data; else every pair (the embedded model's own listing loses most
    true edges: docs/scale.md). Other choices are returned as they are."""
    if choice != "auto":
        return choice
    if n_variables < threshold or not has_data:
        return "all"
    return "data"
