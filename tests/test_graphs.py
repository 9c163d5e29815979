import json
import math
import re
from pathlib import Path

import networkx as nx
import pytest
from discolab.core.errors import GraphFileError
from discolab.core.graphs import BENCHMARKS, GraphSpec, load_benchmark, load_graph_file, resolve_graph

REPO = Path(__file__).resolve().parent.parent

SIZES = {
    "cancer": (5, 4),
    "earthquake": (5, 4),
    "survey": (6, 6),
    "asia": (8, 8),
    "sachs": (11, 17),
    "child": (20, 25),
    "insurance": (27, 52),
    "alarm": (37, 46),
}


@pytest.mark.parametrize("name", BENCHMARKS)
def test_benchmark_loads_offline_with_our_descriptions(name):
    spec = load_benchmark(name)
    assert (len(spec.variables), len(spec.edges)) == SIZES[name]
    assert nx.is_directed_acyclic_graph(spec.true_graph())
    assert spec.context and "\n" not in spec.context
    for v in spec.variables:
        assert len(v.description.split()) >= 4 and "\n" not in v.description


@pytest.mark.parametrize("name", BENCHMARKS)
def test_descriptions_do_not_state_relations(name):
    relation = re.compile(r"\b(caus\w*|leads? to|depends? on|affect\w*|influenc\w*)\b", re.I)
    for v in load_benchmark(name).variables:
        assert not relation.search(v.description), (name, v.name, v.description)


@pytest.mark.parametrize("name", BENCHMARKS)
def test_renamed_variant_is_isomorphic_with_neutral_names(name):
    spec, renamed = load_benchmark(name), load_benchmark(f"{name}-renamed")
    assert all(re.fullmatch(r"V\d+", n) for n in renamed.names)
    assert sorted(v.description for v in spec.variables) == sorted(v.description for v in renamed.variables)
    assert nx.is_isomorphic(spec.true_graph(), renamed.true_graph())
    _, mapping = spec.renamed(seed=0)
    assert {(mapping[u], mapping[v]) for u, v in spec.edges} == set(renamed.edges)


def test_renaming_does_not_follow_the_file_order():
    _, mapping = load_benchmark("alarm").renamed(seed=0)
    codes_in_file_order = [int(mapping[n][1:]) for n in load_benchmark("alarm").names]
    assert codes_in_file_order != sorted(codes_in_file_order)


@pytest.mark.parametrize("example", ["smoking.json", "smoking.yaml"])
def test_documented_example_files_load(example):
    spec = load_graph_file(REPO / "docs" / "examples" / example)
    assert spec.names == ["smoking", "tar", "cancer", "cough"]
    assert ("smoking", "tar") in spec.edges


def test_resolve_graph_accepts_names_and_files():
    assert resolve_graph("asia").name == "asia"
    assert resolve_graph("asia-renamed").name == "asia-renamed"
    assert resolve_graph(str(REPO / "docs" / "examples" / "smoking.json")).name == "smoking"
    with pytest.raises(GraphFileError, match="unknown graph 'asai'"):
        resolve_graph("asai")


def _write(tmp_path, data, name="g.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


GOOD = {
    "name": "g",
    "context": "c",
    "variables": [{"name": "a", "description": "A thing."}, {"name": "b", "description": "B thing."}],
    "edges": [["a", "b"]],
}


@pytest.mark.parametrize(
    "change, message",
    [
        (
            {"variables": [{"name": "a", "description": "x"}, {"name": "a", "description": "y"}], "edges": []},
            "duplicate variable name 'a'",
        ),
        ({"variables": [{"name": " ", "description": "x"}], "edges": []}, "empty name"),
        ({"variables": [{"name": "a", "description": ""}], "edges": []}, "empty description"),
        ({"edges": [["a", "zz"]]}, "unknown variable 'zz'"),
        ({"edges": [["a", "a"]]}, "self-loop a -> a"),
        ({"edges": [["a", "b"], ["b", "a"]]}, "must be acyclic, found cycle"),
        ({"edges": [["a", "b", "c"]]}, r"edges\[0\] must be a \[cause, effect\] pair"),
        ({"edges": "a->b"}, "'edges' must be a list"),
        ({"variables": "a, b"}, "'variables' must be a non-empty list"),
        ({"variables": [{"name": "a", "description": 3}]}, r"variables\[0\] needs string"),
        ({"name": 7}, "'name' must be a non-empty string"),
        ({"colour": "red"}, r"unknown field\(s\) \['colour'\]"),
    ],
)
def test_malformed_graph_files_get_clear_errors(tmp_path, change, message):
    path = _write(tmp_path, {**GOOD, **change})
    with pytest.raises(GraphFileError, match=message) as err:
        load_graph_file(path)
    assert str(path) in str(err.value)


def test_unparsable_and_missing_files(tmp_path):
    with pytest.raises(GraphFileError, match="cannot parse"):
        load_graph_file(_write(tmp_path, "{not json"))
    with pytest.raises(GraphFileError, match="cannot parse"):
        load_graph_file(_write(tmp_path, "a: [1, 2", "g.yaml"))
    with pytest.raises(GraphFileError, match="top level must be an object"):
        load_graph_file(_write(tmp_path, "[1, 2]"))
    with pytest.raises(GraphFileError, match="not found"):
        load_graph_file(tmp_path / "missing.json")


def test_graph_without_truth_cannot_be_scored():
    spec = GraphSpec.from_dict({k: v for k, v in GOOD.items() if k != "edges"})
    assert not spec.has_truth
    with pytest.raises(GraphFileError, match="no true edges"):
        spec.true_graph()


def test_round_trip_through_dict():
    spec = load_benchmark("sachs")
    assert GraphSpec.from_dict(spec.to_dict()) == spec


def test_edge_auroc_ranks_true_edges_above_non_edges():
    from discolab.core.graphs import edge_auroc

    true = [("a", "b"), ("b", "c")]
    beliefs = {("a", "b"): 0.9, ("b", "c"): 0.6, ("a", "c"): 0.6, ("c", "a"): 0.1}
    assert edge_auroc(true, beliefs) == 0.875  # one tie with a non-edge counts 1/2
    assert edge_auroc(true, {e: 1 - p for e, p in beliefs.items()}) == 0.125
    assert math.isnan(edge_auroc([], beliefs))
