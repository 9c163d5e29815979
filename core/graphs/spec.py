"""A discovery problem: variables with descriptions, domain context, and (optionally) the true graph.

The same shape is the user graph file format (JSON or YAML)::

    {
      "name": "smoking",
      "context": "A study of smoking and lung health in adults.",
      "variables": [
        {"name": "smoking", "description": "Whether the person smokes daily; yes or no."},
        {"name": "cancer", "description": "Whether lung cancer was diagnosed; yes or no."}
      ],
      "edges": [["smoking", "cancer"]]
    }

``edges`` is optional: without it the graph can be discovered but not scored.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import yaml

from ..errors import GraphFileError

Edge = tuple[str, str]


@dataclass(frozen=True)
class Variable:
    name: str
    description: str


@dataclass(frozen=True)
class GraphSpec:
    """Variables, their descriptions and domain context; ``edges`` is the truth when known."""

    name: str
    context: str
    variables: tuple[Variable, ...]
    edges: tuple[Edge, ...] | None = None
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            where = f" in {self.source}" if self.source else ""
            raise GraphFileError(f"invalid graph{where}: " + "; ".join(problems))

    @property
    def names(self) -> list[str]:
        return [v.name for v in self.variables]

    def ordered_pairs(self) -> list[Edge]:
        """Every ordered pair of distinct variables: the candidate edges."""
        return [(u, v) for u in self.names for v in self.names if u != v]

    @property
    def has_truth(self) -> bool:
        return self.edges is not None

    def description(self, name: str) -> str:
        for v in self.variables:
            if v.name == name:
                return v.description
        raise KeyError(name)

    def true_graph(self) -> nx.DiGraph:
        """The true DAG over all variables; raises if the spec carries no truth."""
        if self.edges is None:
            raise GraphFileError(f"graph {self.name!r} has no true edges to evaluate against")
        graph = nx.DiGraph()
        graph.add_nodes_from(self.names)
        graph.add_edges_from(self.edges)
        return graph

    def renamed(self, seed: int = 0, prefix: str = "V") -> tuple[GraphSpec, dict[str, str]]:
        """The same problem with names replaced by neutral codes (a memorization control).

        Codes are handed out in a seeded random order, so that a code's number does not
        reveal the original (often topological) order of the variables. Returns the new spec
        and the mapping original name -> code.
        """
        order = self.names
        random.Random(seed).shuffle(order)
        width = len(str(len(order)))
        mapping = {name: f"{prefix}{i + 1:0{width}d}" for i, name in enumerate(order)}
        variables = sorted((Variable(mapping[v.name], v.description) for v in self.variables), key=lambda v: v.name)
        edges = None if self.edges is None else tuple((mapping[u], mapping[v]) for u, v in self.edges)
        spec = GraphSpec(f"{self.name}-renamed", self.context, tuple(variables), edges, self.source)
        return spec, mapping

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "context": self.context,
            "variables": [{"name": v.name, "description": v.description} for v in self.variables],
        }
        if self.edges is not None:
            data["edges"] = [list(e) for e in self.edges]
        return data

    @classmethod
    def from_dict(cls, data: Any, source: str = "") -> GraphSpec:
        """Build a spec from parsed JSON/YAML, with a clear error for every malformed part."""
        where = f" in {source}" if source else ""
        if not isinstance(data, dict):
            raise GraphFileError(f"invalid graph{where}: top level must be an object, got {_kind(data)}")
        unknown = set(data) - {"name", "context", "variables", "edges"}
        if unknown:
            raise GraphFileError(f"invalid graph{where}: unknown field(s) {sorted(unknown)}")
        problems = []
        name, context = data.get("name"), data.get("context", "")
        if not isinstance(name, str) or not name.strip():
            problems.append("'name' must be a non-empty string")
        if not isinstance(context, str):
            problems.append(f"'context' must be a string, got {_kind(context)}")
        raw_vars = data.get("variables")
        variables: list[Variable] = []
        if not isinstance(raw_vars, list) or not raw_vars:
            problems.append("'variables' must be a non-empty list of {name, description} objects")
        else:
            for i, item in enumerate(raw_vars):
                if not isinstance(item, dict):
                    problems.append(f"variables[{i}] must be an object, got {_kind(item)}")
                    continue
                vname, desc = item.get("name"), item.get("description")
                if not isinstance(vname, str) or not isinstance(desc, str):
                    problems.append(f"variables[{i}] needs string 'name' and 'description'")
                    continue
                variables.append(Variable(vname.strip(), desc.strip()))
        edges = None
        raw_edges = data.get("edges")
        if raw_edges is not None:
            if not isinstance(raw_edges, list):
                problems.append(f"'edges' must be a list of [cause, effect] pairs, got {_kind(raw_edges)}")
            else:
                edges = []
                for i, e in enumerate(raw_edges):
                    if not (isinstance(e, (list, tuple)) and len(e) == 2 and all(isinstance(x, str) for x in e)):
                        problems.append(f"edges[{i}] must be a [cause, effect] pair of names, got {e!r}")
                        continue
                    edges.append((e[0].strip(), e[1].strip()))
                edges = tuple(edges)
        if problems:
            raise GraphFileError(f"invalid graph{where}: " + "; ".join(problems))
        return cls(name.strip(), context.strip(), tuple(variables), edges, source)


def load_graph_file(path: str | Path) -> GraphSpec:
    """Read a user graph file (``.json``, ``.yaml`` or ``.yml``)."""
    path = Path(path)
    if not path.is_file():
        raise GraphFileError(f"graph file not found: {path}")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        raise GraphFileError(f"cannot parse {path}: {str(err).splitlines()[0]}") from None
    return GraphSpec.from_dict(data, source=str(path))


def _problems(spec: GraphSpec) -> list[str]:
    problems = []
    seen: set[str] = set()
    for i, v in enumerate(spec.variables):
        if not v.name:
            problems.append(f"variables[{i}] has an empty name")
        elif v.name in seen:
            problems.append(f"duplicate variable name {v.name!r}")
        seen.add(v.name)
        if not v.description:
            problems.append(f"variable {v.name or i!r} has an empty description")
    if spec.edges is not None:
        for u, v in spec.edges:
            for end in (u, v):
                if end not in seen:
                    problems.append(f"edge {u} -> {v} names unknown variable {end!r}")
            if u == v:
                problems.append(f"self-loop {u} -> {v}")
        if len(set(spec.edges)) != len(spec.edges):
            problems.append("duplicate edges")
        if not problems:
            graph = nx.DiGraph(list(spec.edges))
            try:
                cycle = nx.find_cycle(graph)
                path = " -> ".join([u for u, _ in cycle] + [cycle[0][0]])
                problems.append(f"the true graph must be acyclic, found cycle {path}")
            except nx.NetworkXNoCycle:
                pass
    return problems


def _kind(value: Any) -> str:
    return type(value).__name__
