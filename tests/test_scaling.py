"""Distributional analysis: bimodality, success, sharpness, the end-to-end report and its CLI."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from discolab.core.errors import DiscolabError
from discolab.core.scaling import analyze, bimodality, breakthroughness, linearity, logistic_fit, wilson_interval
from discolab.core.scaling.success import success_mask
from discolab.ui.cli import main as cli


def test_bimodality_separates_two_clusters_from_one_bell():
    rng = np.random.default_rng(0)
    two = np.concatenate([rng.normal(0.05, 0.03, 20), rng.normal(0.9, 0.03, 20)])
    one = rng.normal(0.5, 0.1, 40)
    split, bell = bimodality(two), bimodality(one)
    assert split["bimodal"] and split["dip_pvalue"] < 0.05 and split["bic_2"] < split["bic_1"] - 6
    assert split["ashman_d"] > 2 and abs(split["high_weight"] - 0.5) < 0.1
    assert not bell["bimodal"] and bell["dip_pvalue"] > 0.05


def test_bimodality_of_a_constant_or_tiny_sample_is_no():
    assert not bimodality([1.0] * 10)["bimodal"]
    assert math.isnan(bimodality([0.0, 1.0])["dip_pvalue"])


def test_wilson_interval_matches_known_values():
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-3)
    low, high = wilson_interval(5, 10)
    assert (low, high) == (pytest.approx(0.2366, abs=1e-3), pytest.approx(0.7634, abs=1e-3))


def test_logistic_fit_recovers_the_slope_and_midpoint():
    rng = np.random.default_rng(1)
    scales = np.exp(rng.uniform(0, 4, 4000))
    p = 1 / (1 + np.exp(-(-4.0 + 2.0 * np.log(scales))))
    fit = logistic_fit(scales, rng.random(4000) < p)
    assert fit["slope"] == pytest.approx(2.0, rel=0.15)
    assert fit["midpoint"] == pytest.approx(math.exp(2.0), rel=0.15)


def test_sharpness_of_a_line_and_of_a_jump():
    line = [0.0, 0.25, 0.5, 0.75, 1.0]
    jump = [0.0, 0.0, 0.0, 1.0, 1.0]
    assert linearity(line) == pytest.approx(2.0)  # sqrt(4) steps
    assert linearity(jump) == pytest.approx(1.0)
    assert breakthroughness(jump) > 100 * breakthroughness(line)
    assert linearity(line[::-1]) == pytest.approx(-2.0)  # a falling curve has negative improvement


def test_mixture_success_picks_the_high_component():
    values = [0.0, 0.02, 0.01, 0.95, 0.97, 0.9]
    assert success_mask(values).tolist() == [False, False, False, True, True, True]
    assert success_mask(values, threshold=0.96).tolist() == [False] * 4 + [True, False]


def synthetic_runs(seed=0):
    """P(success) rising smoothly with log size; successful runs near 0.9, failures near 0.05."""
    rng = np.random.default_rng(seed)
    rows = []
    for size, p in zip([1, 2, 4, 8, 16, 32], [0.0, 0.1, 0.3, 0.6, 0.9, 1.0]):
        for s in range(24):
            ok = s < round(p * 24)
            rows.append({"size": size, "seed": s, "acc": (0.9 if ok else 0.05) + rng.normal(0, 0.02)})
    return pd.DataFrame(rows)


def test_analyze_reports_per_setting_distributions_success_and_sharpness():
    report = analyze(synthetic_runs(), "size", "acc", threshold=0.5)
    table = report.settings.set_index("setting")
    assert table["p_success"].is_monotonic_increasing
    assert table.loc[4, "bimodal"] and table.loc[8, "bimodal"] and not table.loc[1, "bimodal"]
    assert table.loc[8, "mean_success"] == pytest.approx(0.9, abs=0.02)
    assert table.loc[4, "ci_low"] < table.loc[4, "p_success"] < table.loc[4, "ci_high"]
    assert report.logistic["slope"] > 0 and 4 < report.logistic["midpoint"] < 12
    # every seed's own curve is one jump: far sharper than the averaged curves
    assert report.sharpness["seed_breakthroughness_median"] > 5 * report.sharpness["mean_breakthroughness"]


def test_analyze_names_bad_columns_and_duplicate_runs():
    frame = synthetic_runs()
    with pytest.raises(DiscolabError, match="column\\(s\\) accuracy not in the table"):
        analyze(frame, "size", "accuracy")
    with pytest.raises(DiscolabError, match="several rows per"):
        analyze(pd.concat([frame, frame]), "size", "acc")
    with pytest.raises(DiscolabError, match="needs --threshold"):
        analyze(frame, "size", "acc", success="threshold")


def test_cli_analyzes_a_csv_file_as_json_and_saves_a_plot(tmp_path, capsys):
    path = tmp_path / "runs.csv"
    synthetic_runs().to_csv(path, index=False)
    plot = tmp_path / "plot.png"
    code = cli(
        ["scaling", "analyze", "--csv", str(path), "--scale", "size", "--metric", "acc", "--json", "--plot", str(plot)]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    first = result["settings"][0]
    for key in ("n", "mean", "dip_pvalue", "bic_1", "bic_2", "bimodal", "p_success", "p_success_ci", "mean_success"):
        assert key in first
    assert [s["n"] for s in result["settings"]] == [24] * 6
    assert plot.stat().st_size > 10_000


def test_cli_errors_on_missing_source(capsys):
    assert cli(["scaling", "analyze", "--scale", "size", "--metric", "acc"]) == 2
    assert "exactly one of --experiment" in capsys.readouterr().err


def test_a_unimodal_metric_on_a_lattice_is_not_called_bimodal():
    # F1 over a handful of edges: binomial counts on a grid of 9 values, one mode
    rng = np.random.default_rng(3)
    values = rng.binomial(8, 0.7, size=40) / 8
    assert len(np.unique(values)) < 20
    assert not bimodality(values)["bimodal"]
    two = np.concatenate([np.full(20, 0.25), np.full(20, 0.875)]) + rng.choice([0, 0.125], 40)
    assert bimodality(two)["bimodal"]
