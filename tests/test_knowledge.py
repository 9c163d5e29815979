"""Background knowledge (required and forbidden edges, tiers): checked, and honoured at every stage."""

import json

import numpy as np
import pytest
from conftest import REPO
from discolab.agents.discovery import DiscoverySettings, start_discovery
from discolab.agents.discovery.results import export_run
from discolab.core.errors import GraphFileError
from discolab.core.graphs import load_graph_file
from discolab.core.llm.base import YesNo
from discolab.experiments.own_problem import simulate

SMOKING = json.loads((REPO / "docs" / "examples" / "smoking.json").read_text())
KNOWLEDGE = {
    "required": [["smoking", "tar"]],
    "forbidden": [["smoking", "cough"]],
    "tiers": [["smoking"], ["tar", "cancer", "cough"]],
}


def graph_file(tmp_path, knowledge, **extra):
    path = tmp_path / "smoking.json"
    path.write_text(json.dumps({**SMOKING, **extra, "knowledge": knowledge}))
    return path


def test_impossible_knowledge_is_named(tmp_path):
    cases = [
        ({"required": [["smoking", "lungs"]]}, "unknown variable 'lungs'"),
        ({"required": [["tar", "cancer"]], "forbidden": [["tar", "cancer"]]}, "both required and forbidden"),
        ({"required": [["tar", "cancer"], ["cancer", "tar"]]}, "form a cycle"),
        ({"required": [["cough", "smoking"]], "tiers": [["smoking"], ["cough"]]}, "back to tier 1"),
        ({"tiers": [["smoking"], ["smoking", "tar"]]}, "in tiers 1 and 2"),
        ({"required": "smoking -> tar"}, r"list of \[cause, effect\] pairs"),
        ({"order": []}, "'knowledge' must be an object"),
    ]
    for knowledge, problem in cases:
        with pytest.raises(GraphFileError, match=problem) as err:
            load_graph_file(graph_file(tmp_path, knowledge))
        assert "\n" not in str(err.value)


def test_known_pairs_are_fixed_never_tested_and_kept_in_the_graph(tmp_path):
    path = graph_file(tmp_path, KNOWLEDGE)
    spec = load_graph_file(path)
    known = spec.knowledge.known(spec.names)
    assert known[("smoking", "tar")] is True and known[("smoking", "cough")] is False
    assert known[("tar", "smoking")] is False and known[("cough", "smoking")] is False  # from the tiers
    settings = DiscoverySettings(graph=str(path), prior="simulated:0.5", update="structural", rounds=20, per_round=2)
    run = start_discovery(settings, run_id="with-knowledge")
    prior = dict(zip(map(tuple, run.values["pairs"]), run.values["prior_beliefs"]))
    assert all(prior[e] == float(present) for e, present in known.items())
    tested = {tuple(r["edge"]) for r in run.values["results"]}
    assert tested and not tested & set(known)
    assert len(tested) == len(spec.ordered_pairs()) - len(known)  # every other pair, then the loop stops
    graph = run.to_networkx()
    assert graph.edges["smoking", "tar"]["status"] == "known" and not graph.has_edge("smoking", "cough")
    exported = json.loads(export_run("with-knowledge", "json")[0])
    edge = next(e for e in exported["edges"] if (e["cause"], e["effect"]) == ("smoking", "tar"))
    assert edge["provenance"][-1] == {"kind": "knowledge", "required": True}


def test_the_llm_is_not_asked_about_known_pairs(tmp_path, monkeypatch):
    import discolab.agents.discovery.nodes as nodes

    asked = []

    class Recording:
        def score_yes_no(self, prompts, progress=False):
            asked.extend(p[-1]["content"] for p in prompts)
            return [YesNo(0.3, "logprobs") for _ in prompts]

    monkeypatch.setattr(nodes, "_backend", lambda settings: Recording())
    path = graph_file(tmp_path, KNOWLEDGE)
    start_discovery(DiscoverySettings(graph=str(path), prior="llm", update="llm", rounds=1, per_round=1))
    questions = [q for q in asked if "N/A" not in q]
    assert questions and not any("Does smoking directly cause tar?" in q for q in questions)
    assert not any("Does tar directly cause smoking?" in q for q in questions)
    assert any("Does tar directly cause cancer?" in q for q in questions)


def test_pc_searches_within_the_knowledge(tmp_path):
    frame = simulate(3000, np.random.default_rng(0))
    frame.to_csv(tmp_path / "data.csv", index=False)
    knowledge = {"forbidden": [["smoking", "cough"]], "tiers": [["smoking"], ["tar"], ["cancer"], ["cough"]]}
    path = graph_file(tmp_path, knowledge, data="data.csv")
    run = start_discovery(DiscoverySettings(graph=str(path), prior="pc", update="none", rounds=0))
    prior = dict(zip(map(tuple, run.values["pairs"]), run.values["prior_beliefs"]))
    # the tiers orient the chain; the true smoking -> cough is forbidden, so PC goes without it
    assert prior[("smoking", "tar")] == prior[("tar", "cancer")] == prior[("cancer", "cough")] == 0.9
    assert prior[("smoking", "cough")] == 0.0 and prior[("cough", "cancer")] == 0.0


def test_knowledge_from_the_command_line(capsys):
    from discolab.ui.cli import main

    base = ["discover", "--graph", "cancer", "--prior", "simulated:0.7", "--update", "none"]
    assert main([*base, "--require", "Cancer", "Smoker", "--forbid", "Cancer", "Smoker"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "both required and forbidden" in err
    assert (
        main([*base, "--require", "Pollution", "Cancer", "--forbid", "Smoker", "Xray", "--rounds", "0", "--json"]) == 0
    )
    run = json.loads(capsys.readouterr().out)
    assert run["settings"]["required"] == [["Pollution", "Cancer"]]
    assert run["rounds"][0]["predicted_edges"] >= 1
