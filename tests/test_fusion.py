"""Fused priors: sources pooled on the log-odds scale, their weights refitted to the answers."""

import json

import numpy as np
import pytest
from conftest import ScriptedBackend, after_results
from discolab.agents.discovery import DiscoverySettings, start_discovery
from discolab.core.errors import DiscolabError
from discolab.core.igda.fusion import auroc, fit_weights, fuse, source_logits, starting_bias
from discolab.ui.cli import main


def test_the_starting_bias_gives_a_sparse_graph():
    rng = np.random.default_rng(0)
    logits = source_logits(rng.uniform(size=(56, 2)))
    bias = starting_bias(logits, np.ones(2), 1 / 7)
    assert fuse(logits, bias, np.ones(2)).mean() == pytest.approx(1 / 7)


def test_the_refit_trusts_the_right_source_and_reverses_the_wrong_one():
    """Three sources over 200 answered pairs: one informative, one noise, one reversed."""
    rng = np.random.default_rng(0)
    truth = rng.random(200) < 0.3

    def telling(yes, no):  # beliefs drawn from ``yes`` on true edges and from ``no`` elsewhere
        return np.where(truth, rng.uniform(*yes, 200), rng.uniform(*no, 200))

    informative, noise, reversed_ = (
        telling((0.6, 0.95), (0.05, 0.4)),
        rng.uniform(0.05, 0.95, 200),
        telling((0.05, 0.4), (0.6, 0.95)),
    )
    logits = source_logits(np.column_stack([informative, noise, reversed_]))
    fit = fit_weights(logits, truth, 0.0, np.ones(3), precision=1.0)
    (lo_i, _), (lo_n, hi_n), (_, hi_r) = fit.intervals()
    assert lo_i > 0 and lo_n < 0 < hi_n and hi_r < 0
    # a strong prior precision keeps the weights at their start
    held = fit_weights(logits[:4], truth[:4], 0.0, np.ones(3), precision=1e6)
    assert held.weights == pytest.approx(np.ones(3), abs=1e-3)
    assert auroc(informative, truth) > 0.95 and auroc(informative, np.ones(200)) is None


def test_a_fused_run_learns_whom_to_trust():
    """A good simulated expert and PC on 200 rows: after the experiments the expert weighs more."""
    settings = DiscoverySettings(
        graph="asia", prior="simulated:0.9+pc", samples=200, update="structural", rounds=8, per_round=3, seed=1
    )
    run = start_discovery(settings, run_id="fused-expert-pc")
    first, last = run.history[0]["fusion"], run.history[-1]["fusion"]
    assert first["sources"]["pc"] == {"weight": 1.0, "interval": [None, None], "auroc": None}
    expert, pc = last["sources"]["simulated:0.9"], last["sources"]["pc"]
    assert expert["weight"] > pc["weight"] and expert["auroc"] > pc["auroc"]
    assert expert["interval"][0] < expert["weight"] < expert["interval"][1]
    assert run.history[-1]["f1"] > run.history[0]["f1"]
    assert set(run.values["sources"]) == {"simulated:0.9", "pc"}


def test_the_llm_update_moves_the_llm_source_and_the_fused_belief_follows(monkeypatch):
    import discolab.agents.discovery.nodes as nodes

    monkeypatch.setattr(nodes, "_backend", lambda settings: ScriptedBackend(after_results(0.2, 0.9)))
    settings = DiscoverySettings(
        graph="cancer", prior="llm+simulated:0.8", update="llm", rounds=1, per_round=1, calibration="none"
    )
    run = start_discovery(settings, run_id="fused-llm-update")
    changed = run.values["source_changes"]["llm"]
    assert changed and all(p == 0.9 for p in changed.values())
    assert set(changed) <= set(run.values["belief_changes"])  # the fused beliefs of those pairs moved too


def test_explore_spends_a_share_on_random_pairs():
    settings = DiscoverySettings(graph="asia", prior="simulated:0.7", update="none", rounds=6, per_round=4, explore=0.5)
    tested = start_discovery(settings, run_id="explore-half").values["results"]
    explored = sum(r.get("explored", False) for r in tested)
    assert len(tested) == 24 and 6 <= explored <= 18  # Binomial(24, 1/2)
    plain = DiscoverySettings(graph="asia", prior="simulated:0.7", update="none", rounds=2, per_round=4)
    assert not any(r.get("explored") for r in start_discovery(plain).values["results"])


