"""Experimenters: oracle, noisy oracle, and simulated interventions on the benchmark networks."""

import networkx as nx
import pytest
from discolab.agents.discovery import DiscoverySettings, start_discovery
from discolab.core.graphs import load_benchmark
from discolab.core.igda.experimenters import make_experimenter


def test_noisy_oracle_flips_at_the_stated_rate_and_repeats_itself():
    spec = load_benchmark("alarm")
    noisy = make_experimenter(spec, "noisy:0.2", seed=5)
    pairs = spec.ordered_pairs()
    truth = set(spec.edges)
    flips = sum(noisy.answer(e) != (e in truth) for e in pairs) / len(pairs)
    assert flips == pytest.approx(0.2, abs=0.03)
    assert [noisy.answer(e) for e in pairs[:50]] == [noisy.answer(e) for e in pairs[:50]]


@pytest.mark.parametrize("graph", ["asia", "sachs"])
def test_interventions_find_direct_edges_not_paths(graph):
    spec = load_benchmark(graph)
    experimenter = make_experimenter(spec, "interventional:500", seed=0)
    truth = spec.true_graph()
    indirect = [(u, v) for u in spec.names for v in nx.descendants(truth, u) if not truth.has_edge(u, v)]
    unrelated = [(u, v) for u in spec.names for v in spec.names if u != v and v not in nx.descendants(truth, u)]
    assert indirect, "the graph should have ancestors that are not parents"
    direct_found = sum(experimenter.answer(e) for e in spec.edges) / len(spec.edges)
    indirect_found = sum(experimenter.answer(e) for e in indirect) / len(indirect)
    unrelated_found = sum(experimenter.answer(e) for e in unrelated[:40]) / 40
    assert direct_found >= 0.8
    assert indirect_found <= 0.1 and unrelated_found <= 0.1


def test_bad_experimenter_names():
    spec = load_benchmark("asia")
    for name in ("noisy:0.9", "noisy:x", "interventional:5", "psychic"):
        with pytest.raises(ValueError):
            make_experimenter(spec, name)


def test_discovery_with_interventional_experiments():
    run = start_discovery(
        DiscoverySettings(
            graph="asia", prior="pc", update="structural", experimenter="interventional", rounds=3, per_round=2
        )
    )
    assert len(run.values["results"]) == 6 and run.history[-1]["f1"] >= run.history[0]["f1"]
