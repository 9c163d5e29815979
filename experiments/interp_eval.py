"""Reproduction: response curves of attribute scores to the interpolation sliders.

Three studies, one sweep (``interp-response``), every reply a row (step = prompt index) scored by
every scorer and by its fluency (``perplexity``: under the base model, as the answer to the neutral
prompt for its topic):

- ``alpha``: for each attribute i, alpha_i is swept over -1 .. 2 with the other attributes at
  alpha = 0.5 and lambda equal (1/3 each: the product's default mix);
- ``lambda``: for each attribute, its weight lambda_i over :data:`LAMBDAS` at alpha_i = 1 (its
  high pole), the others at alpha 0.5 sharing the rest of the simplex equally;
- ``instruct``: the baseline of simply instructing the base model (no adapters) to write at each
  pole (the anchors' own pole instructions), and the neutral instruction.

SmolLM2 answers the neutral prompt for each held-out topic (:data:`TEST_TOPICS`), sampled with
several seeds, with the anchors of each of ``--anchors-seeds`` (anchors trained from different
seeds: different corpora, initialisations and batches).

The anchors' corpora were filtered by the lexicon / formula scorers (VADER, the formality lexicon,
Flesch), so those scorers are not independent judges of the sliders. The independent scorer is
``minilm``, trained on a separate labelled set (``core/interp/data/labelled_eval.json``); the
report leads with it.

Report: per slider, the mean score of every scorer against alpha, whether it is monotone
(Spearman's rho of the mean curve, per anchors seed too) and near-linear (R^2 of a straight-line
fit), and the entanglement matrix (the change in each scorer's score per unit of each slider, in
units of that scorer's standard deviation over all replies); the sliders against instructing the
base model; lambda's effect; fluency at each alpha, extrapolation included.

Run: ``python -m discolab.experiments.interp_eval [--seeds 3] [--anchors-seeds 0 1]`` (trains the
anchors first where the data directory has none: about 15 minutes per seed).
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from discolab.core.interp.anchors import TEST_TOPICS, pole_prompt, train_anchors
from discolab.core.interp.interpolate import slider_model, topic_prompt
from discolab.core.interp.scorers import ATTRIBUTES, SCORERS, normalized, score_all
from discolab.core.paths import data_path
from discolab.core.runs import RunsDB
from discolab.experiments.sweep import Sweep, add_sweep_arguments, run_sweep

ALPHAS = (-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0)
LAMBDAS = (0.1, 1 / 3, 0.6, 1.0)
EXPERIMENT = "interp-response"
INDEPENDENT = "minilm"


def cell_sliders(config: dict) -> tuple[dict[str, float], dict[str, float]]:
    """The (alphas, lambdas) of an ``alpha`` or ``lambda`` cell."""
    attribute = config["attribute"]
    if config["study"] == "alpha":
        return {a: 0.5 for a in ATTRIBUTES} | {attribute: config["alpha"]}, {a: 1.0 for a in ATTRIBUTES}
    others = [a for a in ATTRIBUTES if a != attribute]
    rest = (1.0 - config["lambda"]) / len(others)
    return {a: 0.5 for a in ATTRIBUTES} | {attribute: 1.0}, {attribute: config["lambda"]} | {a: rest for a in others}


def response_cell(config: dict, seed: int) -> list[dict]:
    """Generate for every held-out topic at one setting; a row per reply and scorer, and its perplexity."""
    model = slider_model(config["anchors_seed"])
    neutral = [topic_prompt(t) for t in TEST_TOPICS]
    if config["study"] == "instruct":
        if config["pole"] == "neutral":
            prompts = neutral
        else:
            prompts = [pole_prompt(config["attribute"], config["pole"], t)[0]["content"] for t in TEST_TOPICS]
        replies = model.generate(prompts, max_new_tokens=config["max_new_tokens"], seed=seed, adapters=False)
    else:
        model.set(*cell_sliders(config))
        replies = model.generate(neutral, max_new_tokens=config["max_new_tokens"], seed=seed)
    scores = score_all(replies) | {"perplexity": np.array(model.base_perplexity(neutral, replies))}
    return [
        {"metric": key, "value": float(values[k]), "step": k}
        for key, values in scores.items()
        for k in range(len(replies))
    ]


def configs(anchors_seeds: list[int], max_new_tokens: int = 60) -> list[dict]:
    out = []
    for anchors_seed in anchors_seeds:
        common = {"anchors_seed": anchors_seed, "max_new_tokens": max_new_tokens}
        for attribute, poles in ATTRIBUTES.items():
            out += [{"study": "alpha", "attribute": attribute, "alpha": a, **common} for a in ALPHAS]
            out += [{"study": "lambda", "attribute": attribute, "lambda": w, **common} for w in LAMBDAS]
            if anchors_seed == anchors_seeds[0]:  # the base model has no anchors: once is enough
                out += [{"study": "instruct", "attribute": attribute, "pole": p, **common} for p in poles]
        if anchors_seed == anchors_seeds[0]:
            out.append({"study": "instruct", "attribute": "none", "pole": "neutral", **common})
    return out


def sweep(seeds: list[int], anchors_seeds: list[int], max_new_tokens: int = 60) -> Sweep:
    keys = ["study", "attribute", "alpha", "lambda", "pole", "anchors_seed"]
    return Sweep(EXPERIMENT, response_cell, configs(anchors_seeds, max_new_tokens), seeds, setting_keys=keys)


def scorer_columns() -> list[str]:
    return [f"{a}/{s}" for a in ATTRIBUTES for s in SCORERS[a]]


def analyse(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Of the ``alpha`` study's rows: (mean score per slider / alpha / scorer, curve shape per
    slider and scorer, entanglement)."""
    from scipy.stats import spearmanr

    scorers = scorer_columns()
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


