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

Graph files come from users and uploads, and their names and descriptions go into prompts and
onto the terminal, so every spec is held to limits (checked wherever a spec is built):

- names (of the graph and of each variable): printable characters only (no newlines, tabs,
  ANSI escapes, NUL or other control characters), non-empty, at most ``MAX_NAME_CHARS``;
- descriptions and context: no control characters except newline and tab, at most
  ``MAX_TEXT_CHARS``.

Reading a file adds limits on the file itself (see :func:`load_graph_file`): its size, its
encoding, its nesting depth, YAML alias expansion, the length of numbers, and the number of
variables (``MAX_VARIABLES``, or ``DISCOLAB_MAX_VARIABLES`` in the environment).
"""

from __future__ import annotations

import codecs
import json
import math
import os
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import yaml
from yaml.composer import Composer, ComposerError
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.resolver import Resolver

from ..errors import SHOWN_CHARS, DiscolabError, GraphFileError, one_line, short_repr, summarize_problems
from .knowledge import Knowledge, knowledge_from_dict

Edge = tuple[str, str]

MAX_FILE_BYTES = 5_000_000  # 2,000 variables with long descriptions fit in well under this
MAX_VARIABLES = 2_000  # default cap; DISCOLAB_MAX_VARIABLES or an argument overrides it
MAX_NAME_CHARS = 100
MAX_TEXT_CHARS = 2_000  # one description, or the context
MAX_DEPTH = 50  # nested lists/objects; a graph file needs 3
MAX_ALIAS_NODES = 10_000  # YAML nodes that aliases may add by repeating anchored content
# YAML is composed in Python at ~10 us a node: this keeps the worst case near a second. 2,000
# variables take 10,000 nodes, leaving room for 30,000 edges; larger graphs can be JSON.
MAX_YAML_NODES = 100_000
MAX_NUMBER_CHARS = 100  # numbers play no part in the format; long ones only cost time

# Control characters (Unicode category Cc) other than tab and newline: they can rewrite the
# terminal (ANSI escapes, carriage return) or hide text, and have no place in a description.
# Lone surrogates (from JSON/YAML escapes like "\ud800") cannot even be printed or encoded.
# Control characters but newline and tab, lone surrogates, the bidi embeddings, overrides and isolates that
# make text read differently from how it is stored, line and paragraph separators (line breaks to
# splitlines) and a byte-order mark inside the text. Joiners (ZWJ, ZWNJ) stay: scripts and emoji need them.
_FORBIDDEN_IN_TEXT = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069\u2028\u2029\ufeff]"
)


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
    data: str | None = None  # observational data for this problem: a CSV or Parquet file, as an absolute path
    knowledge: Knowledge | None = None  # edges known present or absent, tiers of time order

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise GraphFileError(f"invalid graph{_where(self.source)}: {summarize_problems(problems)}")

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
        suffix = "-renamed"
        name = self.name[: MAX_NAME_CHARS - len(suffix)] + suffix  # stays within the name limit
        spec = GraphSpec(name, self.context, tuple(variables), edges, self.source)
        return spec, mapping

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "context": self.context,
            "variables": [{"name": v.name, "description": v.description} for v in self.variables],
        }
        if self.edges is not None:
            data["edges"] = [list(e) for e in self.edges]
        if self.data is not None:
            data["data"] = self.data
        if self.knowledge:
            data["knowledge"] = self.knowledge.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Any, source: str = "", max_variables: int | None = None) -> GraphSpec:
        """Build a spec from parsed JSON/YAML, with a clear error for every malformed part.

        Refuses more than ``max_variables`` variables (default: :func:`variable_limit`) before
        looking at any of them. The spec itself (see :class:`GraphSpec`) does not cap the count:
        code may build larger problems on purpose; data from outside comes through here.
        """
        where = _where(source)
        if not isinstance(data, dict):
            raise GraphFileError(f"invalid graph{where}: top level must be an object, got {_kind(data)}")
        unknown = sorted(set(data) - {"name", "context", "variables", "edges", "data", "knowledge"}, key=str)
        if unknown:
            shown = ", ".join(short_repr(key) for key in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
            raise GraphFileError(f"invalid graph{where}: unknown field(s) [{shown}]")
        limit = variable_limit(max_variables)
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
        elif len(raw_vars) > limit:
            problems.append(
                f"{len(raw_vars):,} variables, more than the limit of {limit:,} "
                "(set DISCOLAB_MAX_VARIABLES to allow more)"
            )
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
            n = len(raw_vars) if isinstance(raw_vars, list) else 0
            if not isinstance(raw_edges, list):
                problems.append(f"'edges' must be a list of [cause, effect] pairs, got {_kind(raw_edges)}")
            elif len(raw_edges) > n * (n - 1):  # beyond this there must be repeats or self-loops
                problems.append(f"{len(raw_edges):,} edges, more than the {n * (n - 1):,} ordered pairs of variables")
            else:
                edges = []
                for i, e in enumerate(raw_edges):
                    if not (isinstance(e, (list, tuple)) and len(e) == 2 and all(isinstance(x, str) for x in e)):
                        problems.append(f"edges[{i}] must be a [cause, effect] pair of names, got {short_repr(e)}")
                        continue
                    edges.append((e[0].strip(), e[1].strip()))
                edges = tuple(edges)
        data_file = _data_file(data.get("data"), source, problems)
        knowledge = knowledge_from_dict(data.get("knowledge"), problems)
        if problems:
            raise GraphFileError(f"invalid graph{where}: {summarize_problems(problems)}")
        return cls(name.strip(), context.strip(), tuple(variables), edges, source, data_file, knowledge)


def _data_file(value: Any, source: str, problems: list[str]) -> str | None:
    """The graph file's ``data``, as an absolute path: a file in the graph file's folder or below
    it, named relative to that folder, so that a shared or uploaded graph file cannot make
    discolab read files elsewhere (``--data`` on the command line can name any file)."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        problems.append(f"'data' must be the name of a CSV or Parquet file, got {short_repr(value)}")
        return None
    folder = Path(source).resolve().parent if Path(source).is_file() else Path.cwd()
    resolved = (folder / value.strip()).resolve()
    if Path(value.strip()).is_absolute() or not resolved.is_relative_to(folder):
        problems.append(f"'data' {short_repr(value)} must name a file in the graph file's folder (a relative path)")
        return None
    return str(resolved)


