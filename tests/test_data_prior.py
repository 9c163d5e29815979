"""PC and GES priors from causal-learn on samples of the benchmark networks."""

import pytest
from discolab.agents.discovery import DiscoverySettings, start_discovery
from discolab.core.errors import DiscolabError
from discolab.core.graphs import GraphSpec, load_benchmark, score_graph
from discolab.core.igda.data_prior import (
    ABSENT,
    DIRECTED,
    REVERSED,
    UNDIRECTED,
    benchmark_observations,
    data_driven_beliefs,
)


@pytest.mark.parametrize("method", ["pc", "ges"])
def test_cpdag_marks_become_beliefs_that_find_the_graph(method):
    spec = load_benchmark("sachs")
    beliefs = data_driven_beliefs(benchmark_observations(spec, 3000, seed=0), method)
    assert set(beliefs.values()) <= {DIRECTED, REVERSED, UNDIRECTED, ABSENT}
    for (u, v), p in beliefs.items():  # a CPDAG's marks are consistent in both directions
        assert (p, beliefs[(v, u)]) in {
            (DIRECTED, REVERSED),
            (REVERSED, DIRECTED),
            (UNDIRECTED, UNDIRECTED),
            (ABSENT, ABSENT),
        }
    skeleton = [e for e, p in beliefs.items() if p >= UNDIRECTED]
    assert score_graph(spec.edges, skeleton).skeleton_f1 > 0.6


def test_renamed_benchmark_samples_under_the_codes():
    beliefs = data_driven_beliefs(benchmark_observations(load_benchmark("asia-renamed"), 1000), "pc")
    assert all(u.startswith("V") and v.startswith("V") for u, v in beliefs)


def test_samples_are_seeded():
    spec = load_benchmark("child")
    first, second = (data_driven_beliefs(benchmark_observations(spec, 500, seed=1), "pc") for _ in range(2))
    assert first == second


def test_user_graph_without_a_network_is_refused():
    spec = GraphSpec.from_dict(
        {"name": "g", "variables": [{"name": "a", "description": "x"}, {"name": "b", "description": "y"}]}
    )
    with pytest.raises(DiscolabError, match="needs a benchmark network"):
        benchmark_observations(spec, 100)


def test_experiments_orient_what_the_data_left_undirected():
    run = start_discovery(DiscoverySettings(graph="alarm", prior="pc", update="structural", rounds=4, per_round=3))
    f1 = [h["f1"] for h in run.history]
    assert f1[0] > 0.7 and f1[-1] > f1[0]


def test_bootstrap_frequencies_and_strategy():
    from discolab.core.igda.data_prior import bootstrap_edge_frequencies

    spec = load_benchmark("sachs")
    freq = bootstrap_edge_frequencies(benchmark_observations(spec, 1000), n_boot=8, seed=0)
    assert all(0.0 <= f <= 1.0 for f in freq.values())
    for u, v in freq:  # at most one full edge per pair and boot
        assert freq[(u, v)] + freq[(v, u)] <= 1.0 + 1e-9
    run = start_discovery(
        DiscoverySettings(
            graph="sachs", prior="pc", strategy="bootstrap", update="structural", rounds=2, per_round=3, samples=1000
        )
    )
    assert len(run.values["results"]) == 6


def test_a_user_graph_named_like_a_benchmark_is_not_sampled_from_it():
    spec = GraphSpec.from_dict({"name": "asia", "variables": [{"name": "a", "description": "x"}]})
    with pytest.raises(DiscolabError, match="'asia' is not a benchmark"):
        benchmark_observations(spec, 100)


def test_a_column_constant_in_a_small_sample_gets_no_say():
    """50 rows of asia: 'tub' (P = 0.01) may never vary; PC runs on the rest, and its pairs stay at 1/2."""
    from discolab.core.igda.data_prior import UNKNOWN, bootstrap_edge_frequencies

    spec = load_benchmark("asia")
    observations = benchmark_observations(spec, 50, seed=0)
    constant = [n for n in spec.names if observations.frame[n].nunique() == 1]
    assert constant  # the premise of the test
    for beliefs in (data_driven_beliefs(observations, "pc"), bootstrap_edge_frequencies(observations, n_boot=4)):
        assert len(beliefs) == len(spec.names) * (len(spec.names) - 1)
        assert all(p == UNKNOWN for (u, v), p in beliefs.items() if u in constant or v in constant)
        assert all(type(p) is float for p in beliefs.values())  # plain floats: they go into checkpoints
