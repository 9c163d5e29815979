"""The user's own observational data: typed, checked, used by PC / GES / bootstrap, tied to the run."""

import json

import numpy as np
import pandas as pd
import pytest
from conftest import REPO
from discolab.agents.discovery import DiscoverySettings, resume_discovery, start_discovery
from discolab.core.errors import DiscolabError
from discolab.core.graphs import load_graph_file, score_graph
from discolab.core.igda.data_prior import data_driven_beliefs
from discolab.core.igda.observations import load_observations
from discolab.experiments.own_problem import simulate
from discolab.ui.cli import main

SMOKING = REPO / "docs" / "examples" / "smoking.json"


def linear_gaussian(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    """The README's smoking graph as a linear-Gaussian model (the worked example's)."""
    return simulate(n, np.random.default_rng(seed))


@pytest.fixture
def spec():
    return load_graph_file(SMOKING)


def test_continuous_data_use_fisher_z_and_find_the_skeleton(spec, tmp_path):
    path = tmp_path / "smoking.csv"
    linear_gaussian().to_csv(path, index=False)
    found = load_observations(path, spec)
    assert found.kinds == dict.fromkeys(spec.names, "continuous") and found.test == "fisherz"
    for method in ("pc", "ges"):
        beliefs = data_driven_beliefs(found, method)
        skeleton = [e for e, p in beliefs.items() if p >= 0.5]
        assert score_graph(spec.edges, skeleton).skeleton_f1 == 1.0, method


def test_discrete_and_mixed_columns_and_overrides(spec, tmp_path):
    frame = linear_gaussian()
    frame["smoking"] = np.where(frame["smoking"] > 0, "yes", "no")
    frame["tar"] = pd.cut(frame["tar"], 3, labels=False)  # integers with 3 levels
    path = tmp_path / "mixed.parquet"
    frame.to_parquet(path)
    found = load_observations(path, spec)
    assert found.kinds == {"smoking": "discrete", "tar": "discrete", "cancer": "continuous", "cough": "continuous"}
    assert found.test == "chisq" and "binned" in found.describe()
    assert found.matrix().max(axis=0).tolist() == [1, 2, 3, 3]  # codes; the continuous ones in 4 quantile bins
    overridden = load_observations(path, spec, kinds={"tar": "continuous"})
    assert overridden.kinds["tar"] == "continuous"
    with pytest.raises(DiscolabError, match="'smoking'.* not numbers"):
        load_observations(path, spec, kinds={"smoking": "continuous"})


def test_missing_values_are_dropped_and_counted_and_bad_tables_named(spec, tmp_path):
    frame = linear_gaussian(100)
    frame.loc[:9, "tar"] = np.nan
    path = tmp_path / "holes.csv"
    frame.assign(notes="x").to_csv(path, index=False)
    with pytest.raises(DiscolabError, match="'notes' match no variable"):
        load_observations(path, spec)
    found = load_observations(path, spec, ignore=("notes",))
    assert len(found.frame) == 90 and found.dropped_rows == 10 and "10 with missing values dropped" in found.describe()
    cases = {
        "few rows": (frame.head(15), "complete rows"),
        "constant": (frame.assign(cough=1.0), "constant column"),
        "no column": (frame.drop(columns="cough"), "no column for variable"),
    }
    for name, (table, problem) in cases.items():
        table.to_csv(tmp_path / f"{name}.csv", index=False)
        with pytest.raises(DiscolabError, match=problem):
            load_observations(tmp_path / f"{name}.csv", spec)
    (tmp_path / "garbage.csv").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DiscolabError, match="cannot read data"):
        load_observations(tmp_path / "garbage.csv", spec)


def test_a_run_on_the_users_data_is_tied_to_that_file(tmp_path, capsys):
    data = tmp_path / "smoking.csv"
    linear_gaussian().to_csv(data, index=False)
    command = ["discover", "--graph", str(SMOKING), "--data", str(data), "--prior", "pc", "--update", "none"]
    assert main([*command, "--rounds", "1", "--per-round", "1", "--run-id", "on-my-data"]) == 0
    out = capsys.readouterr().out
    assert "data: " in out and "PC test fisherz" in out
    linear_gaussian(seed=1).to_csv(data, index=False)  # the file changes under a run that is not finished
    run = start_discovery(
        DiscoverySettings(graph=str(SMOKING), data=str(data), prior="pc", update="none", experimenter="human"),
        run_id="data-then-changed",
    )
    assert run.question is not None
    linear_gaussian(seed=2).to_csv(data, index=False)
    with pytest.raises(DiscolabError, match="not the file this run started on"):
        resume_discovery("data-then-changed", answer=True)


def test_a_graph_files_data_is_a_file_beside_it(tmp_path):
    linear_gaussian().to_csv(tmp_path / "measurements.csv", index=False)
    graph = json.loads(SMOKING.read_text())
    (tmp_path / "mine.json").write_text(json.dumps({**graph, "data": "measurements.csv"}))
    spec = load_graph_file(tmp_path / "mine.json")
    assert spec.data == str(tmp_path / "measurements.csv")
    run = start_discovery(DiscoverySettings(graph=str(tmp_path / "mine.json"), prior="ges", update="none", rounds=1))
    assert run.values["data"]["path"] == spec.data and run.history[0]["f1"] is not None
    for elsewhere in ("../outside.csv", "/etc/passwd"):
        (tmp_path / "bad.json").write_text(json.dumps({**graph, "data": elsewhere}))
        with pytest.raises(DiscolabError, match="must name a file in the graph file's folder"):
            load_graph_file(tmp_path / "bad.json")


def test_a_data_prior_without_data_or_network_says_what_to_give(tmp_path):
    with pytest.raises(DiscolabError, match="--data FILE"):
        start_discovery(DiscoverySettings(graph=str(SMOKING), prior="pc"))
