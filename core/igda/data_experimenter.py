"""Experiments answered from the user's interventional data (``--experimenter data:FILE``).

The table has a column per variable and a column ``intervention``: in each row, the name of the
variable the experimenter set, or empty for an observational row. Write ``moves(x)`` for the
variables whose distribution differs between the rows where x was set and the observational rows
(a two-sample test that fits the variable's type: chi-square test of homogeneity for a discrete
one, Kolmogorov-Smirnov for a continuous one, at level ``alpha``). Under faithfulness, moves(x)
is the set of x's *descendants* (Eberhardt & Scheines 2007).

An experiment on u -> v is answered in two steps.

1. **A causal path.** v in moves(u) says that u is an ancestor of v (u ~> v). A "no" is final:
   without a path there is no edge.
2. **A direct edge, where the data allow it.** Setting u is a regime indicator R (1 in the rows
   where u was set, 0 in the observational rows) whose only child is u. For any set S of
   non-descendants of v that holds v's parents other than u, the local Markov property gives
   R _||_ v | S exactly when u is not a parent of v: the paths R -> u -> w -> v through mediators
   are blocked at w in S, and nothing in S is a descendant of v that could open a collider
   (Pearl 2009, sec. 3.2.2; Spirtes et al. 2000, ch. 7). So S is every other variable that is
   *known* not to descend from v: one that setting u does not move (descendants of v descend
   from u), one whose own intervention moves v (an ancestor of v), or, when v itself was set,
   one that setting v does not move. When every other variable is known either way, the answer
   is this conditional test (causal-learn's Fisher z for all-continuous data, else chi-square
   with continuous columns in quantile bins, as for the data priors) on the observational rows
   and the rows where u was set. When some variable moved by u is of unknown standing (neither
   it nor v was set), the answer stays the path of step 1, and :meth:`DataExperimenter.reach`
   says so: a "yes" for u -> v can then stand for u -> w -> v.

A pair whose cause was never intervened on cannot be tested: the loop never selects it, and the
run's output says how many such pairs there are and how many are answered as direct edges.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import DiscolabError
from ..graphs import Edge, GraphSpec
from .observations import MIN_ROWS, Observations, column_kind, read_table

INTERVENTION = "intervention"


@dataclass(frozen=True)
class DataExperimenter:
    """Answers u -> v from the rows where u was set against the observational rows."""

    observational: pd.DataFrame
    intervened: dict[str, pd.DataFrame]  # variable -> the rows where it was set
    kinds: dict[str, str]
    source: str
    digest: str
    alpha: float = 0.01
    _moves: dict[str, frozenset[str]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def label(self) -> str:
        return f"data:{self.source}"

    def testable(self, edge: Edge) -> bool:
        return edge[0] in self.intervened

    def moves(self, x: str) -> frozenset[str]:
        """The variables whose distribution changes when ``x`` is set: x's descendants."""
        if x not in self._moves:
            rows = self.intervened[x]
            self._moves[x] = frozenset(
                w
                for w in self.observational.columns
                if w != x and two_sample_pvalue(rows[w], self.observational[w], self.kinds[w]) < self.alpha
            )
        return self._moves[x]

    def conditioning_set(self, edge: Edge) -> list[str] | None:
        """Every other variable known not to descend from v (the module's docstring, step 2), or
        None when one variable's standing is unknown and only the path can be answered."""
        u, v = edge
        chosen = []
        for w in self.observational.columns:
            if w in edge:
                continue
            if v in self.intervened and w in self.moves(v):
                continue  # a descendant of v: never conditioned on
            if w not in self.moves(u) or (w in self.intervened and v in self.moves(w)) or v in self.intervened:
                chosen.append(w)
            else:
                return None
        return chosen

    def reach(self, edge: Edge) -> str:
        """What a "yes" for ``edge`` means: "direct edge" or "causal path"."""
        return "causal path" if self.conditioning_set(edge) is None else "direct edge"

    def describe(self, pairs: list[Edge]) -> str:
        testable = [edge for edge in pairs if self.testable(edge)]
        direct = sum(self.reach(edge) == "direct edge" for edge in testable)
        return (
            f"{len(self.intervened)} variables intervened on; {len(pairs) - len(testable)} pairs cannot be tested; "
            f"{direct} of {len(testable)} testable pairs answered as direct edges, the rest as causal paths"
        )

    def answer(self, edge: Edge) -> bool:
        u, v = edge
        if u not in self.intervened:
            raise DiscolabError(f"no row of {self.source} intervenes on {u!r}: {u} -> {v} cannot be tested")
        if v not in self.moves(u):
            return False
        context = self.conditioning_set(edge)
        if context is None:
            return True
        return regime_pvalue(self.observational, self.intervened[u], v, context, self.kinds) < self.alpha


