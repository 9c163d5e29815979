"""The candidate screens (core/igda/candidates.py) and the discovery loop asking only their pairs."""

from __future__ import annotations

import pytest
from conftest import ScriptedBackend
from discolab.agents.discovery import DiscoverySettings, start_discovery
from discolab.core.errors import DiscolabError
from discolab.core.graphs import load_benchmark
from discolab.core.igda.candidates import (
    LLMListing,
    candidate_pairs,
    data_candidates,
    llm_candidates,
    parse_names,
    pruned_belief,
    resolve_candidates,
)
from discolab.core.igda.data_prior import benchmark_observations


class ListingBackend(ScriptedBackend):
    """A scripted backend that also chats: ``listing(prompt_text)`` is the reply; counts prompts."""

    def __init__(self, listing, answer=lambda text: 0.3):
        super().__init__(answer)
        self.listing = listing
        self.chats = 0
        self.questions = []

    def score_yes_no(self, prompts, progress=False):
        self.questions += [str(p) for p in prompts]
        return super().score_yes_no(prompts, progress)

    def chat(self, messages, *, max_tokens=256, temperature=0.0, seed=0):
        self.chats += 1
        return self.listing(messages[-1]["content"])


def test_the_parser_keeps_only_listed_names_and_counts_the_rest():
    names = ["smoke", "lung", "either", "xray"]
    reply = "1. Smoke\n- `lung`: a cancer\n__import__('os'), either and tobacco; NONE\nxray (chest)"
    found, unknown = parse_names(reply, names)
    assert found == ["smoke", "lung", "either", "xray"]
    assert unknown == 2  # the planted expression and "tobacco"; "NONE" is no name and not unknown
    assert parse_names("The patient has lung cancer.", names) == ([], 1)  # prose names nothing


def test_llm_candidates_make_n_calls_and_keep_either_direction():
    spec = load_benchmark("cancer")  # Pollution, Smoker -> Cancer -> Xray, Dyspnoea
    replies = {"Cancer": "Smoker, Pollution, Weather", "Xray": "Cancer", "Dyspnoea": "none"}

    def listing(text):
        effect = text.rsplit("directly cause ", 1)[1].split("?")[0]
        return replies.get(effect, "NONE")

    backend = ListingBackend(listing)
    found = LLMListing()
    kept = llm_candidates(spec, backend, listing=found)
    assert backend.chats == len(spec.names) == found.calls
    assert kept == {frozenset(p) for p in [("Smoker", "Cancer"), ("Pollution", "Cancer"), ("Cancer", "Xray")]}
    assert found.unknown == 1  # "Weather"
    ordered = candidate_pairs(spec, kept)
    assert ("Cancer", "Smoker") in ordered and ("Smoker", "Cancer") in ordered and len(ordered) == 6


def test_the_data_screen_keeps_most_true_edges_and_fewer_than_all_pairs():
    spec = load_benchmark("alarm")
    kept = data_candidates(benchmark_observations(spec, 1000, seed=0))
    true = {frozenset(e) for e in spec.edges}
    n = len(spec.names)
    assert len(kept & true) >= 0.85 * len(true)
    assert len(kept) < 0.25 * n * (n - 1) / 2


def test_auto_scores_every_pair_of_a_small_graph_and_prunes_a_large_one_with_data():
    assert resolve_candidates("auto", 8, has_data=True) == "all"
    assert resolve_candidates("auto", 37, has_data=True) == "data"
    assert resolve_candidates("auto", 37, has_data=False) == "all"
    assert resolve_candidates("llm", 5, has_data=False) == "llm"
    assert 0 < pruned_belief(37) < 1 / 36
    with pytest.raises(DiscolabError, match="candidates 'some'"):
        DiscoverySettings(candidates="some")


def _run(monkeypatch, backend, **settings):
    import discolab.agents.discovery.nodes as nodes

    monkeypatch.setattr(nodes, "_backend", lambda s: backend)
    base = {"graph": "asia", "prior": "llm", "update": "none", "rounds": 0}
    return start_discovery(DiscoverySettings(**{**base, **settings}))


@pytest.mark.parametrize("candidates", ["all", "auto"])
def test_every_pair_is_asked_when_candidates_are_all(monkeypatch, candidates):
    backend = ListingBackend(lambda text: "NONE")
    run = _run(monkeypatch, backend, candidates=candidates)
    assert len(backend.questions) == 8 * 7 + 1 and backend.chats == 0  # with the content-free question
    assert "candidates" not in run.values and "candidates" not in run.history[0]


def test_a_data_screened_run_asks_only_the_candidate_pairs(monkeypatch):
    backend = ListingBackend(lambda text: "NONE")
    run = _run(monkeypatch, backend, candidates="data", samples=2000)
    record = run.values["candidates"]
    assert record["mode"] == "data" and record["pairs"] == 8 * 7
    assert 0 < record["asked"] < record["pairs"] and record["asked"] + record["pruned"] == record["pairs"]
    assert len(backend.questions) == record["asked"] + 1 and backend.chats == 0
    assert run.history[0]["candidates"] == record
    beliefs = dict(zip(map(tuple, run.values["pairs"]), run.values["prior_beliefs"]))
    assert sum(p == pruned_belief(8) for p in beliefs.values()) == record["pruned"]


