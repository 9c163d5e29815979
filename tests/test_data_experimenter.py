"""Experiments answered from the user's interventional data (--experimenter data:FILE)."""

import json

import numpy as np
import pandas as pd
import pytest
from conftest import REPO
from discolab.agents.discovery import DiscoverySettings, resume_discovery, start_discovery
from discolab.core.errors import DiscolabError
from discolab.core.graphs import load_graph_file
from discolab.core.igda.data_experimenter import load_interventions
from discolab.experiments.own_problem import simulate
from discolab.ui.cli import main

SMOKING = REPO / "docs" / "examples" / "smoking.json"


def smoking_rows(n: int, rng, do: str | None = None) -> pd.DataFrame:
    return simulate(n, rng, do).assign(intervention=do or "")


@pytest.fixture
def table(tmp_path):
    rng = np.random.default_rng(0)
    rows = [smoking_rows(600, rng)] + [smoking_rows(300, rng, do) for do in ("smoking", "tar", "cancer")]
    path = tmp_path / "interventions.csv"
    pd.concat(rows).to_csv(path, index=False)
    return path


def test_direct_edges_where_the_data_tell_them_from_paths(table):
    """smoking -> tar -> cancer -> cough and smoking -> cough, with smoking, tar and cancer set."""
    experimenter = load_interventions(str(table), load_graph_file(SMOKING))
    assert experimenter.moves("smoking") == {"tar", "cancer", "cough"} and experimenter.moves("cancer") == {"cough"}
    assert experimenter.answer(("smoking", "tar")) and experimenter.answer(("tar", "cancer"))
    assert not experimenter.answer(("tar", "smoking")) and not experimenter.answer(("cancer", "tar"))
    # Paths that are no edges: setting the cause moves the effect, and the mediators explain it all.
    assert experimenter.conditioning_set(("tar", "cough")) == ["smoking", "cancer"]
    assert not experimenter.answer(("tar", "cough")) and not experimenter.answer(("smoking", "cancer"))
    assert experimenter.answer(("smoking", "cough"))  # a direct edge beside the path through tar and cancer
    assert "9 of 9 testable pairs answered as direct edges" in experimenter.describe(
        load_graph_file(SMOKING).ordered_pairs()
    )
    assert not experimenter.testable(("cough", "cancer"))
    with pytest.raises(DiscolabError, match="no row of .* intervenes on 'cough'"):
        experimenter.answer(("cough", "cancer"))


def test_only_the_path_where_a_mediator_was_not_set(table, tmp_path):
    frame = pd.read_csv(table)
    path = tmp_path / "no-cancer.csv"
    frame[frame["intervention"] != "cancer"].to_csv(path, index=False)
    experimenter = load_interventions(str(path), load_graph_file(SMOKING))
    # cancer moves with tar, and neither cancer nor cough was set: cancer may descend from cough
    assert (
        experimenter.conditioning_set(("tar", "cough")) is None
        and experimenter.reach(("tar", "cough")) == "causal path"
    )
    assert experimenter.answer(("tar", "cough"))  # an ancestor, not a parent: all this data can say
    assert experimenter.reach(("tar", "cancer")) == "causal path" and experimenter.answer(("tar", "cancer"))


def test_discrete_effects_use_a_chi_square_test(table, tmp_path):
    frame = pd.read_csv(table)
    for name in ("tar", "cancer", "cough"):
        frame[name] = np.where(frame[name] > frame[name].median(), "high", "low")
    path = tmp_path / "discrete.csv"
    frame.to_csv(path, index=False)
    experimenter = load_interventions(str(path), load_graph_file(SMOKING))
    assert experimenter.kinds["tar"] == "discrete"
    assert experimenter.answer(("smoking", "tar")) and not experimenter.answer(("cancer", "tar"))


def test_a_run_never_selects_a_pair_whose_cause_was_not_set(table, capsys):
    command = ["discover", "--graph", str(SMOKING), "--prior", "simulated:0.6", "--update", "structural"]
    assert main([*command, "--experimenter", f"data:{table}", "--rounds", "10", "--per-round", "3", "--json"]) == 0
    run = json.loads(capsys.readouterr().out)
    tested = [tuple(r["edge"]) for record in run["rounds"] for r in record["tested"]]
    assert len(tested) == 9 and all(u != "cough" for u, _ in tested)  # 12 pairs, 3 with cough as the cause
    assert "3 pairs cannot be tested" in run["interventions"]["summary"]


def test_bad_interventional_tables_are_refused_before_a_run(table, tmp_path, capsys):
    frame = pd.read_csv(table)
    cases = {
        "no column": (frame.drop(columns="intervention"), "no column 'intervention'"),
        "unknown": (frame.replace({"intervention": {"tar": "tarr"}}), "unknown variable(s) 'tarr'"),
        "no control": (frame[frame["intervention"].notna()], "observational rows"),
        "thin": (pd.concat([frame[frame["intervention"] != "tar"], frame[frame["intervention"] == "tar"].head(3)]),
                 "fewer than 10 complete rows intervene on 'tar'"),
    }  # fmt: skip
    for name, (bad, problem) in cases.items():
        path = tmp_path / f"{name}.csv"
        bad.to_csv(path, index=False)
        code = main(["discover", "--graph", str(SMOKING), "--prior", "simulated:0.6", "--experimenter", f"data:{path}"])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and problem in err, (name, err)


def test_a_changed_interventional_table_stops_the_run(table):
    settings = DiscoverySettings(
        graph=str(SMOKING), prior="simulated:0.6", update="none", experimenter=f"data:{table}", rounds=2, per_round=1
    )
    run = start_discovery(settings, run_id="on-interventions")
    assert run.values["interventions"]["sha256"] and run.history[-1]["experiments"] == 2
    table.write_text(table.read_text().replace("\n", "\n", 1) + "\n")  # one more (empty) line: other bytes
    with pytest.raises(DiscolabError, match="not the file this run started on"):
        resume_discovery("on-interventions")