def variable_limit(max_variables: int | None = None) -> int:
    """The most variables a graph read from outside may have: ``max_variables`` when given,
    else ``DISCOLAB_MAX_VARIABLES`` from the environment, else ``MAX_VARIABLES``."""
    if max_variables is not None:
        return max_variables
    raw = os.environ.get("DISCOLAB_MAX_VARIABLES", "").strip()
    if not raw:
        return MAX_VARIABLES
    if not raw.isdigit() or int(raw) < 1:
        raise DiscolabError(f"DISCOLAB_MAX_VARIABLES must be a positive whole number, got {short_repr(raw)}")
    return int(raw)


def load_graph_file(path: str | Path, max_variables: int | None = None) -> GraphSpec:
    """Read a user graph file (``.json``, ``.yaml`` or ``.yml``; any other suffix is read as JSON).

    The file must be UTF-8 text (a UTF-8 byte-order mark is fine) of at most ``MAX_FILE_BYTES``.
    UTF-16 and UTF-32 files are refused even with a byte-order mark, with a message saying so:
    one encoding keeps the rule simple, and every editor can save UTF-8. Parsing refuses
    nesting deeper than ``MAX_DEPTH``, YAML aliases that would expand to more than
    ``MAX_ALIAS_NODES`` nodes ("billion laughs"), YAML of more than ``MAX_YAML_NODES`` nodes,
    numbers longer than ``MAX_NUMBER_CHARS`` and JSON's NaN / Infinity; then
    :meth:`GraphSpec.from_dict` checks the content. Every problem is a :class:`GraphFileError`
    with a short one-line message.
    """
    path = Path(path)
    data = _parse(_read_text(path), path)
    return GraphSpec.from_dict(data, source=str(path), max_variables=max_variables)