def test_an_llm_screened_run_asks_only_the_named_pairs(monkeypatch):
    backend = ListingBackend(lambda text: "smoke" if "directly cause lung?" in text else "NONE")
    run = _run(monkeypatch, backend, candidates="llm")
    assert backend.chats == 8
    record = run.values["candidates"]
    assert (record["asked"], record["pruned"], record["llm_calls"]) == (2, 54, 8)
    asked = [q.split("Question: Does ")[1].split(" directly")[0] for q in backend.questions[:-1]]
    assert sorted(asked) == ["lung", "smoke"]  # smoke -> lung and lung -> smoke


def test_the_llm_update_does_not_re_ask_a_pruned_pair(monkeypatch):
    backend = ListingBackend(lambda text: "smoke" if "directly cause lung?" in text else "NONE")
    run = _run(monkeypatch, backend, candidates="llm", update="llm", rounds=1, per_round=1)
    assert run.values["candidate_rows"] and len(run.values["candidate_rows"]) == 2
    asked = [q for q in backend.questions[3:] if "Question: Does N/A" not in q]
    updated = [q.split("Question: Does ")[1].split("?")[0] for q in asked]
    # the one round tests smoke -> lung or lung -> smoke; the other direction is the only kept neighbour
    assert len(updated) <= 1 and all(set(q.split(" directly cause ")) == {"smoke", "lung"} for q in updated)


# -- bounded prompts (core/igda/prompts.py) ---------------------------------------------------------
def test_a_bounded_prompt_lists_the_pair_and_its_most_related_variables():
    from discolab.core.igda.prompts import edge_questions, related_variables

    spec = load_benchmark("alarm")
    related = related_variables(spec, 8)
    assert all(names[0] == name and len(set(names)) == 8 for name, names in related.items())
    assert "HRBP" in related["HR"][:4]  # "heart rate" in both descriptions
    result = (("HR", "CO"), True), (("VENTLUNG", "SAO2"), False)
    questions = edge_questions(spec, [("HR", "CO"), ("HR", "BP")], result, listed=8, related=related)
    for (cause, effect), prompt in zip([("HR", "CO"), ("HR", "BP")], questions):
        text = prompt[-1]["content"]
        listed = [line[2:].split(":")[0] for line in text.split("\n") if line.startswith("- ") and ": " in line]
        listed = [name for name in listed if name in spec.names]
        assert len(listed) == 8 and cause in listed and effect in listed
        assert "of 37 most related" in text
        for (u, v), _ in result:  # a result is stated when both its variables are listed
            assert (f"- {u} directly causes {v}:" in text) == (u in listed and v in listed)
    # the questions about one cause share their first block, so a local model encodes it once
    first = [q[-1]["content"].split("most related to the question):\n")[1].split("\n")[:4] for q in questions]
    assert first[0] == first[1]


def test_the_listing_is_all_while_the_prompt_fits_and_bounded_past_the_context():
    from discolab.core.errors import LLMError
    from discolab.core.igda.prompts import edge_questions, estimate_tokens, listing_size

    spec = load_benchmark("alarm")
    assert listing_size(spec, "auto", 8192) is None and listing_size(spec, "auto", None) is None
    assert listing_size(spec, "all", 100) is None and listing_size(spec, "12", None) == 12
    assert listing_size(spec, 40, None) is None  # more than there are
    size = listing_size(spec, "auto", 700)
    assert 2 <= size < 37
    longest = max(edge_questions(spec, spec.ordered_pairs()[:200], listed=size), key=lambda p: len(p[-1]["content"]))
    assert estimate_tokens(longest[0]["content"] + longest[-1]["content"]) <= 700
    with pytest.raises(LLMError, match="cannot hold a question"):
        listing_size(spec, "auto", 120)
    with pytest.raises(DiscolabError, match="listing 'some'"):
        DiscoverySettings(listing="some")


def test_bounded_prompts_are_calibrated_a_cause_at_a_time_in_a_run(monkeypatch):
    from discolab.core.igda.prompts import CONTENT_FREE

    backend = ListingBackend(lambda text: "NONE")
    run = _run(monkeypatch, backend, candidates="all", listing="4")
    assert run.values["listed"] == 4 and run.history[0]["listed"] == 4
    references = [q for q in backend.questions if f"Does {CONTENT_FREE} directly cause {CONTENT_FREE}" in q]
    assert len(references) == 8 and len(backend.questions) == 8 * 7 + 8  # one reference per cause
    assert all("the 4 of 8 most related" in q for q in backend.questions if "Question" in q and CONTENT_FREE not in q)


def test_llm_candidates_with_bounded_prompts_list_the_variables_near_the_one_asked_about():
    spec = load_benchmark("alarm")
    seen = []
    backend = ListingBackend(lambda text: seen.append(text) or "NONE")
    llm_candidates(spec, backend, listed=6)
    assert len(seen) == 37
    assert all(text.count("\n- ") == 6 and "of 37 most related to" in text for text in seen)


def test_bounded_prompts_fit_the_context_under_the_models_own_tokenizer():
    # generated names such as X0021 take a token per two or three characters: the run counts with
    # the model's tokenizer where it has one, so every prompt fits
    from discolab.agents.discovery.nodes import prompt_listing
    from discolab.core.igda.prompts import edge_questions
    from discolab.core.llm.local import LocalBackend
    from discolab.experiments.bench_checkpoints import random_dag

    spec, backend = random_dag(100, 0), LocalBackend()
    settings = DiscoverySettings(graph="asia", listing="auto", context_tokens=2048)
    size = prompt_listing(settings, spec, backend)
    assert size is not None and size < 100
    prompts = edge_questions(spec, spec.ordered_pairs()[::97], listed=size)
    assert max(len(backend.encode(p)) for p in prompts) <= 2048