@pytest.mark.parametrize(
    "prior, extra, problem",
    [
        ("llm+oracle", {}, "'oracle' is no source"),
        ("pc+pc", {"update": "none"}, "names a source twice"),
        ("pc+ges", {"update": "llm"}, "update 'llm' changes the LLM source of a fused prior"),
        ("llm+chared", {"update": "llm"}, "has 2"),
        ("simulated:2+pc", {}, "quality Q is an F1 in [0, 1]"),
        ("llm+pc", {"explore": 1.5}, "explore 1.5"),
        ("llm+pc", {"fusion_precision": 0.0}, "fusion precision 0.0"),
    ],
)
def test_bad_fused_priors_are_named(prior, extra, problem):
    with pytest.raises(DiscolabError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        DiscoverySettings(prior=prior, **extra)


def test_the_cli_prints_the_learned_weights_and_json_has_them_per_round(capsys):
    argv = ["discover", "--graph", "cancer", "--prior", "simulated:0.8+pc", "--update", "structural", "--rounds", "2"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "fused prior: each source's weight after 4 answers" in out
    assert "simulated:0.8" in out and "AUROC" in out
    assert main([*argv, "--json", "--explore", "0.5", "--fusion-precision", "3"]) == 0
    rounds = json.loads(capsys.readouterr().out)["rounds"]
    assert [set(r["fusion"]["sources"]) for r in rounds] == [{"simulated:0.8", "pc"}] * 3


def test_the_fusion_evaluation_runs_and_reports(tmp_path, capsys):
    from discolab.experiments import fusion_eval

    db = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    assert fusion_eval.main(["--quick", "--graphs", "cancer", "--db", db, "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "igda-fusion: 12 cells, 0 already done, 12 run, 0 failed" in out
    assert "vs best single: graphs W/T/L" in out and "oracle_weight_expert" in out
    runs = fusion_eval.final_f1(fusion_eval.RunsDB(db))
    assert set(runs["arm"]) == set(fusion_eval.ARMS) and len(runs) == 12


def test_lookahead_counts_what_an_answer_would_settle():
    from discolab.core.igda.lookahead import EntropyAfter
    from discolab.core.igda.selection import bernoulli_entropy, lookahead_gains, select_lookahead

    beliefs = {("a", "b"): 0.5, ("b", "a"): 0.5, ("c", "d"): 0.5, ("d", "c"): 0.45, ("b", "c"): 1.0}
    pairs = sorted(beliefs)
    confirmed = {("b", "c"): True}
    unchanged = EntropyAfter(pairs, [beliefs[e] for e in pairs], set(confirmed), confirmed, structural=False)
    gains = lookahead_gains(beliefs, set(confirmed), unchanged)
    assert gains == pytest.approx({e: bernoulli_entropy(p) for e, p in beliefs.items() if e not in confirmed})

    structural = EntropyAfter(pairs, [beliefs[e] for e in pairs], set(confirmed), confirmed, structural=True)
    gains = lookahead_gains(beliefs, set(confirmed), structural)
    # a "yes" caps the reverse edge (it would close a cycle), so every edge gains more than its own H(p)
    assert all(gains[e] > bernoulli_entropy(beliefs[e]) + 0.1 for e in gains)
    # a yes on a -> b also caps c -> a (b -> c is confirmed): a gain no other edge has
    assert select_lookahead(
        beliefs | {("c", "a"): 0.5},
        set(confirmed),
        1,
        EntropyAfter(
            [*pairs, ("c", "a")], [*(beliefs[e] for e in pairs), 0.5], set(confirmed), confirmed, structural=True
        ),
    )[0] == ("a", "b")


@pytest.mark.parametrize("prior", ["simulated:0.7", "simulated:0.7+pc"])
def test_lookahead_entropy_equals_the_update_applied_to_every_belief(prior):
    """The array computation against the loop's own update on every belief, at every round's state."""
    from discolab.agents.discovery import round_states
    from discolab.agents.discovery.nodes import (
        _beliefs,
        _results,
        beliefs_given,
        lookahead_entropy,
        settled_pairs,
    )
    from discolab.core.igda.selection import total_entropy

    settings = DiscoverySettings(graph="asia", prior=prior, samples=300, update="structural", rounds=3, per_round=3)
    run = start_discovery(settings, run_id=f"lookahead-exact-{len(prior)}")
    states = round_states(run.run_id)
    assert len(states) == 4
    assert any(any(_results(state).values()) for state in states.values())  # a "yes" to cap cycles with
    checked = 0
    for state in states.values():
        beliefs, results, settled = _beliefs(state), _results(state), settled_pairs(state)
        pairs = [tuple(e) for e in state["pairs"]]
        fast = lookahead_entropy(state, beliefs, settled)
        for edge in sorted(beliefs)[::5]:
            if edge in settled:
                continue
            for answer in (True, False):
                after = beliefs_given(state, {**results, edge: answer}, np.array([beliefs[e] for e in pairs]))[0]
                assert fast(edge, answer) == pytest.approx(
                    total_entropy(dict(zip(pairs, after)), settled | {edge}), abs=1e-9
                )
                checked += 1
    assert checked > 40


def test_a_lookahead_run_with_a_fused_prior():
    settings = DiscoverySettings(
        graph="cancer", prior="simulated:0.7+pc", samples=300, strategy="lookahead", update="structural", rounds=3
    )
    run = start_discovery(settings, run_id="lookahead-fused")
    assert run.history[-1]["experiments"] == 9 and run.history[-1]["f1"] >= run.history[0]["f1"]


def test_a_simulated_expert_with_confident_errors():
    from discolab.core.graphs import load_benchmark
    from discolab.core.igda.prior import simulated_expert_beliefs

    spec = load_benchmark("child")
    truth = set(spec.edges)
    for confident, expected in ((False, 0.1), (True, 0.25)):
        beliefs = simulated_expert_beliefs(spec, 0.6, seed=0, confident_errors=confident)
        wrong = [abs(p - 0.5) for e, p in beliefs.items() if (p > 0.5) != (e in truth)]
        assert len(wrong) == 2 * round(0.4 * len(truth))  # the same F1 either way
        assert np.mean(wrong) == pytest.approx(expected, abs=0.05)  # E[0.5 Beta(1,4)] = 0.1, E[0.5 Beta(2,2)] = 0.25
    run = start_discovery(DiscoverySettings(graph="cancer", prior="simulated:0.6:confident", update="none", rounds=1))
    assert run.history[0]["f1"] is not None
    with pytest.raises(DiscolabError, match="simulated:Q:confident"):
        DiscoverySettings(prior="simulated:0.6:sure")


def test_the_robustness_evaluation_runs_and_reports(tmp_path, capsys):
    from discolab.experiments import robustness_eval

    db = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    assert robustness_eval.main(["--quick", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "igda-robustness: 12 cells, 0 already done, 12 run, 0 failed" in out
    assert "noisy:0.2" in out and "lookahead vs uncertainty (f1)" in out


def test_a_fusion_whose_every_pair_is_known_still_starts():
    from discolab.agents.discovery.nodes import start_fusion

    fusion = start_fusion({"llm": [0.2, 0.7], "pc": [0.05, 0.9]}, [False, False], n_variables=2)
    assert np.isfinite(fusion["bias"]) and fusion["weights"] == [1.0, 1.0]


def test_an_llm_belief_put_back_to_its_elicited_value_is_no_longer_a_change():
    from discolab.agents.discovery.nodes import current_sources, source_changes

    state = {
        "pairs": [["a", "b"], ["b", "a"]],
        "sources": {"llm": [0.2, 0.3], "pc": [0.9, 0.1]},
        "source_changes": {"llm": {"0": 0.8, "1": 0.6}},
    }
    changes = source_changes(state, "llm", {("a", "b"): 0.2})
    assert changes == {"llm": {"1": 0.6}}
    assert current_sources({**state, "source_changes": changes})["llm"] == [0.2, 0.6]
