"""The distributional analysis of one result table: per setting, across seeds, and along scale.

``analyze(frame, scale="size", metric="accuracy")`` takes one row per run (a setting/scale
column, a seed column, a metric column) and returns a :class:`ScalingReport`:

- per setting: the values across seeds, the bimodality statistics (:mod:`.distribution`),
  P(success) with its Wilson interval, and the mean and spread of the successful runs;
- along scale (when the scale is numeric and positive): the logistic fit of success against log
  scale, and the sharpness (:mod:`.sharpness`) of the seed-averaged curve, of the P(success)
  curve and of each seed's own curve.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import DiscolabError, short_repr
from .distribution import bimodality
from .sharpness import breakthroughness, linearity
from .success import logistic_fit, success_mask, wilson_interval

SUCCESS_RULES = ("threshold", "mixture")


@dataclass
class ScalingReport:
    scale: str
    metric: str
    success_rule: str
    threshold: float | None
    settings: pd.DataFrame  # one row per setting
    runs: pd.DataFrame  # scale, seed, value, success: one row per run
    logistic: dict = field(default_factory=dict)
    sharpness: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        records = []
        for row in self.settings.to_dict(orient="records"):
            row["p_success_ci"] = [row.pop("ci_low"), row.pop("ci_high")]
            records.append({k: _plain(v) for k, v in row.items()})
        return {
            "scale": self.scale,
            "metric": self.metric,
            "success": {"rule": self.success_rule, "threshold": self.threshold},
            "settings": records,
            "logistic": {k: _plain(v) for k, v in self.logistic.items()},
            "sharpness": {k: _plain(v) for k, v in self.sharpness.items()},
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)


def _plain(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def analyze(
    frame: pd.DataFrame,
    scale: str,
    metric: str,
    seed: str = "seed",
    threshold: float | None = None,
    success: str | None = None,
    alpha: float = 0.05,
) -> ScalingReport:
    """The distributional analysis of ``metric`` across ``seed`` per value of ``scale``.

    ``success`` is ``"threshold"`` (needs ``threshold``) or ``"mixture"`` (the default when no
    threshold is given): the high component of a 2-component mixture fitted to all runs.
    """
    check_columns(frame, scale=scale, metric=metric, seed=seed)
    success = success or ("threshold" if threshold is not None else "mixture")
    if success not in SUCCESS_RULES:
        raise DiscolabError(f"unknown success rule {success!r}; choose threshold or mixture")
    if success == "threshold" and threshold is None:
        raise DiscolabError("success by threshold needs --threshold")
    if threshold is not None:
        threshold = finite_threshold(threshold)
    runs = frame[[scale, seed, metric]].rename(columns={scale: "scale", seed: "seed", metric: "value"})
    runs["value"] = numeric_values(runs["value"], metric)
    runs = runs.dropna(subset=["scale", "seed", "value"])  # runs without the metric, or not placed on the scale
    if runs.empty:
        raise DiscolabError(f"no values of {metric!r} to analyse")
    if runs.duplicated(["scale", "seed"]).any():
        raise DiscolabError(
            f"several rows per ({scale}, {seed}): filter the table to one value per run (e.g. one step or graph)"
        )
    runs = runs.sort_values(["scale", "seed"]).reset_index(drop=True)
    runs["success"] = success_mask(runs["value"], threshold if success == "threshold" else None)

    rows = []
    for value, part in runs.groupby("scale", sort=True):
        stats = bimodality(part["value"], alpha=alpha)
        wins = part.loc[part["success"], "value"]
        low, high = wilson_interval(int(part["success"].sum()), len(part))
        rows.append(
            {
                "setting": value,
                **stats,
                "p_success": float(part["success"].mean()),
                "ci_low": low,
                "ci_high": high,
                "mean_success": float(wins.mean()) if len(wins) else math.nan,
                "std_success": float(wins.std(ddof=1)) if len(wins) > 1 else math.nan,
            }
        )
    settings = pd.DataFrame(rows)
    report = ScalingReport(scale, metric, success, threshold, settings, runs)
    if pd.api.types.is_numeric_dtype(runs["scale"]) and len(settings) >= 3:
        report.sharpness = curve_sharpness(runs, settings)
        if (runs["scale"] > 0).all():  # the logistic fit is against log scale
            report.logistic = logistic_fit(runs["scale"], runs["success"])
    return report


def select_rows(frame: pd.DataFrame, where: dict[str, str] | None = None, step: str | int = "last") -> pd.DataFrame:
    """Rows of a runs-database table (``RunsDB.wide``) to analyse: those matching ``where``
    (column = value, compared as text), at one ``step`` of each run's trajectory (``"last"``:
    each run's final step; ``"all"``: every step, for the step itself as the scale; a number:
    that step, which needs a ``step`` column). A table without a ``step`` column is one row per
    run already, and ``"last"`` keeps it as it is."""
    step = parse_step(step)
    for column, value in (where or {}).items():
        if column not in frame.columns:
            raise DiscolabError(f"no column {column!r} to filter on; the table has: {column_list(frame)}")
        frame = frame[frame[column].astype(str) == str(value)]
    if frame.empty:
        raise DiscolabError(f"no rows match {where}")
    if step == "all" or ("step" not in frame.columns and step == "last"):
        return frame
    if "step" not in frame.columns:
        raise DiscolabError(f"the table has no 'step' column to pick step {step} from")
    if step == "last":
        run = ["config_hash", "seed"]  # what tells one run's trajectory from another's
        if not set(run) <= set(frame.columns):
            raise DiscolabError(
                "taking each run's last step needs config_hash and seed columns; give a step number or all"
            )
        last = frame.groupby(run)["step"].transform("max")
        return frame[frame["step"] == last]
    steps = pd.to_numeric(frame["step"], errors="coerce")
    picked = frame[steps == step]
    if picked.empty:
        raise DiscolabError(f"no rows at step {step}; the table's steps run from {steps.min():g} to {steps.max():g}")
    return picked


def parse_step(step: str | int) -> str | int:
    """``"last"``, ``"all"`` or a step number (an int, or a string of digits), else an error."""
    if step in ("last", "all"):
        return step
    if isinstance(step, int) and not isinstance(step, bool) and step >= 0:
        return step
    if isinstance(step, str) and re.fullmatch(r"[0-9]{1,18}", step.strip()):
        return int(step)
    raise DiscolabError(f"step must be last, all or a step number, got {short_repr(step)}")


def check_columns(frame: pd.DataFrame, **columns: str) -> None:
    """Each role's column (``scale="size"``, ...) exists, and no two roles share a column."""
    missing = [str(c) for c in columns.values() if c not in frame.columns]
    if missing:
        raise DiscolabError(f"column(s) {', '.join(missing)} not in the table; it has: {column_list(frame)}")
    for role, column in columns.items():
        shared = [other for other, c in columns.items() if c == column and other != role]
        if shared:
            raise DiscolabError(
                f"the {role} and {shared[0]} columns are both {column!r}: each run needs its own value of each"
            )