def _read_text(path: Path) -> str:
    """The file's text, read within the size limit and decoded strictly as UTF-8."""
    if not path.is_file():
        raise GraphFileError(f"{path} is not a file" if path.exists() else f"graph file not found: {path}")
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_FILE_BYTES + 1)  # never more, whatever the file claims to be
    except OSError as err:
        raise GraphFileError(f"cannot read {path}: {err.strerror or err}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise GraphFileError(f"{path} is larger than {MAX_FILE_BYTES / 1e6:g} MB, the limit for a graph file")
    # UTF-32 first: its little-endian mark starts with UTF-16's.
    for mark, encoding in ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
                           (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16")):  # fmt: skip
        if raw.startswith(mark):
            raise GraphFileError(f"{path} is {encoding} text; save the file as UTF-8")
    try:
        text = raw.decode("utf-8-sig")  # drops a UTF-8 byte-order mark if there is one
    except UnicodeDecodeError as err:
        raise GraphFileError(
            f"{path} is not UTF-8 text (byte 0x{raw[err.start]:02x} at offset {err.start}); save the file as UTF-8"
        ) from None
    if "\x00" in text:  # valid UTF-8, but only binary files and UTF-16/32 without a mark have NULs
        raise GraphFileError(f"{path} contains NUL bytes: a binary file, or UTF-16/32; save the file as UTF-8 text")
    return text


class _Refused(Exception):
    """A JSON document that parses but breaks one of the limits."""


def _parse(text: str, path: Path) -> Any:
    """The parsed document; any parse failure or broken limit is a GraphFileError."""
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            return yaml.load(text, Loader=_GuardedYamlLoader)  # safe: builds plain types only
        return _load_json(text)
    except json.JSONDecodeError as err:
        problem = f"{err.msg} at line {err.lineno}, column {err.colno}"
    except yaml.YAMLError as err:
        problem = _yaml_problem(err)
    except _Refused as err:
        problem = str(err)
    except RecursionError:  # the last resort; the depth limits normally stop well before
        problem = f"nested deeper than {MAX_DEPTH} levels"
    raise GraphFileError(f"cannot parse {path}: {one_line(problem, 200)}")


def _load_json(text: str) -> Any:
    data = json.loads(text, parse_int=_json_int, parse_float=_json_float, parse_constant=_json_constant)
    _check_depth(data)
    return data


def _json_int(text: str) -> int:
    _check_number_length(text)
    return int(text)


def _json_float(text: str) -> float:
    _check_number_length(text)
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"the number {text} is out of range")
    return value


def _json_constant(name: str) -> None:
    raise _Refused(f"{name} is not a JSON number and has no place in a graph file")


def _check_number_length(text: str) -> None:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(f"a number {len(text):,} characters long (at most {MAX_NUMBER_CHARS})")


def _check_depth(data: Any) -> None:
    """Refuse lists/objects nested deeper than MAX_DEPTH (walked with a stack, not recursion)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                raise _Refused(f"nested deeper than {MAX_DEPTH} levels")
            stack.extend((child, depth + 1) for child in (value.values() if isinstance(value, dict) else value))


if yaml.__with_libyaml__:  # libyaml parses several times faster, and without recursion
    from yaml.cyaml import CParser as _YamlParser
else:
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _YamlParser(Reader, Scanner, Parser):  # type: ignore[no-redef]
        """yaml's own parser, where yaml was installed without libyaml."""

        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)


class _GuardedYamlLoader(Composer, _YamlParser, SafeConstructor, Resolver):
    """yaml's safe loading (plain types only), bounded against hostile documents.

    It is ``yaml.SafeLoader`` with the composer (events -> node graph) in Python, where the
    guards below live, whichever parser (libyaml's or yaml's own) produces the events.

    Aliases are cheap to write and costly to use: nine anchors of nine aliases each ("billion
    laughs") stand for 10^9 nodes in 429 bytes, and anything that walks the result (validation,
    a repr in an error message) pays for every one. While composing, this loader counts the
    nodes each alias adds by repeating its anchor's content and refuses beyond
    MAX_ALIAS_NODES; an alias inside its own anchor (a recursive structure) is refused too.
    It also refuses more than MAX_YAML_NODES nodes (composing in Python costs about 10
    microseconds a node), nesting deeper than MAX_DEPTH (before Python's recursion limit) and
    numbers longer than MAX_NUMBER_CHARS, and turns a scalar that its constructor cannot read
    (a date like 2001-13-45) into a located YAML error.
    """

    def __init__(self, stream: str) -> None:
        _YamlParser.__init__(self, stream)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self.depth = 0  # lists/mappings open around the node being composed
        self.nodes = 0
        self.alias_nodes = 0
        self.extent: dict[yaml.Node, tuple[int, int]] = {}  # node -> (nodes when expanded, nesting levels)

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            return self._expand_alias(super().compose_node(parent, index), event)
        self.nodes += 1
        if self.nodes > MAX_YAML_NODES:
            raise ComposerError(
                None, None, f"more than {MAX_YAML_NODES:,} YAML nodes; save large graphs as JSON", event.start_mark
            )
        collection = not isinstance(event, yaml.ScalarEvent)
        self.depth += collection
        if self.depth > MAX_DEPTH:
            raise ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
        node = super().compose_node(parent, index)
        self.depth -= collection
        children = _children(node)
        self.extent[node] = (
            1 + sum(self.extent[child][0] for child in children),
            collection + max((self.extent[child][1] for child in children), default=0),
        )
        return node

    def _expand_alias(self, node: yaml.Node, event: yaml.AliasEvent) -> yaml.Node:
        if node not in self.extent:  # its anchor is still being composed: the alias is inside it
            raise ComposerError(None, None, "an alias inside its own anchor (a recursive structure)", event.start_mark)
        size, levels = self.extent[node]
        self.alias_nodes += size
        if self.alias_nodes > MAX_ALIAS_NODES:
            raise ComposerError(None, None, f"aliases expand beyond {MAX_ALIAS_NODES:,} nodes", event.start_mark)
        if self.depth + levels > MAX_DEPTH:
            raise ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
        return node

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, OverflowError) as err:
            raise ConstructorError(
                None, None, f"cannot read {short_repr(node.value)}: {err}", node.start_mark
            ) from None

    def construct_bounded_number(self, node):
        if len(node.value) > MAX_NUMBER_CHARS:
            raise ConstructorError(
                None,
                None,
                f"a number {len(node.value):,} characters long (at most {MAX_NUMBER_CHARS})",
                node.start_mark,
            )
        if node.tag.endswith(":int"):
            return self.construct_yaml_int(node)
        return self.construct_yaml_float(node)


