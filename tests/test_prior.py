"""LLM edge beliefs and their content-free calibration, with a backend that records its prompts."""

import pytest
from discolab.core.graphs import load_benchmark
from discolab.core.igda.prior import ask_edges, calibrate, sparse_edge_rate
from discolab.core.igda.updates import llm_update, neighbouring_edges, structural_update
from discolab.core.llm import FALLBACK, TOKEN_PROBABILITY, YesNo


class RecordingBackend:
    """Says yes with a probability that depends on the question's last line (and on context)."""

    kind, model = "recording", "r"

    def __init__(self, context_bias=0.0):
        self.prompts = []
        self.context_bias = context_bias

    def identity(self):
        return {"kind": self.kind}

    def score_yes_no(self, prompts, progress=False):
        self.prompts += prompts
        out = []
        for p in prompts:
            text = p[-1]["content"]
            last = text.rsplit("Question:", 1)[1]
            bias = self.context_bias if "established" in text else 0.0
            if "N/A" in last:
                out.append(YesNo(0.3 + bias, TOKEN_PROBABILITY))
            elif "Xray" in last.split("?")[0].split("cause")[0]:
                out.append(YesNo(0.5, FALLBACK))
            else:
                out.append(YesNo(min(0.95, 0.3 + bias + 0.01 * len(last) % 0.5), TOKEN_PROBABILITY))
        return out


def test_calibration_maps_the_content_free_answer_to_the_base_rate():
    assert calibrate(0.3, 0.3, 0.25) == pytest.approx(0.25)
    assert calibrate(0.6, 0.3, 0.25) > calibrate(0.4, 0.3, 0.25) > 0.25
    assert sparse_edge_rate(5) == 0.25 and sparse_edge_rate(2) == 0.5


def test_ask_edges_calibrates_against_a_question_with_the_same_prefix():
    spec = load_benchmark("cancer")
    backend = RecordingBackend()
    edges = [("Smoker", "Cancer"), ("Cancer", "Dyspnoea"), ("Xray", "Cancer")]
    beliefs, fallbacks = ask_edges(spec, backend, edges)
    reference = backend.prompts[-1][-1]["content"]
    assert "Does N/A directly cause N/A?" in reference
    prefix = reference.rsplit("Question:", 1)[0]
    assert all(p[-1]["content"].startswith(prefix) for p in backend.prompts)
    assert fallbacks == [("Xray", "Cancer")] and beliefs[("Xray", "Cancer")] == 0.5
    raw, _ = ask_edges(spec, RecordingBackend(), edges, calibration="none")
    assert beliefs[("Smoker", "Cancer")] == pytest.approx(calibrate(raw[("Smoker", "Cancer")], 0.3, 0.25))


def test_calibration_cancels_a_context_wide_yes_bias():
    """Stating results makes the recording model say yes more to everything; calibrated beliefs do not move."""
    spec = load_benchmark("cancer")
    edges = [("Smoker", "Cancer"), ("Pollution", "Dyspnoea")]
    before, _ = ask_edges(spec, RecordingBackend(context_bias=0.2), edges)
    after, _ = ask_edges(spec, RecordingBackend(context_bias=0.2), edges, [(("Cancer", "Xray"), True)])
    raw_after, _ = ask_edges(
        spec, RecordingBackend(context_bias=0.2), edges, [(("Cancer", "Xray"), True)], calibration="none"
    )
    raw_before, _ = ask_edges(spec, RecordingBackend(context_bias=0.2), edges, calibration="none")
    assert all(raw_after[e] > raw_before[e] + 0.1 for e in edges)
    assert all(abs(after[e] - before[e]) < 0.1 for e in edges)


def test_llm_update_asks_only_neighbours_with_results_stated_and_keeps_fallbacks():
    spec = load_benchmark("cancer")
    beliefs = dict.fromkeys(spec.ordered_pairs(), 0.2)
    results = {("Pollution", "Cancer"): True}
    backend = RecordingBackend()
    updated, fallbacks = llm_update(spec, backend, beliefs, results)
    asked = neighbouring_edges(beliefs, results)
    assert len(backend.prompts) == len(asked) + 1  # + the content-free reference
    assert all("Pollution directly causes Cancer: yes, confirmed" in p[-1]["content"] for p in backend.prompts)
    assert ("Smoker", "Xray") not in asked and ("Pollution", "Cancer") not in asked
    assert all(updated[e] == 0.2 for e in fallbacks)
    assert updated[("Smoker", "Xray")] == 0.2


def test_structural_update_rules_out_cycles_through_confirmed_edges():
    beliefs = {("a", "b"): 0.9, ("b", "a"): 0.8, ("b", "c"): 0.7, ("c", "a"): 0.6, ("a", "c"): 0.6}
    updated = structural_update(beliefs, {("a", "b"): True, ("b", "c"): True})
    assert updated[("b", "a")] <= 0.02 and updated[("c", "a")] <= 0.02
    assert updated[("a", "c")] == 0.6


def test_a_large_prior_is_asked_in_chunks_with_the_same_answers(monkeypatch):
    from discolab.core.igda import prior

    spec = load_benchmark("asia")
    edges = spec.ordered_pairs()
    whole = RecordingBackend()
    expected = ask_edges(spec, whole, edges)
    calls = []

    class Chunked(RecordingBackend):
        def score_yes_no(self, prompts, progress=False):
            calls.append(len(prompts))
            return super().score_yes_no(prompts, progress)

    monkeypatch.setattr(prior, "CHUNK", 5)
    chunked = Chunked()
    assert ask_edges(spec, chunked, edges) == expected
    assert max(calls) == 5 and sum(calls) == len(edges) + 1 == 57  # the content-free reference too
    assert chunked.prompts == whole.prompts  # the same questions in the same order
