"""The edge question asked of an LLM: does u directly cause v?

Every question about one graph shares a long prefix (instructions, domain context, the variable
list, any experiment results) and differs only in its last line, which is what lets the local
backend encode the prefix once. The variables are listed in a seeded random order: benchmark
files often list them topologically, which would hint at the answer.

Prompts that fit: a listing of every variable grows with n and, past a few hundred variables, no
longer fits a small model's context. A *bounded* prompt (``listed=k``) lists only the k variables
most related to the pair: about k/2 nearest the cause (itself first among them), then the
effect's nearest not yet listed (the effect itself first). Relatedness is the cosine similarity of
TF-IDF vectors of character n-grams of each variable's name and description (Salton & Buckley,
1988, "Term-weighting approaches in automatic text retrieval"): it needs no model, is robust to
short names and abbreviations, and costs one sparse nearest-neighbour search. The cause's block
comes first, so the questions about one cause still share a prefix; results are stated when both
their variables are listed. :func:`listing_size` picks k from the backend's context length.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence

from ..errors import LLMError
from ..graphs import Edge, GraphSpec
from ..llm import Prompt

CONTENT_FREE = "N/A"  # the content-free reference asks about N/A -> N/A (prior.calibrate)

SYSTEM = (
    "You are a careful domain expert who judges direct causal relations between measured variables. "
    "Answer each question with a single word: Yes or No."
)


LISTINGS = ("all", "auto")  # or a number: at most that many variables listed per prompt
ANSWER_ROOM = 96  # tokens of the context kept for the chat template, the question line and the answer
CHARS_PER_TOKEN = 2  # without the model's tokenizer: generated names such as X0021 measured 2.35 (English 3.4-3.8)


def variable_listing(spec: GraphSpec, seed: int = 0, names: Sequence[str] | None = None) -> str:
    """One line per variable, ``- name: description``, in a seeded random order; ``names``: only
    those variables (in the order given, unshuffled)."""
    if names is None:
        variables = list(spec.variables)
        random.Random(seed).shuffle(variables)
    else:
        by_name = {v.name: v for v in spec.variables}
        variables = [by_name[name] for name in names]
    return "\n".join(f"- {v.name}: {v.description}" for v in variables)


def estimate_tokens(text: str) -> int:
    """Tokens ``text`` takes at most, about: one per :data:`CHARS_PER_TOKEN` characters."""
    return len(text) // CHARS_PER_TOKEN + 1


def token_counter(count_tokens: Callable[[str], int | None] | None) -> Callable[[str], int]:
    """Tokens of a text by ``count_tokens`` (a backend's tokenizer), or :func:`estimate_tokens`
    where there is none or it answers None."""

    def count(text: str) -> int:
        counted = count_tokens(text) if count_tokens is not None else None
        return estimate_tokens(text) if counted is None else counted

    return count


def check_listing(listing: str | int) -> str | int:
    """``listing`` as :func:`listing_size` takes it: ``all``, ``auto`` or a number of at least 2."""
    text = str(listing).strip().lower()
    if text in LISTINGS:
        return text
    try:
        size = int(text)
    except ValueError:
        size = 0
    if size < 2:
        raise LLMError(f"listing {listing!r}: choose all, auto, or a number of variables of at least 2 (the pair)")
    return size


def listing_size(
    spec: GraphSpec,
    listing: str | int,
    context_tokens: int | None,
    results: Iterable[tuple[Edge, bool]] = (),
    count_tokens: Callable[[str], int | None] | None = None,
) -> int | None:
    """How many variables a prompt lists: ``None`` for all of them.

    ``all``: every variable. A number k: at most k. ``auto``: every variable while the longest
    question (the whole listing, every result) fits in ``context_tokens`` less
    :data:`ANSWER_ROOM`, counted by ``count_tokens`` (a backend's tokenizer; where it is missing
    or answers None, :func:`estimate_tokens`); else the most that fit, at the mean length of a
    variable's line. An unknown context (``None``) is taken to fit."""
    listing = check_listing(listing)
    n = len(spec.variables)
    if listing == "all" or (listing == "auto" and context_tokens is None):
        return None
    if listing != "auto":
        return None if listing >= n else int(listing)

    count = token_counter(count_tokens)
    lines = count(variable_listing(spec))
    stated = count("\n".join(_stated(list(results))))  # every result, as the whole listing's prompt states them
    longest = max(spec.names, key=len)
    fixed = count(SYSTEM + (spec.context or "")) + 2 * count(question_line(longest, longest))
    room = context_tokens - ANSWER_ROOM - fixed
    if lines + stated <= room:
        return None
    size = math.floor(room / (lines / n))  # bounded prompts state only the results among their listed variables
    if size < 2:
        raise LLMError(
            f"a context of {context_tokens} tokens cannot hold a question about two of these variables; "
            "set a longer context (--context-tokens) or shorten the descriptions"
        )
    return min(size, n)


def related_variables(spec: GraphSpec, size: int) -> dict[str, list[str]]:
    """For each variable, itself and then the ``size - 1`` others most similar to it: cosine
    similarity of TF-IDF weighted character 2-4-grams of ``name description``, ties in listing
    order."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.neighbors import NearestNeighbors

    names = spec.names
    size = min(size, len(names))
    texts = [f"{v.name.replace('_', ' ')} {v.description}" for v in spec.variables]
    vectors = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True).fit_transform(texts)
    search = NearestNeighbors(n_neighbors=min(size + 1, len(names)), metric="cosine", algorithm="brute")
    _, nearest = search.fit(vectors).kneighbors(vectors)
    return {
        name: [name] + [names[j] for j in row if j != i][: size - 1]
        for i, (name, row) in enumerate(zip(names, nearest))
    }


def bounded_listing(related: Mapping[str, Sequence[str]], cause: str, effect: str, size: int) -> tuple[list, list]:
    """The two blocks a bounded prompt lists: the cause's nearest (about half of ``size``, the
    cause first) and then the effect's nearest not already listed (the effect first, if it is a
    variable: the content-free reference lists the cause's block alone)."""
    first = list(related[cause][: math.ceil(size / 2)])
    second = [x for x in related.get(effect, ()) if x not in first][: size - len(first)]
    return first, second


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
    listed: int | None = None,
    related: Mapping[str, Sequence[str]] | None = None,
) -> list[Prompt]:
    """The chat prompt for each (cause, effect) in ``edges``: does cause directly cause effect?

    ``results`` are experiment outcomes so far, ``((u, v), present)``; they are stated in the
    shared prefix, so that the model's re-prediction of neighbouring edges can use them. The
    prefix (it lists every variable) is built once for all the edges. ``listed``: list only that
    many variables, those most related to the pair (``related``, from :func:`related_variables`
    with at least ``listed`` each; computed if not given).
    """
    results = list(results)
    setting = [f"Setting: {spec.context}"] if spec.context else []
    system = {"role": "system", "content": SYSTEM}
    if listed is None:
        prefix = "\n\n".join(setting + [f"Variables:\n{variable_listing(spec, seed)}"] + _stated(results))
        return [
            [system, {"role": "user", "content": f"{prefix}\n\nQuestion: {question_line(cause, effect)}"}]
            for cause, effect in edges
        ]
    related = related if related is not None else related_variables(spec, listed)
    return [
        [
            system,
            {
                "role": "user",
                "content": f"{_bounded_body(spec, cause, effect, results, seed, listed, related)}\n\n"
                f"Question: {question_line(cause, effect)}",
            },
        ]
        for cause, effect in edges
    ]