def per_anchor_seed(table: pd.DataFrame) -> pd.DataFrame:
    """Spearman's rho of each slider's own mean curve, per anchors seed and own scorer."""
    from scipy.stats import spearmanr

    rows = []
    for (seed, attribute), part in table.groupby(["anchors_seed", "attribute"]):
        curve = part.groupby("alpha")[[f"{attribute}/{s}" for s in SCORERS[attribute]]].mean()
        rows.append(
            {"anchors seed": int(seed), "slider": attribute}
            | {f"rho {c}": float(spearmanr(curve.index, curve[c]).statistic) for c in curve.columns}
        )
    return pd.DataFrame(rows)


def against_instructing(alpha: pd.DataFrame, instruct: pd.DataFrame) -> pd.DataFrame:
    """Per attribute: the own attribute's scores (independent scorer first) and the median
    perplexity, for the base model instructed at each pole or neutrally, and for the slider at
    alpha 0, 1 and the extrapolated -1 and 2."""
    rows = []
    for attribute, (high, low) in ATTRIBUTES.items():
        own = [f"{attribute}/{INDEPENDENT}", *(f"{attribute}/{s}" for s in SCORERS[attribute] if s != INDEPENDENT)]
        settings = [
            (f"instruct {low}", instruct[(instruct["attribute"] == attribute) & (instruct["pole"] == low)]),
            ("instruct neutral", instruct[instruct["pole"] == "neutral"]),
            (f"instruct {high}", instruct[(instruct["attribute"] == attribute) & (instruct["pole"] == high)]),
        ]
        settings += [
            (f"slider alpha {a:g}", alpha[(alpha["attribute"] == attribute) & (alpha["alpha"] == a)])
            for a in (-1.0, 0.0, 1.0, 2.0)
        ]
        for name, part in settings:
            if part.empty:
                continue
            rows.append(
                {"attribute": attribute, "setting": name, "replies": len(part)}
                | {c: part[c].mean() for c in own}
                | {"perplexity (median)": part["perplexity"].median()}
            )
    return pd.DataFrame(rows)


