"""Prompting baselines (pairwise, BFS) with a scripted model: parsing, retries, the DAG rule."""

import pytest
from discolab.core.graphs import load_benchmark
from discolab.core.igda.baselines import bfs_prompting, pairwise_prompting, parse_choice, parse_variables


class ScriptedChat:
    """A backend whose chat replies come from a function of the last user message."""

    kind, model = "scripted", "scripted"

    def __init__(self, reply):
        self.reply, self.calls = reply, []

    def identity(self):
        return {"kind": self.kind}

    def score_yes_no(self, prompts, progress=False):
        raise AssertionError("baselines only chat")

    def chat(self, messages, *, max_tokens=256, temperature=0.0, seed=0):
        self.calls.append(messages)
        return self.reply(messages[-1]["content"], messages)


@pytest.mark.parametrize(
    "text, expected",
    [("B", "B"), ("(a) because", "A"), ("Answer: C.", "C"), ("option b", "B"), ("Both", None), ("", None)],
)
def test_parse_choice(text, expected):
    assert parse_choice(text) == expected


def test_parse_variables_matches_whole_names_only():
    names = ["smoke", "lung", "either", "xray"]
    assert parse_variables("I think LUNG and xray.", names) == ["lung", "xray"]
    assert parse_variables("None.", names) == []
    assert parse_variables("smoker", names) is None  # not a whole-word match


def truthful_pairwise(spec):
    truth = set(spec.edges)

    def reply(content, _messages):
        first = content.split("A. changing ")[1].split(" directly")[0]
        second = content.split("B. changing ")[1].split(" directly")[0]
        return "A" if (first, second) in truth else "B" if (second, first) in truth else "C"

    return reply


def test_pairwise_with_a_truthful_model_recovers_the_graph_in_n_choose_2_queries():
    spec = load_benchmark("asia")
    backend = ScriptedChat(truthful_pairwise(spec))
    result = pairwise_prompting(spec, backend, seed=3)
    n = len(spec.variables)
    assert result.queries == len(backend.calls) == n * (n - 1) // 2
    assert result.metrics.f1 == 1.0 and not result.fallbacks


def test_unparseable_answers_are_retried_then_flagged_not_dropped():
    spec = load_benchmark("cancer")
    replies = iter(["I am not sure", "Still unsure"] + ["C"] * 100)
    backend = ScriptedChat(lambda content, messages: next(replies))
    result = pairwise_prompting(spec, backend)
    assert len(result.fallbacks) == 1 and len(backend.calls) == result.queries + 1
    assert backend.calls[1][-1]["content"].startswith("Reply with the answer only")


def test_bfs_asks_once_per_reached_variable_and_keeps_a_dag():
    spec = load_benchmark("asia")
    children = {u: [v for a, v in spec.edges if a == u] for u in spec.names}
    children["xray"] = ["bronc"]  # a wrong answer that closes no cycle: kept
    children["either"] = ["xray", "dysp", "tub"]  # tub -> either -> tub would be a cycle: dropped

    def reply(content, _messages):
        if "not caused by any other" in content:
            return "asia, smoke"
        cause = content.split("does ")[-1].split(" directly cause")[0]
        return ", ".join(children[cause]) or "None"

    backend = ScriptedChat(reply)
    result = bfs_prompting(spec, backend)
    assert result.queries == len(backend.calls) == len(spec.variables) + 1
    assert ("either", "tub") not in result.edges and ("xray", "bronc") in result.edges
    assert set(spec.edges) <= set(result.edges)
