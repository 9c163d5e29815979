"""``discolab bench scale``: the costs of a discovery run against n, on small sizes."""

import argparse
import json
import math
import time

import pytest
from discolab.core.errors import DiscolabError
from discolab.experiments import bench_scale


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    bench_scale.add_arguments(parser)
    return bench_scale.main(parser.parse_args(list(argv)))


def touching_pairs(n: int, tested: list[tuple[str, str]]) -> int:
    """Untested ordered pairs with an endpoint among the tested edges' (all pairs minus those
    with both endpoints elsewhere, minus the tested)."""
    touched = len({x for edge in tested for x in edge})
    return n * (n - 1) - (n - touched) * (n - touched - 1) - len(tested)


def test_simulated_prior_reports_times_bytes_and_exponents_as_json_and_a_plot(tmp_path, capsys):
    plot = tmp_path / "scale.png"
    assert cli("--variables", "12", "6", "--rounds", "1", "--per-round", "3", "--json", "--plot", str(plot)) == 0
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert [r["variables"] for r in result["rows"]] == [6, 12]
    assert "n=12: memory run" in err  # progress on stderr, a line per size and phase
    for row in result["rows"]:
        assert row["pairs"] == row["variables"] * (row["variables"] - 1)
        assert row["rounds_done"] == 1 and row["experiments"] == 3
        for name in bench_scale.NODES:
            assert row[f"{name}_s"] > 0
        assert row["round_wall_s"] >= row["round_s"] > 0 and row["checkpoint_s_per_round"] > 0
        assert row["prior_bytes"] > 0 and row["bytes_per_round"] > 0 and row["peak_bytes"] > 0
        assert row["prior_llm_calls"] == row["update_llm_calls"] == 0  # no LLM: structural update
    # the prior stores all n(n-1) beliefs: more pairs, more bytes
    assert result["rows"][1]["prior_bytes"] > result["rows"][0]["prior_bytes"]
    for metric in ("elicit_prior_s", "round_s", "prior_bytes", "bytes_per_round", "peak_bytes"):
        assert math.isfinite(result["exponents"][metric]["all"])
    assert result["exponents"]["prior_llm_calls"] == {"all": None, "top": None}
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_llm_prior_counts_every_question_and_its_tokens(capsys):
    assert cli("--variables", "6", "12", "--rounds", "1", "--prior", "llm", "--json") == 0
    result = json.loads(capsys.readouterr().out)
    for row in result["rows"]:
        n = row["variables"]
        # every ordered pair (a random DAG knows no pair) and the content-free reference question
        assert row["prior_llm_calls"] == n * (n - 1) + 1
        tested = [(u, v) for u, v, _ in row["tested"]]
        assert len(tested) == 5
        assert row["update_llm_calls"] == touching_pairs(n, tested) + 1
        # prompts list every variable, and the update's also state the results
        per_prior_question = row["prior_llm_tokens"] / row["prior_llm_calls"]
        assert 100 < per_prior_question < 100 + 60 * n
        assert row["update_llm_tokens"] / row["update_llm_calls"] > per_prior_question
        assert row["llm_tokens_estimated"] is False  # under 200 prompts a call: every one counted
    fits = result["exponents"]
    assert 1.8 < fits["prior_llm_calls"]["all"] < 2.2
    assert fits["prior_llm_tokens"]["all"] > fits["prior_llm_calls"]["all"]  # longer prompts as n grows


def test_a_sampled_token_count_is_scaled_to_every_prompt():
    exact = bench_scale.run([6], "llm", rounds=1, memory=False, progress=False)["rows"][0]
    sampled = bench_scale.run([6], "llm", rounds=1, token_sample=8, memory=False, progress=False)["rows"][0]
    assert sampled["llm_tokens_estimated"] and not exact["llm_tokens_estimated"]
    assert sampled["prior_llm_calls"] == exact["prior_llm_calls"]
    assert sampled["prior_llm_tokens"] == pytest.approx(exact["prior_llm_tokens"], rel=0.02)


def test_node_seconds_leave_out_the_llm(monkeypatch):
    class SlowBackend(bench_scale.CountingBackend):
        def prompt_tokens(self, prompts):
            time.sleep(0.3)
            return super().prompt_tokens(prompts)

    monkeypatch.setattr(bench_scale, "CountingBackend", SlowBackend)
    row = bench_scale.run([6], "llm", rounds=1, memory=False, progress=False)["rows"][0]
    assert row["elicit_prior_s"] < 0.25 and row["update_s"] < 0.25 and row["round_wall_s"] < 0.25


def test_a_size_too_large_for_the_llm_prior_is_skipped_and_left_out_of_the_fit(monkeypatch):
    monkeypatch.setattr(bench_scale, "memory_limit", lambda: 10**6)
    result = bench_scale.run([6, 40], "llm", rounds=1, memory=False, progress=False)
    skipped = result["rows"][1]
    assert skipped["variables"] == 40 and "prior's 1,561 prompts" in skipped["skipped"]
    assert result["exponents"]["prior_llm_calls"]["all"] is None  # one size measured: no fit
    assert "n=40: skipped" in bench_scale.format_report(result)
    # bounded prompts are counted at the same size: each lists a few variables, whatever n is
    bounded = bench_scale.run([6, 40], "llm", rounds=1, memory=False, progress=False, listing="4")
    assert all("skipped" not in row for row in bounded["rows"])
    per_question = [row["prior_llm_tokens"] / row["prior_llm_calls"] for row in bounded["rows"]]
    assert per_question[1] < 1.3 * per_question[0]  # the listing does not grow with n


def test_growth_exponents_are_the_log_log_slopes():
    rows = [{"variables": n, "a": 3 * n**2, "b": 0.0, "c": n**1.0 + 5} for n in (10, 100, 1000)]
    fits = bench_scale.growth_exponents(rows, ("a", "b", "c"))
    assert fits["a"]["all"] == pytest.approx(2.0) and fits["a"]["top"] == pytest.approx(2.0)
    assert fits["b"] == {"all": None, "top": None}
    assert fits["c"]["all"] < fits["c"]["top"] < 1.0  # a constant term flattens the small sizes


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--variables", "1", "10"], "--variables 1: each n must be in 2"),
        (["--rounds", "0"], "--rounds 0: at least 1"),
        (["--per-round", "0"], "--per-round 0"),
        (["--prior", "pc"], "--prior 'pc'"),
        (["--prior", "simulated:1.5"], "quality Q"),
        (["--token-sample", "0"], "--token-sample 0"),
        (["--repeat", "0"], "--repeat 0"),
    ],
)
def test_bad_flags_are_refused_before_anything_runs(argv, message):
    with pytest.raises(DiscolabError, match=message):
        cli(*argv)
