"""Background knowledge about a problem: edges known present or absent, and tiers of time order.

In a graph file::

    "knowledge": {
      "required": [["smoking", "tar"]],
      "forbidden": [["cough", "smoking"]],
      "tiers": [["smoking"], ["tar", "cancer"], ["cough"]]
    }

A variable in a later tier cannot cause one in an earlier tier (so those pairs are forbidden);
variables not in any tier are unconstrained. Every pair the knowledge decides is *known*: the
LLM is not asked about it, its belief is fixed at 1 or 0 from the prior on, no experiment is
spent on it, and the predicted graph holds it as known.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import networkx as nx

from ..errors import short_repr

Edge = tuple[str, str]


@dataclass(frozen=True)
class Knowledge:
    required: tuple[Edge, ...] = ()
    forbidden: tuple[Edge, ...] = ()
    tiers: tuple[tuple[str, ...], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.required or self.forbidden or self.tiers)

    def tier_of(self) -> dict[str, int]:
        return {name: i for i, tier in enumerate(self.tiers) for name in tier}

    def known(self, names: list[str]) -> dict[Edge, bool]:
        """Every ordered pair the knowledge decides: True if required, False if forbidden (named,
        or from a later tier to an earlier one)."""
        tier = self.tier_of()
        decided = {
            (u, v): False for u in names for v in names if u != v and u in tier and v in tier and tier[u] > tier[v]
        }
        decided.update(dict.fromkeys(self.forbidden, False))
        decided.update(dict.fromkeys(self.required, True))
        return decided

    def problems(self, names: list[str]) -> list[str]:
        """What makes this knowledge impossible for these variables."""
        known = set(names)
        problems = []
        for kind, edges in (("required", self.required), ("forbidden", self.forbidden)):
            for u, v in edges:
                for end in (u, v):
                    if end not in known:
                        problems.append(f"knowledge: {kind} edge {u} -> {v} names unknown variable {short_repr(end)}")
                if u == v:
                    problems.append(f"knowledge: {kind} edge {u} -> {v} is a self-loop")
        for u, v in sorted(set(self.required) & set(self.forbidden)):
            problems.append(f"knowledge: {u} -> {v} is both required and forbidden")
        seen: dict[str, int] = {}
        for i, tier in enumerate(self.tiers):
            for name in tier:
                if name not in known:
                    problems.append(f"knowledge: tier {i + 1} names unknown variable {short_repr(name)}")
                elif name in seen:
                    problems.append(f"knowledge: {name!r} is in tiers {seen[name] + 1} and {i + 1}")
                seen.setdefault(name, i)
        tier = self.tier_of()
        for u, v in self.required:
            if u in tier and v in tier and tier[u] > tier[v]:
                problems.append(
                    f"knowledge: required {u} -> {v} goes from tier {tier[u] + 1} back to tier {tier[v] + 1}"
                )
        try:
            cycle = nx.find_cycle(nx.DiGraph(list(self.required)))
            problems.append(
                "knowledge: the required edges form a cycle " + " -> ".join([u for u, _ in cycle] + [cycle[0][0]])
            )
        except nx.NetworkXNoCycle:
            pass
        return problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "required": [list(e) for e in self.required],
            "forbidden": [list(e) for e in self.forbidden],
            "tiers": [list(t) for t in self.tiers],
        }


def knowledge_from_dict(raw: Any, problems: list[str]) -> Knowledge | None:
    """A graph file's ``knowledge``; malformed parts are added to ``problems``."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) - {"required", "forbidden", "tiers"}:
        problems.append("'knowledge' must be an object with 'required', 'forbidden' and 'tiers' only")
        return None
    edges = {}
    for kind in ("required", "forbidden"):
        items = raw.get(kind, [])
        ok = isinstance(items, list) and all(
            isinstance(e, list) and len(e) == 2 and all(isinstance(x, str) for x in e) for e in items
        )
        if not ok:
            problems.append(f"knowledge: '{kind}' must be a list of [cause, effect] pairs of names")
            items = []
        edges[kind] = tuple(dict.fromkeys((e[0].strip(), e[1].strip()) for e in items))
    tiers = raw.get("tiers", [])
    if not (isinstance(tiers, list) and all(isinstance(t, list) and all(isinstance(x, str) for x in t) for t in tiers)):
        problems.append("knowledge: 'tiers' must be a list of lists of names, earliest first")
        tiers = []
    return Knowledge(edges["required"], edges["forbidden"], tuple(tuple(x.strip() for x in t) for t in tiers))