def numeric_values(values: pd.Series, column: str) -> pd.Series:
    """The column as floats (missing values stay NaN); text or infinite values are errors."""
    try:
        numbers = pd.to_numeric(values, errors="coerce").astype(float)
    except (TypeError, ValueError):  # e.g. lists or dicts in the column
        numbers = pd.Series(math.nan, index=values.index)
    text = values[numbers.isna() & values.notna()]
    if len(text):
        raise DiscolabError(
            f"column {column!r} must hold numbers, but {len(text)} value(s) do not, e.g. {short_repr(text.iloc[0])}"
        )
    infinite = int(np.isinf(numbers).sum())
    if infinite:
        raise DiscolabError(f"column {column!r} holds {infinite} infinite value(s): fix or remove those runs")
    return numbers


def finite_threshold(threshold) -> float:
    """The success threshold as a float; NaN would make every run a failure, +-inf all the same."""
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value):
        raise DiscolabError(f"the success threshold must be a finite number, got {short_repr(threshold)}")
    return value


def column_list(frame: pd.DataFrame, shown: int = 20) -> str:
    """The table's column names, the first ``shown`` of them and how many more."""
    names = [str(c) for c in frame.columns]
    more = f", and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def curve_sharpness(runs: pd.DataFrame, settings: pd.DataFrame) -> dict:
    """Breakthroughness and linearity of the mean curve, the P(success) curve and each seed's curve."""
    per_seed = runs.pivot(index="seed", columns="scale", values="value").dropna()
    seed_b = [breakthroughness(curve) for curve in per_seed.to_numpy()]
    seed_l = [linearity(curve) for curve in per_seed.to_numpy()]
    return {
        "mean_breakthroughness": breakthroughness(settings["mean"]),
        "mean_linearity": linearity(settings["mean"]),
        "p_success_breakthroughness": breakthroughness(settings["p_success"]),
        "p_success_linearity": linearity(settings["p_success"]),
        "seed_breakthroughness_median": float(np.median(seed_b)) if seed_b else math.nan,
        "seed_linearity_median": float(np.median(seed_l)) if seed_l else math.nan,
        "seeds_with_full_curve": len(per_seed),
    }
