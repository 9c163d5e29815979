"""Reproduction: response curves of attribute scores to the interpolation sliders.

For each attribute i, alpha_i is swept over -1 .. 2 with the other attributes at alpha = 0.5 and
lambda equal (1/3 each: the product's default mix); SmolLM2 with the anchors of ``--anchors-seed``
answers the neutral prompt for each held-out topic (:data:`TEST_TOPICS`), sampled with several
seeds; every reply is scored by every scorer. One cell per (attribute, alpha, seed); each reply
is a row (step = prompt index).

Report: per slider, the mean score of every scorer against alpha, whether it is monotone
(Spearman's rho of the mean curve) and near-linear (R^2 of a straight-line fit), and the
entanglement matrix: the change in each scorer's score per unit of each slider, in units of that
scorer's standard deviation over all replies (so that the rows are comparable).

Run: ``python -m discolab.experiments.interp_eval [--seeds 3] [--anchors-seed 0]`` (trains the
anchors first if the data directory has none: about 15 minutes).
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from discolab.core.interp.anchors import TEST_TOPICS, train_anchors
from discolab.core.interp.interpolate import slider_model, topic_prompt
from discolab.core.interp.scorers import ATTRIBUTES, SCORERS, normalized, score_all
from discolab.core.paths import data_path
from discolab.core.runs import RunsDB
from discolab.experiments.sweep import Sweep, add_sweep_arguments, grid_configs, run_sweep

ALPHAS = (-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0)
EXPERIMENT = "interp-response"


def response_cell(config: dict, seed: int) -> list[dict]:
    """Generate at one slider setting for every held-out topic; a row per reply and scorer."""
    model = slider_model(config["anchors_seed"])
    alphas = {a: 0.5 for a in model.attributes} | {config["attribute"]: config["alpha"]}
    model.set(alphas, {a: 1.0 for a in model.attributes})
    replies = model.generate([topic_prompt(t) for t in TEST_TOPICS], max_new_tokens=config["max_new_tokens"], seed=seed)
    scores = score_all(replies)
    return [
        {"metric": key, "value": float(values[k]), "step": k}
        for key, values in scores.items()
        for k in range(len(replies))
    ]


def sweep(seeds: list[int], anchors_seed: int, max_new_tokens: int = 60) -> Sweep:
    configs = grid_configs(
        {"attribute": list(ATTRIBUTES), "alpha": list(ALPHAS)}, anchors_seed=anchors_seed, max_new_tokens=max_new_tokens
    )
    return Sweep(EXPERIMENT, response_cell, configs, seeds, setting_keys=["attribute", "alpha", "anchors_seed"])


def analyse(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(mean score per slider / alpha / scorer, curve shape per slider and scorer, entanglement)."""
    from scipy.stats import spearmanr

    scorers = [f"{a}/{s}" for a in ATTRIBUTES for s in SCORERS[a]]
    means = table.groupby(["attribute", "alpha"])[scorers].mean()
    spread = table[scorers].std()
    shape, slopes = [], {}
    for attribute in ATTRIBUTES:
        part = table[table["attribute"] == attribute]
        if part.empty:
            continue
        curve = means.loc[attribute]
        slopes[attribute] = {}
        for scorer in scorers:
            slope, intercept = np.polyfit(part["alpha"], part[scorer], 1)
            slopes[attribute][scorer] = slope / spread[scorer] if spread[scorer] > 0 else 0.0
            fitted = slope * curve.index.to_numpy() + intercept
            residual = ((curve[scorer] - fitted) ** 2).sum()
            total = ((curve[scorer] - curve[scorer].mean()) ** 2).sum()
            shape.append(
                {
                    "slider": attribute,
                    "scorer": scorer,
                    "own": scorer.startswith(attribute + "/"),
                    "spearman_rho": float(spearmanr(curve.index, curve[scorer]).statistic),
                    "r2_linear": float(1 - residual / total) if total > 0 else float("nan"),
                    "change_per_alpha_sd": slopes[attribute][scorer],
                }
            )
    entanglement = pd.DataFrame(slopes).T.rename_axis("slider")
    return means, pd.DataFrame(shape), entanglement


def plot(means: pd.DataFrame, path) -> None:
    """A panel per slider: every scorer's mean (mapped to 0 .. 1) against alpha."""
    from matplotlib.figure import Figure

    sliders = list(dict.fromkeys(means.index.get_level_values(0)))
    fig = Figure(figsize=(4.5 * len(sliders), 3.6))
    axes = fig.subplots(1, len(sliders), squeeze=False)[0]
    for ax, slider in zip(axes, sliders):
        curve = means.loc[slider]
        for scorer in curve.columns:
            values = [normalized(scorer, v) for v in curve[scorer]]
            own = scorer.startswith(slider + "/")
            ax.plot(curve.index, values, marker="o", linewidth=2.5 if own else 1, alpha=1 if own else 0.5, label=scorer)
        ax.set_title(f"slider: {slider}")
        ax.set_xlabel("alpha")
        ax.set_ylabel("score (0 = low pole, 1 = high pole)")
        ax.set_ylim(0, 1)
    axes[0].legend(fontsize=7)
    fig.suptitle("Attribute scores against each slider (others at 0.5, lambda equal); mean over prompts and seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def report(db: RunsDB) -> str:
    table = db.wide(EXPERIMENT)
    means, shape, entanglement = analyse(table)
    path = data_path("results", "interp_response.png")
    plot(means, path)
    seeds = table.groupby(["attribute", "alpha"])["seed"].nunique().min()
    lines = [
        f"{len(table)} replies ({len(TEST_TOPICS)} prompts x {seeds} seeds per slider setting)",
        "",
        "Mean score per slider setting:",
        "",
        means.round(3).to_markdown(),
        "",
        "Curve shape (own = the slider's own attribute):",
        "",
        shape.round(3).to_markdown(index=False),
        "",
        "Entanglement: change per unit alpha, in standard deviations of the scorer (rows: slider):",
        "",
        entanglement.round(3).to_markdown(),
        "",
        f"plot: {path}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="sampling seeds per slider setting")
    parser.add_argument("--anchors-seed", type=int, default=0)
    parser.add_argument("--report-only", action="store_true")
    add_sweep_arguments(parser)
    args = parser.parse_args(argv)
    db = RunsDB(args.db)
    if not args.report_only:
        train_anchors(args.anchors_seed, progress=print)
        print(
            run_sweep(
                sweep(list(range(args.seeds)), args.anchors_seed), db, args.executor, args.workers, args.address
            ).line()
        )
    print(report(db))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