def lambda_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per attribute and lambda_i (alpha_i = 1): every attribute's independent score, and perplexity."""
    columns = [f"{a}/{INDEPENDENT}" for a in ATTRIBUTES]
    grouped = table.groupby(["attribute", "lambda"])
    out = grouped[columns].mean().join(grouped["perplexity"].median().rename("perplexity (median)"))
    return out.reset_index()


def fluency_table(table: pd.DataFrame) -> pd.DataFrame:
    """Median perplexity of the replies per slider and alpha (rows: slider)."""
    return table.pivot_table(index="attribute", columns="alpha", values="perplexity", aggfunc="median")


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
            style = "-" if scorer.endswith("/" + INDEPENDENT) else "--"
            ax.plot(
                curve.index,
                values,
                style,
                marker="o",
                linewidth=2.5 if own else 1,
                alpha=1 if own else 0.5,
                label=scorer,
            )
        ax.set_title(f"slider: {slider}")
        ax.set_xlabel("alpha")
        ax.set_ylabel("score (0 = low pole, 1 = high pole)")
        ax.set_ylim(0, 1)
    axes[0].legend(fontsize=7)
    fig.suptitle(
        "Attribute scores against each slider (others at 0.5, lambda equal); mean over prompts, seeds and anchors"
        " seeds; solid: the independent scorer"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def report(db: RunsDB) -> str:
    from discolab.core.interp.scorers import held_out_accuracy

    table = db.wide(EXPERIMENT)
    studies = {name: part for name, part in table.groupby("study")}
    alpha = studies.get("alpha", pd.DataFrame())
    lines = [
        "Scorer accuracy on the held-out evaluation sentences (40 per attribute, seen by no scorer):",
        "",
        pd.DataFrame([held_out_accuracy()]).round(3).to_markdown(index=False),
        "",
    ]
    if not alpha.empty:
        means, shape, entanglement = analyse(alpha)
        path = data_path("results", "interp_response.png")
        plot(means, path)
        replies = alpha.groupby(["attribute", "alpha"]).size().min()
        anchors = sorted(int(s) for s in alpha["anchors_seed"].unique())
        lines += [
            f"alpha study: {len(alpha)} replies ({replies} per slider setting: {len(TEST_TOPICS)} prompts x "
            f"sampling seeds x anchors seeds {anchors})",
            "",
            "Mean score per slider setting:",
            "",
            means.round(3).to_markdown(),
            "",
            "Curve shape (own = the slider's own attribute; minilm is the independent scorer):",
            "",
            shape.round(3).to_markdown(index=False),
            "",
            "The own curve's Spearman rho per anchors seed:",
            "",
            per_anchor_seed(alpha).round(3).to_markdown(index=False),
            "",
            "Entanglement: change per unit alpha, in standard deviations of the scorer (rows: slider):",
            "",
            entanglement.round(3).to_markdown(),
            "",
            "Fluency: median perplexity of the replies under the base model, per slider and alpha:",
            "",
            fluency_table(alpha).round(2).to_markdown(),
            "",
            f"plot: {path}",
            "",
        ]
    if "instruct" in studies:
        lines += [
            "The sliders against instructing the base model (own attribute's mean score; median perplexity):",
            "",
            against_instructing(alpha, studies["instruct"]).round(3).to_markdown(index=False),
            "",
        ]
    if "lambda" in studies:
        lines += [
            "lambda_i at alpha_i = 1 (the rest of the simplex shared by the others at alpha 0.5): independent scores",
            "",
            lambda_table(studies["lambda"]).round(3).to_markdown(index=False),
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="sampling seeds per slider setting")
    parser.add_argument("--anchors-seeds", type=int, nargs="+", default=[0, 1], help="anchors trained from these seeds")
    parser.add_argument("--report-only", action="store_true")
    add_sweep_arguments(parser)
    args = parser.parse_args(argv)
    db = RunsDB(args.db)
    if not args.report_only:
        for anchors_seed in args.anchors_seeds:
            train_anchors(anchors_seed, progress=print)
        plan = sweep(list(range(args.seeds)), args.anchors_seeds)
        print(run_sweep(plan, db, args.executor, args.workers, args.address).line())
    print(report(db))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