_GuardedYamlLoader.add_constructor("tag:yaml.org,2002:int", _GuardedYamlLoader.construct_bounded_number)
_GuardedYamlLoader.add_constructor("tag:yaml.org,2002:float", _GuardedYamlLoader.construct_bounded_number)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _yaml_problem(err: yaml.YAMLError) -> str:
    """What went wrong and where, without the snippet of the file that yaml appends."""
    if isinstance(err, yaml.MarkedYAMLError) and err.problem:
        mark = err.problem_mark
        return err.problem + (f" at line {mark.line + 1}, column {mark.column + 1}" if mark else "")
    lines = str(err).splitlines()
    return lines[0] if lines else type(err).__name__


def _problems(spec: GraphSpec) -> list[str]:
    problems = []
    problem = _name_problem(spec.name)
    if problem:
        problems.append(f"graph name {problem}")
    problem = _text_problem(spec.context)
    if problem:
        problems.append(f"context {problem}")
    seen: set[str] = set()
    for i, v in enumerate(spec.variables):
        if not v.name:
            problems.append(f"variables[{i}] has an empty name")
        elif v.name in seen:
            problems.append(f"duplicate variable name {short_repr(v.name)}")
        elif problem := _name_problem(v.name):
            problems.append(f"variables[{i}] name {problem}")
        seen.add(v.name)
        if not v.description:
            problems.append(f"variable {_label(v.name or i)} has an empty description")
        elif problem := _text_problem(v.description):
            problems.append(f"variable {_label(v.name or i)}: description {problem}")
    if spec.edges is not None:
        for u, v in spec.edges:
            for end in (u, v):
                if end not in seen:
                    problems.append(f"edge {_label(u)} -> {_label(v)} names unknown variable {short_repr(end)}")
            if u == v:
                problems.append(f"self-loop {_label(u)} -> {_label(v)}")
        if len(set(spec.edges)) != len(spec.edges):
            problems.append("duplicate edges")
        if not problems:
            graph = nx.DiGraph(list(spec.edges))
            try:
                cycle = [u for u, _ in nx.find_cycle(graph)]
                shown = cycle if len(cycle) <= 6 else cycle[:5] + ["..."]
                path = " -> ".join([_label(u) for u in shown] + [_label(cycle[0])])
                problems.append(f"the true graph must be acyclic, found cycle {path}")
            except nx.NetworkXNoCycle:
                pass
    if spec.knowledge:
        problems += spec.knowledge.problems(spec.names)
    return problems


def _name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a graph or a variable, or None."""
    if not name.strip():
        return "is empty"
    if len(name) > MAX_NAME_CHARS:
        return f"{short_repr(name)} is {len(name):,} characters long (at most {MAX_NAME_CHARS})"
    if not name.isprintable():
        bad = next(ch for ch in name if not ch.isprintable())
        return f"{short_repr(name)} contains the non-printable character {bad!r}"
    return None


def _text_problem(text: str) -> str | None:
    """Why ``text`` cannot be a description or the context, or None."""
    if len(text) > MAX_TEXT_CHARS:
        return f"is {len(text):,} characters long (at most {MAX_TEXT_CHARS:,})"
    bad = _FORBIDDEN_IN_TEXT.search(text)
    if bad:
        kind = "lone surrogate" if "\ud800" <= bad.group() <= "\udfff" else "control or invisible character"
        return f"contains the {kind} {bad.group()!r} at position {bad.start()}"
    return None


def _label(name: Any) -> str:
    """A name as written when it is short and printable (``a -> b``), else its short repr."""
    return name if isinstance(name, str) and name.isprintable() and len(name) <= SHOWN_CHARS else short_repr(name)


def _where(source: str) -> str:
    return f" in {source}" if source else ""


def _kind(value: Any) -> str:
    return type(value).__name__
