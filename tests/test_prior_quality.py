"""The prior-quality experiment: its three figures, and a run on cancer with the embedded model."""

import json

import pytest
from conftest import ScriptedBackend
from discolab.core.graphs import load_benchmark
from discolab.experiments import prior_quality


def test_figures_of_the_truth_its_reverse_and_a_constant():
    spec = load_benchmark("cancer")
    truth = set(spec.edges)
    right = {e: 0.9 if e in truth else 0.1 for e in spec.ordered_pairs()}
    assert prior_quality.score_beliefs(list(truth), right) == {
        "directed_auroc": 1.0,
        "skeleton_auroc": 1.0,
        "oriented_right": 1.0,
        "true_edges": 4,
    }
    # Every true edge believed backwards: the skeleton is perfect, the directions all wrong.
    reversed_ = {(u, v): 0.9 if (v, u) in truth else 0.1 for u, v in spec.ordered_pairs()}
    figures = prior_quality.score_beliefs(list(truth), reversed_)
    assert figures["skeleton_auroc"] == 1.0 and figures["oriented_right"] == 0.0
    assert figures["directed_auroc"] == pytest.approx(6 / 16)  # 4 reversed non-edges outrank the truth, 12 tie
    # One belief for every pair: chance everywhere, a tie in orientation counting 1/2.
    flat = prior_quality.score_beliefs(list(truth), dict.fromkeys(spec.ordered_pairs(), 0.3))
    assert flat["directed_auroc"] == flat["skeleton_auroc"] == flat["oriented_right"] == 0.5
    with pytest.raises(ValueError, match="no belief"):
        prior_quality.score_beliefs(list(truth), {e: 0.5 for e in spec.ordered_pairs() if e not in truth})


def test_asks_every_ordered_pair_once_and_reads_the_answers_per_pair():
    """A scripted model that says yes to exactly the true edges scores 1 on all three figures."""
    spec = load_benchmark("survey")
    truth = {f"Does {u} directly cause {v}?" for u, v in spec.edges}
    asked = []

    def answer(text):
        asked.append(text)
        return 0.8 if any(q in text for q in truth) else 0.2

    result = prior_quality.run(["survey"], ScriptedBackend(answer))
    (row,) = result["rows"]
    assert len(asked) == row["pairs"] == 30 and row["fallbacks"] == 0
    assert (row["directed_auroc"], row["skeleton_auroc"], row["oriented_right"]) == (1.0, 1.0, 1.0)


def test_command_prints_a_row_per_graph_and_reuses_the_response_cache(monkeypatch, capsys, tmp_path):
    """``main`` as the README runs it, with a scripted model behind the real response cache."""
    from discolab.core.llm import CachedBackend, ResponseCache

    questions = []

    def answer(text):
        questions.append(text)
        return 0.9 if "Does Smoker directly cause Cancer?" in text else 0.1

    def backend(kind, cache=True, **options):
        assert kind == "local" and cache and options == {"model": None}
        return CachedBackend(ScriptedBackend(answer), ResponseCache(tmp_path / "llm.sqlite"))

    monkeypatch.setattr(prior_quality, "make_backend", backend)
    assert prior_quality.main(["--graphs", "cancer", "earthquake"]) == 0
    out = capsys.readouterr().out
    assert "calibration none" in out and "questions asked of the model: 40, from the cache: 0" in out
    cancer = next(line for line in out.splitlines() if line.startswith("cancer "))
    variables, edges, pairs, directed, skeleton, oriented, right = cancer.split()[1:8]
    assert (variables, edges, pairs, right) == ("5", "4", "20", "(2.5/4)")
    # Smoker -> Cancer outranks the 16 non-edges, the 3 other true edges tie with them; each of
    # those 3 ties with its reverse too (1/2 oriented right).
    assert (directed, oriented) == (f"{(16 + 3 * 8) / 64:.2f}", "0.62")
    assert prior_quality.main(["--graphs", "cancer", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert len(questions) == 40 and (again["asked"], again["cache_hits"]) == (0, 20)
    assert f"{again['rows'][0]['directed_auroc']:.2f}" == directed


@pytest.mark.slow
def test_embedded_model_on_cancer():
    """The embedded model's answers, as the README's figures were measured (model loading: slow)."""
    result = prior_quality.run(["cancer"])
    (row,) = result["rows"]
    assert result["backend"]["model"] == "smollm2" and row["pairs"] == 20 and row["fallbacks"] == 0
    assert all(0.0 <= row[k] <= 1.0 for k in ("directed_auroc", "skeleton_auroc", "oriented_right"))