def regime_pvalue(control: pd.DataFrame, treated: pd.DataFrame, v: str, context: list[str], kinds) -> float:
    """p-value of R _||_ v | context, R the indicator of the treated rows, over both groups of rows."""
    from causallearn.utils.cit import CIT

    frame = pd.concat([control[[v, *context]], treated[[v, *context]]], ignore_index=True)
    frame[INTERVENTION] = np.r_[np.zeros(len(control)), np.ones(len(treated))]  # never a variable's name
    continuous = all(kinds[name] == "continuous" for name in (v, *context))
    types = {name: kinds[name] for name in (v, *context)} | {INTERVENTION: "continuous" if continuous else "discrete"}
    test = CIT(Observations(frame, types, "", "").matrix(), "fisherz" if continuous else "chisq")
    return float(test(len(context) + 1, 0, list(range(1, 1 + len(context)))))


def two_sample_pvalue(treated: pd.Series, control: pd.Series, kind: str) -> float:
    """p-value of "v is distributed alike in both groups" for a discrete or continuous v."""
    from scipy.stats import chi2_contingency, ks_2samp

    if kind == "continuous":
        return float(ks_2samp(treated.to_numpy(float), control.to_numpy(float)).pvalue)
    table = pd.crosstab(
        np.r_[np.ones(len(treated)), np.zeros(len(control))], pd.concat([treated, control]).astype(str).to_numpy()
    )
    if table.shape[1] < 2:
        return 1.0  # v took one value throughout: no evidence of a change
    return float(chi2_contingency(table.to_numpy()).pvalue)


def load_interventions(path: str, spec: GraphSpec, alpha: float = 0.01) -> DataExperimenter:
    """The interventional table at ``path`` for ``spec``'s variables (rules in the module docstring)."""
    frame, digest = read_table(path)
    problems = []
    if INTERVENTION not in frame.columns:
        problems.append(f"no column {INTERVENTION!r} naming the variable set in each row (empty: observational)")
    missing = [n for n in spec.names if n not in frame.columns]
    if missing:
        problems.append(f"no column for variable(s) {', '.join(map(repr, missing[:5]))}")
    if problems:
        raise DiscolabError(f"interventional data {path}: " + "; ".join(problems))
    column = frame[INTERVENTION]  # all empty reads as floats (NaN)
    target = column.astype(object).where(column.notna(), "").astype(str).str.strip()
    unknown = sorted(set(target) - set(spec.names) - {""})
    if unknown:
        names = ", ".join(map(repr, unknown[:5]))
        raise DiscolabError(f"interventional data {path}: {INTERVENTION!r} names unknown variable(s) {names}")
    values = frame[spec.names]
    observational = values[target == ""].dropna()
    if len(observational) < MIN_ROWS:
        raise DiscolabError(
            f"interventional data {path}: {len(observational)} complete observational rows "
            f"(empty {INTERVENTION!r}); at least {MIN_ROWS} are needed to compare against"
        )
    intervened = {name: values[target == name].dropna() for name in spec.names if (target == name).any()}
    if not intervened:
        raise DiscolabError(
            f"interventional data {path}: no row intervenes on a variable (every {INTERVENTION!r} is empty), "
            "so no experiment can be answered"
        )
    thin = [name for name, rows in intervened.items() if len(rows) < MIN_ROWS]
    if thin:
        names = ", ".join(map(repr, thin[:5]))
        raise DiscolabError(f"interventional data {path}: fewer than {MIN_ROWS} complete rows intervene on {names}")
    kinds = {name: column_kind(values[name].dropna()) for name in spec.names}
    return DataExperimenter(observational, intervened, kinds, str(path), digest, alpha)
