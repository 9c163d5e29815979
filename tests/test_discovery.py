"""The IGDA discovery loop (LangGraph) with simulated priors: fast, no model."""

import json
import subprocess
import sys

import numpy as np
import pytest
from discolab.agents.discovery import DiscoverySettings, resume_discovery, start_discovery
from discolab.core.errors import DiscolabError
from discolab.core.graphs import load_benchmark, score_graph
from discolab.core.igda.prior import simulated_expert_beliefs
from discolab.core.igda.selection import bernoulli_entropy, select_edges


@pytest.mark.parametrize("quality", [0.6, 0.8, 1.0])
def test_simulated_expert_has_the_quality_asked_for(quality):
    spec = load_benchmark("alarm")
    beliefs = simulated_expert_beliefs(spec, quality, seed=3)
    predicted = [e for e, p in beliefs.items() if p > 0.5]
    assert score_graph(spec.edges, predicted).f1 == pytest.approx(quality, abs=0.03)


def test_uncertainty_selection_picks_beliefs_nearest_half_and_never_retests():
    beliefs = {("a", "b"): 0.9, ("b", "a"): 0.55, ("a", "c"): 0.45, ("c", "a"): 0.1, ("b", "c"): 0.5}
    assert set(select_edges(beliefs, [], 2, "uncertainty")) == {("b", "c"), ("b", "a")} or set(
        select_edges(beliefs, [], 2, "uncertainty")
    ) == {("b", "c"), ("a", "c")}
    assert ("b", "c") not in select_edges(beliefs, [("b", "c")], 4, "uncertainty")
    assert select_edges(beliefs, [], 1, "confident") in ([("a", "b")], [("c", "a")])
    assert bernoulli_entropy(0.5) > bernoulli_entropy(0.6) > bernoulli_entropy(0.99) > 0


@pytest.mark.parametrize("update", ["structural", "none"])
@pytest.mark.parametrize("strategy", ["uncertainty", "random"])
def test_oracle_experiments_never_make_the_graph_worse(update, strategy):
    settings = DiscoverySettings(
        graph="child", prior="simulated:0.6", update=update, strategy=strategy, rounds=5, per_round=3, seed=1
    )
    run = start_discovery(settings)
    f1 = [h["f1"] for h in run.history]
    assert len(run.history) == 6 and run.done
    assert all(b >= a - 1e-12 for a, b in zip(f1, f1[1:]))  # an oracle answer can only fix an error
    tested = [tuple(r["edge"]) for r in run.values["results"]]
    assert len(tested) == 15 == len(set(tested))
    truth = set(load_benchmark("child").edges)
    assert all(r["present"] == (tuple(r["edge"]) in truth) for r in run.values["results"])


def test_uncertainty_beats_random_with_an_informative_expert():
    """The simulated expert's errors sit near 1/2, so testing uncertain edges finds them."""
    gains = {"uncertainty": [], "random": []}
    for seed in range(5):
        for strategy in gains:
            s = DiscoverySettings(
                graph="alarm", prior="simulated:0.6", update="none", strategy=strategy, rounds=4, per_round=5, seed=seed
            )
            history = start_discovery(s).history
            gains[strategy].append(history[-1]["f1"] - history[0]["f1"])
    assert sum(gains["uncertainty"]) > sum(gains["random"])


def test_human_in_the_loop_pauses_and_resumes():
    settings = DiscoverySettings(
        graph="asia", prior="simulated:0.7", experimenter="human", rounds=2, per_round=2, update="none"
    )
    run = start_discovery(settings)
    asked = []
    while not run.done:
        assert set(run.question) >= {"edge", "question", "cause", "effect"}
        asked.append(tuple(run.question["edge"]))
        again = resume_discovery(run.run_id)  # looking does not answer
        assert again.question == run.question
        run = resume_discovery(run.run_id, answer=len(asked) % 2 == 1)
    assert len(asked) == 4 == len(set(asked))
    assert [r["present"] for r in run.values["results"]] == [True, False, True, False]


def test_seeded_runs_repeat_and_ids_are_unique():
    settings = DiscoverySettings(
        graph="sachs", prior="simulated:0.7", update="structural", rounds=3, per_round=2, seed=4
    )
    a, b = start_discovery(settings), start_discovery(settings)
    assert a.run_id != b.run_id and a.history == b.history
    with pytest.raises(DiscolabError, match="exists already"):
        start_discovery(settings, run_id=a.run_id)


def test_bad_settings_are_named():
    with pytest.raises(DiscolabError, match="strategy 'best'.*experimenter 'guess'"):
        DiscoverySettings(strategy="best", experimenter="guess")


def test_cli_discover_json(discolab_home):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "discolab.ui.cli",
            "discover",
            "--graph",
            "cancer",
            "--prior",
            "simulated:0.5",
            "--update",
            "none",
            "--rounds",
            "2",
            "--per-round",
            "2",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    run = json.loads(out.stdout)
    assert run["simulated_prior"] is True and run["settings"]["graph"] == "cancer"
    assert [r["round"] for r in run["rounds"]] == [0, 1, 2]
    for r in run["rounds"]:
        assert {"round", "experiments", "precision", "recall", "f1", "shd", "tested"} <= set(r)
    assert run["rounds"][2]["experiments"] == 4


