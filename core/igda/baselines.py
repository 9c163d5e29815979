"""Prompting baselines that predict a whole graph without experiments.

- :func:`pairwise_prompting` (Kiciman et al., 2023, "Causal Reasoning and Large Language
  Models: Opening a New Frontier for Causality"): one multiple-choice question per unordered
  pair {a, b}, showing only those two variables:

      (A) changing a causes a change in b;  (B) changing b causes a change in a;  (C) neither.

  n(n-1)/2 queries. Which variable is shown first is seeded per pair, so that a model's
  preference for the first option does not orient every edge along the file's order.

- :func:`bfs_prompting` (Jiralerspong et al., 2024, "Efficient Causal Graph Discovery Using
  Large Language Models"): one query for the root variables (caused by no other listed
  variable), then a breadth-first search that asks, once per visited variable, which of the
  listed variables it directly causes. n + 1 queries. An answer edge that would close a
  cycle is dropped, as in the paper.

Both read the model's free-text reply (temperature 0) and never evaluate it. A reply with no
recognisable answer is retried once with a reminder of the format, then recorded as a fallback
("no edge", flagged in ``fallbacks``), never silently dropped.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

import networkx as nx

from ..graphs import Edge, GraphMetrics, GraphSpec, score_graph
from ..llm import LLMBackend, Prompt
from .prompts import variable_listing

BASELINES = ("pairwise", "bfs")
PAIRWISE_SYSTEM = (
    "You are a careful domain expert who judges cause-and-effect relations. "
    "Answer with the letter of one option: A, B or C."
)
BFS_SYSTEM = (
    "You are a careful domain expert who builds causal graphs. "
    "Answer with the names of variables exactly as listed, separated by commas, or with None."
)
REMINDER = {"role": "user", "content": "Reply with the answer only, in the format asked for."}


@dataclass
class BaselineGraph:
    """A graph predicted by a prompting baseline, with its cost and its scores where truth is known."""

    method: str
    graph: str
    edges: list[Edge]
    queries: int
    fallbacks: list[str] = field(default_factory=list)
    metrics: GraphMetrics | None = None

    def as_dict(self) -> dict:
        return {
            "method": self.method,
            "graph": self.graph,
            "edges": [list(e) for e in self.edges],
            "queries": self.queries,
            "fallbacks": self.fallbacks,
            "metrics": self.metrics.as_dict() if self.metrics else None,
        }


def _ask(backend: LLMBackend, prompt: Prompt, parse, max_tokens: int, seed: int):
    """Parsed reply, retrying once with a reminder; ``None`` when neither reply parses."""
    for attempt in range(2):
        messages = prompt if attempt == 0 else [*prompt, REMINDER]
        parsed = parse(backend.chat(messages, max_tokens=max_tokens, temperature=0.0, seed=seed))
        if parsed is not None:
            return parsed
    return None


def _scored(method: str, spec: GraphSpec, edges: list[Edge], queries: int, fallbacks: list[str]) -> BaselineGraph:
    edges = sorted(edges)
    metrics = score_graph(spec.edges, edges) if spec.has_truth else None
    return BaselineGraph(method, spec.name, edges, queries, fallbacks, metrics)


# -- pairwise (Kiciman et al.) ---------------------------------------------------------------
def pairwise_question(spec: GraphSpec, first: str, second: str) -> Prompt:
    describe = {v.name: v.description for v in spec.variables}
    parts = []
    if spec.context:
        parts.append(f"Setting: {spec.context}")
    parts.append(f"- {first}: {describe[first]}\n- {second}: {describe[second]}")
    parts.append(
        "Which cause-and-effect relationship is more likely?\n"
        f"A. changing {first} directly causes a change in {second}.\n"
        f"B. changing {second} directly causes a change in {first}.\n"
        "C. neither directly causes the other."
    )
    return [{"role": "system", "content": PAIRWISE_SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


def parse_choice(text: str) -> str | None:
    """'A', 'B' or 'C' from a reply such as "B", "(b)", "Answer: C." or "Option A"; else None."""
    match = re.match(r"^\W*(?:answer|option)?\W*([abc])\b", text.strip(), flags=re.IGNORECASE)
    return match.group(1).upper() if match else None


def pairwise_prompting(spec: GraphSpec, backend: LLMBackend, seed: int = 0, progress: bool = False) -> BaselineGraph:
    """One three-way question per unordered pair; the chosen direction becomes an edge."""
    from tqdm.auto import tqdm

    rng = random.Random(seed)
    names = spec.names
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
    edges, fallbacks = [], []
    for a, b in tqdm(pairs, desc="pairwise", unit="pair", disable=not progress):
        first, second = (a, b) if rng.random() < 0.5 else (b, a)
        choice = _ask(backend, pairwise_question(spec, first, second), parse_choice, max_tokens=4, seed=seed)
        if choice is None:
            fallbacks.append(f"{a} / {b}")
        elif choice == "A":
            edges.append((first, second))
        elif choice == "B":
            edges.append((second, first))
    return _scored("pairwise", spec, edges, len(pairs), fallbacks)


# -- breadth-first (Jiralerspong et al.) -----------------------------------------------------
def _bfs_prompt(spec: GraphSpec, question: str, seed: int) -> Prompt:
    parts = []
    if spec.context:
        parts.append(f"Setting: {spec.context}")
    parts.append(f"Variables:\n{variable_listing(spec, seed)}")
    parts.append(question)
    return [{"role": "system", "content": BFS_SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


def roots_question(spec: GraphSpec, seed: int = 0) -> Prompt:
    return _bfs_prompt(
        spec,
        "Which of these variables are not caused by any other listed variable? List their names, separated by commas.",
        seed,
    )


def effects_question(spec: GraphSpec, cause: str, seed: int = 0) -> Prompt:
    return _bfs_prompt(
        spec,
        f"Which of the listed variables does {cause} directly cause? List their names, separated by "
        "commas, or answer None.",
        seed,
    )


def parse_variables(text: str, names: list[str]) -> list[str] | None:
    """The listed variable names that a reply mentions (whole words, any case), in name order;
    ``[]`` for an explicit "none"; ``None`` when the reply names nothing recognisable."""
    found = [n for n in names if re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", text, flags=re.IGNORECASE)]
    if found:
        return found
    if re.match(r"^\W*(none|no variables?|nothing)\b", text.strip(), flags=re.IGNORECASE):
        return []
    return None


def bfs_prompting(spec: GraphSpec, backend: LLMBackend, seed: int = 0, progress: bool = False) -> BaselineGraph:
    """Roots first, then one "what does X cause?" query per visited variable, keeping a DAG."""
    from tqdm.auto import tqdm

    names = spec.names

    def parse(text):
        return parse_variables(text, names)

    fallbacks = []
    roots = _ask(backend, roots_question(spec, seed), parse, max_tokens=96, seed=seed)
    if not roots:  # no answer or no root named: start from every variable, as a DAG must have one
        fallbacks.append("roots")
        roots = list(names)
    graph = nx.DiGraph()
    graph.add_nodes_from(names)
    queue, visited, queries = list(roots), set(roots), 1
    bar = tqdm(total=len(names), desc="bfs", unit="query", disable=not progress)
    while queue:
        cause = queue.pop(0)
        effects = _ask(backend, effects_question(spec, cause, seed), parse, max_tokens=96, seed=seed)
        queries += 1
        bar.update()
        if effects is None:
            fallbacks.append(cause)
            continue
        for effect in effects:
            if effect == cause or nx.has_path(graph, effect, cause):
                continue  # the paper's rule: an edge that would close a cycle is dropped
            graph.add_edge(cause, effect)
            if effect not in visited:
                visited.add(effect)
                queue.append(effect)
    bar.close()
    return _scored("bfs", spec, list(graph.edges), queries, fallbacks)


def run_baseline(method: str, spec: GraphSpec, backend: LLMBackend, seed: int = 0, progress: bool = False):
    if method not in BASELINES:
        raise ValueError(f"unknown baseline {method!r}; choose from {', '.join(BASELINES)}")
    run = pairwise_prompting if method == "pairwise" else bfs_prompting
    return run(spec, backend, seed=seed, progress=progress)
