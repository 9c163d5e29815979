"""The eight bnlearn benchmark networks, read offline through pgmpy, with our own descriptions.

Structure and conditional probability tables come from the ``.bif`` files that pgmpy ships;
the variable descriptions and domain context (what the LLM sees) are ours, in ``data/``.
"""

from __future__ import annotations

import json
import warnings
from functools import cache
from importlib import resources
from pathlib import Path

from ..errors import GraphFileError
from .spec import GraphSpec, load_graph_file

# Ordered by size: nodes / edges.
BENCHMARKS = ("cancer", "earthquake", "survey", "asia", "sachs", "child", "insurance", "alarm")
RENAMED_SUFFIX = "-renamed"


@cache
def load_bayesian_network(name: str):
    """The pgmpy ``DiscreteBayesianNetwork`` of a benchmark (for sampling and interventions)."""
    _check_name(name)
    from pgmpy.utils import get_example_model

    with warnings.catch_warnings():
        # pgmpy<1.3 deprecates get_example_model in favour of an API that downloads.
        warnings.simplefilter("ignore", FutureWarning)
        return get_example_model(name)


@cache
def load_benchmark(name: str) -> GraphSpec:
    """A benchmark as a :class:`GraphSpec`; ``NAME-renamed`` gives the neutral-code variant."""
    if name.endswith(RENAMED_SUFFIX):
        spec, _ = load_benchmark(name[: -len(RENAMED_SUFFIX)]).renamed(seed=0)
        return spec
    _check_name(name)
    text = resources.files(__package__).joinpath("data", f"{name}.json").read_text(encoding="utf-8")
    described = GraphSpec.from_dict(json.loads(text), source=f"benchmark {name}")
    network = load_bayesian_network(name)
    if set(described.names) != set(network.nodes()):
        raise GraphFileError(f"descriptions of {name} do not match the network's variables")
    edges = tuple((str(u), str(v)) for u, v in network.edges())
    return GraphSpec(name, described.context, described.variables, edges, f"benchmark {name}")


def benchmark_network(spec: GraphSpec):
    """The Bayesian network behind a benchmark spec (plain or renamed), and the map from the
    network's variable names to the spec's (the identity for a plain benchmark)."""
    base = spec.name.removesuffix(RENAMED_SUFFIX)
    if base not in BENCHMARKS or not spec.source.startswith("benchmark "):
        raise GraphFileError(f"{spec.name!r} is not a benchmark: there is no network to sample or intervene on")
    if spec.name.endswith(RENAMED_SUFFIX):
        _, mapping = load_benchmark(base).renamed(seed=0)
    else:
        mapping = {name: name for name in spec.names}
    return load_bayesian_network(base), mapping


def resolve_graph(name_or_path: str) -> GraphSpec:
    """A benchmark name (optionally ``-renamed``) or the path of a graph file."""
    base = name_or_path.removesuffix(RENAMED_SUFFIX)
    if base in BENCHMARKS:
        return load_benchmark(name_or_path)
    if Path(name_or_path).suffix.lower() in (".json", ".yaml", ".yml") or Path(name_or_path).exists():
        return load_graph_file(name_or_path)
    raise GraphFileError(
        f"unknown graph {name_or_path!r}: give a benchmark ({', '.join(BENCHMARKS)}, "
        f"optionally with '{RENAMED_SUFFIX}') or a .json/.yaml graph file"
    )


def _check_name(name: str) -> None:
    if name not in BENCHMARKS:
        raise GraphFileError(f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)}")