def test_cli_errors_are_one_line():
    out = subprocess.run(
        [sys.executable, "-m", "discolab.ui.cli", "discover", "--graph", "nowhere.json"], capture_output=True, text=True
    )
    assert out.returncode == 2 and out.stderr.strip().count("\n") == 0 and "graph file not found" in out.stderr


def test_a_run_keeps_a_ledger_of_its_llm_use(monkeypatch, capsys):
    """Questions asked, answers from the cache, tokens and time: printed, in --json, per run."""
    import discolab.agents.discovery.nodes as nodes
    from discolab.core.llm.base import Usage, YesNo
    from discolab.core.llm.cache import CachedBackend
    from discolab.ui.cli import main

    class Counting:
        kind, model = "fake", "counting"

        def __init__(self):
            self.usage = Usage()

        def identity(self):
            return {"kind": self.kind, "model": self.model}

        def score_yes_no(self, prompts, progress=False):
            self.usage.prompt_tokens += 10 * len(prompts)
            return [YesNo(0.3, "logprobs") for _ in prompts]

    backend = CachedBackend(Counting())
    monkeypatch.setattr(nodes, "_backend", lambda settings: backend)
    argv = ["discover", "--graph", "cancer", "--prior", "llm", "--update", "llm", "--rounds", "1", "--per-round", "1"]
    assert main([*argv, "--json"]) == 0
    first = json.loads(capsys.readouterr().out)["llm"]
    asked = 5 * 4 + 1  # every ordered pair, and the content-free question
    assert first["calls"] >= asked and first["prompt_tokens"] == 10 * first["calls"] and first["seconds"] >= 0
    assert main(argv) == 0  # the same questions again: answered from the cache
    out = capsys.readouterr().out
    assert "LLM: 0 questions asked" in out and f"({first['calls']} more from the cache)" in out


def test_cli_discover_plots_the_run_and_refuses_a_bad_plot_path_before_running(tmp_path, capsys):
    from conftest import run_cli
    from discolab.agents.discovery.run import list_runs

    quick = ["discover", "--graph", "cancer", "--prior", "simulated:0.7", "--update", "none", "--rounds", "2"]
    target = tmp_path / "run.png"
    code, out, err = run_cli(capsys, *quick, "--plot", str(target))
    assert code == 0 and f"plot: {target}" in err
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and target.stat().st_size > 20_000
    before = len(list_runs(limit=10**6))
    for bad, problem in ((tmp_path / "run.txt", "extension"), (tmp_path / "missing" / "run.png", "does not exist")):
        code, out, err = run_cli(capsys, *quick, "--plot", str(bad))
        assert code == 2 and problem in err and len(err.strip().splitlines()) == 1
    assert len(list_runs(limit=10**6)) == before  # nothing started


def test_the_run_figure_says_when_there_is_no_truth_to_score():
    from discolab.ui.views import run_figure

    run = start_discovery(DiscoverySettings(graph="cancer", prior="simulated:0.7", update="none", rounds=1))
    fig = run_figure(run.values, [{**h, "f1": None} for h in run.history])
    assert "no true graph" in " ".join(t.get_text() for t in fig.axes[1].texts)


def test_pair_rows_are_the_positions_in_the_sorted_ordered_pairs():
    from itertools import permutations

    from discolab.agents.discovery.pairs import PairIndex

    names = ["b", "a10", "a2", "c", "Z"]
    pairs = sorted(permutations(names, 2))
    index = PairIndex(names)
    assert len(index) == len(pairs) == 20
    assert index.rows(pairs).tolist() == list(range(20))
    assert index.edges(range(20)) == pairs
    assert index.rows([]).tolist() == [] and index.edges([]) == []


def test_selection_on_arrays_breaks_ties_by_seed_and_never_picks_a_closed_row():
    from discolab.core.igda.selection import select_rows

    beliefs = np.array([0.5, 0.5, 0.5, 0.9, 0.1, 0.3, 0.7])
    open_rows = np.array([True, True, False, True, True, True, True])
    picks = {tuple(select_rows(beliefs, open_rows, 2, "uncertainty", seed)) for seed in range(20)}
    assert picks == {(0, 1), (1, 0)}  # the two open beliefs at 1/2, in a seeded order
    assert set(select_rows(beliefs, open_rows, 2, "uncertainty", 0)) == {0, 1}
    # H(0.3) = H(0.7): a tie, whichever rounding of the sums
    assert set(select_rows(beliefs, open_rows, 4, "uncertainty", 3)[2:]) == {5, 6}
    assert set(select_rows(beliefs, open_rows, 2, "confident", 0)) == {3, 4}
    assert 2 not in select_rows(beliefs, open_rows, 7, "random", 5) and len(select_rows(beliefs, open_rows, 9)) == 6