def reference_question(
    spec: GraphSpec,
    cause: str | None = None,
    results: Iterable[tuple[Edge, bool]] = (),
    seed: int = 0,
    listed: int | None = None,
    related: Mapping[str, Sequence[str]] | None = None,
) -> Prompt:
    """The content-free reference ("Does N/A directly cause N/A?") in the context the questions it
    calibrates have: every variable listed, or with ``listed``, the block a bounded question about
    ``cause`` lists (its shared prefix), with the results stated among them."""
    if listed is None:
        return edge_questions(spec, [(CONTENT_FREE, CONTENT_FREE)], results, seed)[0]
    if cause is None:
        raise ValueError("a bounded reference question needs the cause whose questions it calibrates")
    related = related if related is not None else related_variables(spec, listed)
    body = _bounded_body(spec, cause, CONTENT_FREE, list(results), seed, listed, related)
    content = f"{body}\n\nQuestion: {question_line(CONTENT_FREE, CONTENT_FREE)}"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": content}]


def _bounded_body(
    spec: GraphSpec,
    cause: str,
    effect: str,
    results: list[tuple[Edge, bool]],
    seed: int,
    listed: int,
    related: Mapping[str, Sequence[str]],
) -> str:
    """A bounded prompt before its question: the setting, the pair's most related variables and
    the results among them."""
    first, second = bounded_listing(related, cause, effect, listed)
    random.Random(f"{seed}:{cause}").shuffle(first)  # the same order in every question about this cause
    random.Random(f"{seed}:{cause}:{effect}").shuffle(second)
    shown = set(first) | set(second)
    header = f"Variables (the {len(shown)} of {len(spec.variables)} most related to the question):"
    listing = variable_listing(spec, names=first + second)
    among = [(edge, ok) for edge, ok in results if edge[0] in shown and edge[1] in shown]
    setting = [f"Setting: {spec.context}"] if spec.context else []
    return "\n\n".join(setting + [f"{header}\n{listing}"] + _stated(among))


def _stated(results: list[tuple[Edge, bool]]) -> list[str]:
    if not results:
        return []
    lines = [f"- {u} directly causes {v}: {'yes, confirmed' if ok else 'no, ruled out'}" for (u, v), ok in results]
    return ["Experiments have already established:\n" + "\n".join(lines)]


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
