"""The edge question asked of an LLM: does u directly cause v?

Every question about one graph shares a long prefix (instructions, domain context, the variable
list, any experiment results) and differs only in its last line, which is what lets the local
backend encode the prefix once. The variables are listed in a seeded random order: benchmark
files often list them topologically, which would hint at the answer.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from ..graphs import Edge, GraphSpec
from ..llm import Prompt

SYSTEM = (
    "You are a careful domain expert who judges direct causal relations between measured variables. "
    "Answer each question with a single word: Yes or No."
)


def variable_listing(spec: GraphSpec, seed: int = 0) -> str:
    variables = list(spec.variables)
    random.Random(seed).shuffle(variables)
    return "\n".join(f"- {v.name}: {v.description}" for v in variables)


def question_line(cause: str, effect: str) -> str:
    """The question about one pair, as the prompt's last line asks it."""
    return (
        f"Does {cause} directly cause {effect}? That is, would changing {cause} change {effect} "
        f"even if all other listed variables were held fixed? Answer Yes or No."
    )


def edge_questions(
    spec: GraphSpec,
    edges: Iterable[Edge],
    results: Iterable[tuple[Edge, bool]] = (),
    seed: int = 0,
) -> list[Prompt]:
    """The chat prompt for each (cause, effect) in ``edges``: does cause directly cause effect?

    ``results`` are experiment outcomes so far, ``((u, v), present)``; they are stated in the
    shared prefix, so that the model's re-prediction of neighbouring edges can use them. The
    prefix (it lists every variable) is built once for all the edges.
    """
    parts = []
    if spec.context:
        parts.append(f"Setting: {spec.context}")
    parts.append(f"Variables:\n{variable_listing(spec, seed)}")
    results = list(results)
    if results:
        lines = [f"- {u} directly causes {v}: {'yes, confirmed' if ok else 'no, ruled out'}" for (u, v), ok in results]
        parts.append("Experiments have already established:\n" + "\n".join(lines))
    prefix = "\n\n".join(parts)
    system = {"role": "system", "content": SYSTEM}
    return [
        [system, {"role": "user", "content": f"{prefix}\n\nQuestion: {question_line(cause, effect)}"}]
        for cause, effect in edges
    ]


def edge_question(
    spec: GraphSpec,
    cause: str,
    effect: str,
    results: Iterable[tuple[Edge, bool]] = (),
    seed: int = 0,
) -> Prompt:
    """The chat prompt asking whether ``cause`` directly causes ``effect`` (:func:`edge_questions`)."""
    return edge_questions(spec, [(cause, effect)], results, seed)[0]


def all_edge_questions(spec: GraphSpec, seed: int = 0) -> tuple[list[Edge], list[Prompt]]:
    """Every ordered pair of distinct variables and its question."""
    pairs = spec.ordered_pairs()
    return pairs, edge_questions(spec, pairs, seed=seed)
