"""Experiments answered from the user's interventional data (``--experimenter data:FILE``).

The table has a column per variable and a column ``intervention``: in each row, the name of the
variable the experimenter set, or empty for an observational row. An experiment on u -> v is
answered by comparing v where u was intervened on with v in the observational rows: a
two-sample test that fits v's type (chi-square test of homogeneity for a discrete v,
Kolmogorov-Smirnov for a continuous one) at level ``alpha``; a difference means yes.

What this answers: setting u changes v exactly when u is an *ancestor* of v (a directed path
u ~> v), not only when u -> v is a direct edge; the table cannot separate the two, since a
direct effect needs the other parents of v held fixed, and a row sets one variable only. So a
"yes" for u -> v can stand for u -> w -> v. Where the data allows, test the pairs in an order
that lets the loop tell them apart: the structural update caps the edges that would close a
cycle with what was confirmed, and a person can still answer the remaining ambiguous pairs with
``--experimenter human``. A pair whose cause was never intervened on cannot be tested: the loop
never selects it, and the run's output says how many such pairs there are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import DiscolabError
from ..graphs import Edge, GraphSpec
from .observations import MIN_ROWS, column_kind, read_table

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

    @property
    def label(self) -> str:
        return f"data:{self.source}"

    def testable(self, edge: Edge) -> bool:
        return edge[0] in self.intervened

    def answer(self, edge: Edge) -> bool:
        u, v = edge
        if u not in self.intervened:
            raise DiscolabError(f"no row of {self.source} intervenes on {u!r}: {u} -> {v} cannot be tested")
        return bool(two_sample_pvalue(self.intervened[u][v], self.observational[v], self.kinds[v]) < self.alpha)


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
    target = frame[INTERVENTION].fillna("").astype(str).str.strip()
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
    thin = [name for name, rows in intervened.items() if len(rows) < MIN_ROWS]
    if thin:
        names = ", ".join(map(repr, thin[:5]))
        raise DiscolabError(f"interventional data {path}: fewer than {MIN_ROWS} complete rows intervene on {names}")
    kinds = {name: column_kind(values[name].dropna()) for name in spec.names}
    return DataExperimenter(observational, intervened, kinds, str(path), digest, alpha)
