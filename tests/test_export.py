"""A run's graph leaves discolab: every format read back by the tool it is for, with provenance."""

import json

import networkx as nx
import pytest
from discolab.agents.discovery import DiscoverySettings, start_discovery
from discolab.agents.discovery.results import export_run, make_acyclic, result_graph
from discolab.core.errors import DiscolabError
from discolab.ui.cli import main


@pytest.fixture(scope="module")
def run():
    settings = DiscoverySettings(graph="asia", prior="simulated:0.6", update="structural", rounds=3, per_round=3)
    return start_discovery(settings, run_id="exported")


def test_every_format_reads_back_as_the_same_graph(run, tmp_path):
    graph = run.to_networkx()
    edges = set(graph.edges)
    assert edges and run.history[-1]["predicted_edges"] == len(edges)
    readers = {
        "graphml": nx.read_graphml,
        "gml": nx.read_gml,
        "dot": nx.nx_pydot.read_dot,
    }
    for fmt, read in readers.items():
        path = tmp_path / f"g.{fmt}"
        assert main(["export", "exported", "--format", fmt, "--out", str(path)]) == 0
        back = read(path)
        assert set(back.edges()) == edges and set(back.nodes()) == set(graph.nodes)
        statuses = {(u, v): str(a["status"]).strip('"') for u, v, a in back.edges(data=True)}
        assert statuses == {(u, v): a["status"] for u, v, a in graph.edges(data=True)}
    dagitty, _ = export_run("exported", "dagitty")
    assert dagitty.startswith("dag {") and all(f"  {u} -> {v}\n" in dagitty for u, v in edges)


def test_bif_is_a_network_pgmpy_reads_back(run, tmp_path):
    from pgmpy.readwrite import BIFReader

    path = tmp_path / "asia.bif"
    assert main(["export", "exported", "--format", "bif", "--acyclic", "--out", str(path)]) == 0
    model = BIFReader(str(path)).get_model()
    assert set(model.edges()) == set(result_graph("exported", acyclic=True)[0].edges) and model.check_model()


def test_json_carries_each_edges_provenance(run):
    text, summary = export_run("exported", "json")
    exported = json.loads(text)
    assert summary["round"] == 3 and exported["name"] == "asia"
    tested = {tuple(r["edge"]): r for r in run.values["results"]}
    for edge in exported["edges"]:
        kinds = [p["kind"] for p in edge["provenance"]]
        assert kinds[0] == "prior" and edge["provenance"][0]["source"] == "simulated expert of F1 0.6"
        key = (edge["cause"], edge["effect"])
        if key in tested:
            assert edge["status"] == "confirmed" and edge["belief"] == 1.0
            assert edge["provenance"][-1] == {
                "kind": "experiment",
                "round": tested[key]["round"],
                "experimenter": "oracle",
                "answer": True,
            }
        else:
            assert edge["status"] == "predicted" and "experiment" not in kinds and edge["belief"] > 0.5


def test_an_earlier_round_and_standard_output(run, capsys):
    assert main(["export", "exported", "--round", "0", "--format", "json", "--out", "-"]) == 0
    out = capsys.readouterr()
    prior = json.loads(out.out)
    assert all(e["status"] == "predicted" for e in prior["edges"]) and "round 0" in out.err
    assert main(["export", "exported", "--round", "9", "--out", "-"]) == 2
    assert "rounds 0 to 3" in capsys.readouterr().err


def test_make_acyclic_drops_the_weakest_untested_edge_of_a_cycle():
    graph = nx.DiGraph()
    graph.add_edge("a", "b", belief=0.9, status="predicted")
    graph.add_edge("b", "c", belief=0.8, status="predicted")
    graph.add_edge("a", "c", belief=0.7, status="predicted")
    graph.add_edge("c", "a", belief=0.6, status="predicted")  # closes a -> c -> a: dropped
    graph.add_edge("c", "d", belief=1.0, status="confirmed")  # kept first, whatever its belief
    graph.add_edge("d", "b", belief=0.95, status="predicted")  # so b -> c, weaker, closes b -> c -> d -> b
    assert make_acyclic(graph) == [("b", "c"), ("c", "a")] and nx.is_directed_acyclic_graph(graph)
    loop = nx.DiGraph([("x", "y"), ("y", "x")])
    nx.set_edge_attributes(loop, "confirmed", "status")
    nx.set_edge_attributes(loop, 1.0, "belief")
    with pytest.raises(DiscolabError, match="confirmed edges form a cycle"):
        make_acyclic(loop)


def test_bif_without_discrete_data_is_a_clear_error(tmp_path, capsys):
    path = tmp_path / "mine.json"
    variables = [{"name": "a", "description": "A."}, {"name": "b", "description": "B."}]
    path.write_text(json.dumps({"name": "mine", "context": "", "variables": variables, "edges": [["a", "b"]]}))
    start_discovery(
        DiscoverySettings(graph=str(path), prior="simulated:0.9", update="none", rounds=1), run_id="no-data"
    )
    assert main(["export", "no-data", "--format", "bif", "--out", str(tmp_path / "x.bif")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no discrete data" in err and not (tmp_path / "x.bif").exists()


def test_bif_from_the_users_discrete_data(tmp_path):
    import numpy as np
    from discolab.experiments.own_problem import GRAPH, simulate
    from pgmpy.readwrite import BIFReader

    frame = simulate(2000, np.random.default_rng(0))
    (frame > 0).astype(int).replace({0: "low", 1: "high"}).to_csv(tmp_path / "observational.csv", index=False)
    (tmp_path / "g.json").write_text(json.dumps(GRAPH))
    run = start_discovery(DiscoverySettings(graph=str(tmp_path / "g.json"), prior="pc", update="none", rounds=0))
    text, _ = export_run(run.run_id, "bif", acyclic=True)
    (tmp_path / "g.bif").write_text(text)
    model = BIFReader(str(tmp_path / "g.bif")).get_model()
    assert model.check_model() and set(model.get_cpds("tar").state_names["tar"]) == {"low", "high"}
    frame.to_csv(tmp_path / "observational.csv", index=False)  # continuous columns
    run = start_discovery(DiscoverySettings(graph=str(tmp_path / "g.json"), prior="pc", update="none", rounds=0))
    with pytest.raises(DiscolabError, match="continuous columns"):
        export_run(run.run_id, "bif", acyclic=True)
