"""Sometimes I am a tree: does the share of center-embedded training sentences decide which rule a tiny LM learns?

After Qin, Saphra & Alvarez-Melis (2024), "Sometimes I am a tree: Data drives unstable hierarchical
generalization". Task: question formation from the grammar of :mod:`discolab.core.tree.grammar`; training
questions never have a relative clause on the subject, test questions always do, so the first auxiliary
(linear rule) and the main one (hierarchical rule) disagree on every test item.

Grid: complexity (share of center-embedded declaratives among training declaratives: :data:`COMPLEXITY`) x
diversity (templates per pool: :data:`DIVERSITY`), every cell with the same model and budget
(:data:`BASE`), for each seed. One cell = one trained model; its rows: the trajectory of ``ood_hierarchical``,
``ood_linear``, ``id_accuracy``, ``train_loss`` every ``eval_every`` steps, and final diagnostics.

Report per condition: the distribution of the final OOD hierarchical fraction over seeds, the bimodality
analysis of the scaling study (:func:`discolab.core.scaling.distribution.bimodality`: dip test, 1- vs
2-component mixture), the fraction of hierarchical seeds (final fraction >= :data:`HIERARCHICAL`), the
instability of training (crossings of 0.5 by the trajectory); per diversity, the effect of complexity
(:func:`complexity_effect`: rank correlation, Mann-Whitney); and a figure (distributions, fraction of
hierarchical seeds vs complexity, trajectories): ``tree_hierarchical.png``.

Run: ``python -m discolab.experiments.tree_eval [--seeds 10] [--quick] [--report-only]`` (``--quick``: a smoke
test of a few seconds per cell). Per-cell time and the settings' reasons: docs/tree.md.

``--exploration`` runs instead the exploration that preceded the grid (:data:`EXPLORATION`: runs e1 to e6, model
depth, lexicon size, learning rate and weight decay, one or two seeds, 4,000 or 10,000 steps; e7, e6 for 30,000
steps; one tense-reinflection run) as sweep cells of the experiment ``tree-exploration`` and prints one table row per
run (:func:`exploration_report`).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from discolab.core.errors import DiscolabError
from discolab.core.paths import data_path
from discolab.core.runs import RunsDB, config_hash
from discolab.experiments.sweep import Sweep, add_sweep_arguments, print_result, run_sweep

EXPERIMENT = "tree-question"
COMPLEXITY = (0.0, 0.1, 0.25, 0.5, 1.0)
DIVERSITY = (2, 6, None)  # templates per pool (simple: 14, center-embedded: 21); None = all
TEMPLATE_SEEDS = (0, 1, 2)  # the subsets drawn per diversity level: an effect must not belong to one subset
DEEP_EXPERIMENT = "tree-question-deep"
DEEP = {"n_layers": 6, "steps": 20000, "eval_every": 500}  # the deeper, longer runs at the most promising setting
DEEP_SEEDS = 3
# The sweep's setting, the cheapest of the exploration's (:data:`EXPLORATION`, docs/tree.md): the small lexicon
# (3 nouns, 2 + 2 verbs, 2 determiners, 2 prepositions), the full 35-template grammar, 2 layers x 64, 5000 steps:
# about 2 CPU-minutes per cell on one thread. Hierarchical generalization appeared neither here (3 of 150 models past
# 0.8) nor in a 30,000-step 4-layer run (docs/tree.md); the paper's models trained far longer.
BASE = {
    "task": "question",
    "n_train": 20000,
    "n_test": 500,
    "n_nouns": 3,
    "n_intransitive": 2,
    "n_transitive": 2,
    "n_determiners": 2,
    "n_prepositions": 2,
    "d_model": 64,
    "n_layers": 2,
    "n_heads": 4,
    "steps": 5000,
    "batch_size": 64,
    "lr": 1e-3,
    "eval_every": 250,
}
QUICK = {"n_train": 2000, "n_test": 100, "d_model": 32, "n_layers": 1, "steps": 60, "eval_every": 20, "lr": 3e-3}
# A seed is hierarchical when at least 80% of the test questions follow the hierarchical rule. Not 0.5: a local
# heuristic ("front the first auxiliary that follows a noun") answers subject-gap relative clauses like the
# hierarchical rule and object-gap ones like the linear rule, about 2/3 of the test set (docs/tree.md).
HIERARCHICAL = 0.8
# The tests of bimodality find any split, even 0.26 vs 0.30 over 4 seeds; a condition counts as bimodal only when
# the two modes are also this far apart (seeds that follow different rules, not noise around one).
MIN_MODES_GAP = 0.2
IMAGE = "tree_hierarchical.png"
RELATIVE_CLAUSES = ("rc_v", "rc_vo", "rc_sv")  # as in discolab.core.tree.grammar (not imported: no torch here)

EXPLORATION_EXPERIMENT = "tree-exploration"
# TreeDataConfig's default lexicon (6 nouns, 4 + 4 verbs, 3 determiners, 3 prepositions) and BASE's small one.
LEXICON_KEYS = ("n_nouns", "n_intransitive", "n_transitive", "n_determiners", "n_prepositions")
DEFAULT_LEXICON = dict(zip(LEXICON_KEYS, (6, 4, 4, 3, 3)))
SMALL_LEXICON = {k: BASE[k] for k in LEXICON_KEYS}
# The exploration's starting point: BASE with the default lexicon and all templates; each run changes it.
EXPLORATION_BASE = {**BASE, **DEFAULT_LEXICON, "n_templates": None}
# The exploration that looked for the smallest setting with hierarchical generalization, before the grid: one
# entry per run (one table row of docs/tree.md): (label, setting, changes to EXPLORATION_BASE, center share,
# steps, seed). A setting names what differs from e1's; e5 names no lexicon, so it keeps e1's default one.
EXPLORATION = (
    ("e1", "2 layers x 64, default lexicon", {}, 0, 4000, 0),
    ("e1", "2 layers x 64, default lexicon", {}, 0, 4000, 1),
    ("e1", "2 layers x 64, default lexicon", {}, 1, 4000, 0),
    ("e1", "2 layers x 64, default lexicon", {}, 1, 4000, 1),
    ("e2", "2 layers x 64, default lexicon", {}, 1, 10000, 0),
    ("e2", "2 layers x 64, default lexicon", {}, 0, 10000, 0),
    ("e3", "2 layers x 64, small lexicon", SMALL_LEXICON, 1, 10000, 0),
    ("e3", "2 layers x 64, small lexicon", SMALL_LEXICON, 0, 10000, 0),
    ("e4", "4 layers x 64, default lexicon", {"n_layers": 4}, 1, 10000, 0),
    ("e5", "2 layers x 64, default lexicon, lr 3e-3, weight decay 0.1", {"lr": 3e-3, "weight_decay": 0.1}, 1, 10000, 0),
    ("e6", "4 layers x 64, small lexicon", {"n_layers": 4, **SMALL_LEXICON}, 1, 10000, 0),
    ("e7", "4 layers x 64, small lexicon", {"n_layers": 4, **SMALL_LEXICON}, 1, 30000, 0),
    ("tense", "tense reinflection, 2 layers x 64, small lexicon", {"task": "tense", **SMALL_LEXICON}, 1, 5000, 0),
)
EXPLORATION_KEYS = ("task", "n_layers", *LEXICON_KEYS, "lr", "weight_decay", "center_share", "steps")
# --quick --exploration: every run's model and lexicon at a tiny budget, a smoke test of a few seconds per run: the
# data below, 1/200 of the run's steps (so that e1 and e2 stay different cells).
EXPLORATION_QUICK = {"n_train": 1000, "n_test": 100, "eval_every": 10}
QUICK_STEPS_DIVISOR = 200


def tree_cell(config: dict, seed: int) -> list[dict]:
    """One trained model (:func:`discolab.core.tree.train.run`); its trajectory rows."""
    from discolab.core.tree.train import run  # torch loads here, not when the CLI builds its parser

    return run(config, seed)


def configs(
    quick: bool = False, complexity=COMPLEXITY, diversity=DIVERSITY, template_seeds=TEMPLATE_SEEDS
) -> list[dict]:
    """Every (diversity, template subset, complexity); all templates has one subset. Subset 0 leaves
    ``template_seed`` out of the config (the grammar's default), so cells run before subsets were
    drawn are found done."""
    base = {**BASE, **QUICK} if quick else BASE
    out = []
    for d in diversity:
        for subset in template_seeds if d is not None else (0,):
            drawn = {"template_seed": subset} if subset else {}
            out += [{**base, "center_share": c, "n_templates": d, **drawn} for c in complexity]
    return out


def sweep(
    seeds: list[int], quick: bool = False, complexity=COMPLEXITY, diversity=DIVERSITY, template_seeds=TEMPLATE_SEEDS
) -> Sweep:
    name = EXPERIMENT + ("-quick" if quick else "")
    keys = ["center_share", "n_templates", "template_seed"]
    return Sweep(name, tree_cell, configs(quick, complexity, diversity, template_seeds), seeds, keys)


def most_promising(final: pd.DataFrame) -> dict:
    """The grid's condition (center share, templates, subset) with the highest mean final OOD
    hierarchical fraction over seeds: where the deeper, longer runs go."""
    keys = ["center_share", "n_templates", "template_seed"]
    means = final.assign(n_templates=final["n_templates"].astype(object)).groupby(keys, dropna=False)[
        "ood_hierarchical"
    ]
    best = means.mean().idxmax()
    share, templates, subset = best
    templates = None if templates is None or (isinstance(templates, float) and np.isnan(templates)) else int(templates)
    return {"center_share": float(share), "n_templates": templates, "template_seed": int(subset)}


def deep_sweep(condition: dict, seeds: int = DEEP_SEEDS, quick: bool = False) -> Sweep:
    """:data:`DEEP` (6 layers, 20,000 steps) at ``condition`` (``quick``: the quick budget)."""
    base = {**BASE, **QUICK} if quick else {**BASE, **DEEP}
    drawn = {"template_seed": condition["template_seed"]} if condition["template_seed"] else {}
    config = {**base, "center_share": condition["center_share"], "n_templates": condition["n_templates"], **drawn}
    name = DEEP_EXPERIMENT + ("-quick" if quick else "")
    return Sweep(name, tree_cell, [config], list(range(seeds)), ["center_share", "n_templates", "template_seed"])


@dataclass
class ExplorationSweep(Sweep):
    """The exploration's runs as sweep cells: each run its own (config, seed), not every config x every seed."""

    runs: list[dict] = field(default_factory=list)  # label, setting, config, seed: one per table row

    def cells(self) -> list[tuple[dict, int]]:
        return [(run["config"], run["seed"]) for run in self.runs]


def exploration_runs(quick: bool = False) -> list[dict]:
    """:data:`EXPLORATION` as runs: label, setting, the cell's config and seed."""
    runs = []
    for label, setting, changes, share, steps, seed in EXPLORATION:
        config = {**EXPLORATION_BASE, **changes, "center_share": float(share), "steps": steps}
        if quick:
            config |= {**EXPLORATION_QUICK, "steps": max(1, steps // QUICK_STEPS_DIVISOR)}
        runs.append({"label": label, "setting": setting, "config": config, "seed": seed})
    return runs


def exploration_sweep(quick: bool = False) -> ExplorationSweep:
    runs = exploration_runs(quick)
    configs = list({config_hash(run["config"]): run["config"] for run in runs}.values())
    seeds = sorted({run["seed"] for run in runs})
    name = EXPLORATION_EXPERIMENT + ("-quick" if quick else "")
    return ExplorationSweep(name, tree_cell, configs, seeds, EXPLORATION_KEYS, runs)


def exploration_table(db: RunsDB, plan: ExplorationSweep) -> pd.DataFrame:
    """One row per run of the exploration: its setting and, once recorded, its final evaluation (the last step's
    fractions, the hierarchical fraction per kind of relative clause, the training time); NaN where not run."""
    try:
        wide = db.wide(plan.name)
    except DiscolabError:  # nothing recorded yet
        wide = pd.DataFrame(columns=["config_hash", "seed", "step"])
    rows = []
    for run in plan.runs:
        config, seed = run["config"], run["seed"]
        cell = wide[(wide["config_hash"] == config_hash(config)) & (wide["seed"] == seed)]
        last = cell.loc[cell["step"].idxmax()] if len(cell) else pd.Series(dtype=float)
        kinds = [last.get(f"ood_hierarchical_{kind}", np.nan) for kind in RELATIVE_CLAUSES]
        rows.append(
            {
                "run": run["label"],
                "setting": run["setting"],
                "seed": seed,
                "center_share": config["center_share"],
                "steps": config["steps"],
                "ood_hierarchical": last.get("ood_hierarchical", np.nan),
                "ood_linear": last.get("ood_linear", np.nan),
                "id_accuracy": last.get("id_accuracy", np.nan),
                "rc_v / rc_vo / rc_sv": " / ".join("n/a" if np.isnan(k) else f"{k:.2f}" for k in kinds),
                "seconds": last.get("train_seconds", np.nan),
            }
        )
    return pd.DataFrame(rows)


def exploration_report(db: RunsDB, plan: ExplorationSweep) -> str:
    table = exploration_table(db, plan)
    done = int(table["ood_hierarchical"].notna().sum())
    lines = [
        f"Exploration ({plan.name}): {done} of {len(table)} runs recorded; all templates, "
        f"{plan.runs[0]['config']['n_train']} training items, {plan.runs[0]['config']['n_test']} test questions; "
        "final evaluation of each run (rc_v / rc_vo / rc_sv: hierarchical fraction per kind of relative clause on "
        "the subject; seconds: training time):",
        "",
        table.round({"ood_hierarchical": 2, "ood_linear": 2, "id_accuracy": 2, "seconds": 0}).to_markdown(index=False),
    ]
    return "\n".join(lines)


def _diversity_label(value) -> str:
    return "all" if value is None or (isinstance(value, float) and np.isnan(value)) else str(int(value))


def trajectories(db: RunsDB, experiment: str = EXPERIMENT) -> pd.DataFrame:
    """One row per (cell, evaluation step): setting, seed, step and the trajectory metrics."""
    table = db.wide(experiment)
    if "n_templates" not in table:
        table["n_templates"] = np.nan
    table["template_seed"] = table["template_seed"].fillna(0).astype(int) if "template_seed" in table else 0
    table["diversity"] = table["n_templates"].map(_diversity_label)
    other = (table["template_seed"] != 0) & (table["diversity"] != "all")
    table.loc[other, "diversity"] += "/t" + table.loc[other, "template_seed"].astype(str)  # another subset
    return table.sort_values(["center_share", "diversity", "seed", "step"]).reset_index(drop=True)


def crossings(values, level: float = 0.5) -> int:
    """How often a trajectory crosses ``level`` (values equal to it are skipped): the oscillation between rules."""
    side = np.sign(np.asarray(values, dtype=float) - level)
    side = side[side != 0]
    return int((np.diff(side) != 0).sum())


def final_table(trajectory: pd.DataFrame) -> pd.DataFrame:
    """One row per trained model: its last evaluation, plus the trajectory's crossings of 0.5 (after step 0)."""
    rows = []
    for _, cell in trajectory.groupby(["config_hash", "seed"]):
        cell = cell.sort_values("step")
        last = cell[cell["ood_hierarchical"].notna()].iloc[-1].copy()
        extra = cell[cell["step"] == last["step"]].drop(columns=["step"]).bfill().ffill().iloc[0]
        last = pd.concat([last, extra[~extra.index.isin(last.index)]])
        last["crossings"] = crossings(cell.loc[cell["step"] > 0, "ood_hierarchical"].dropna())
        rows.append(last)
    table = pd.DataFrame(rows).reset_index(drop=True)
    table["hierarchical_seed"] = table["ood_hierarchical"] >= HIERARCHICAL
    table["linear_seed"] = table["ood_linear"] >= HIERARCHICAL  # the same bar for the linear rule
    return table


def analyse(final: pd.DataFrame) -> pd.DataFrame:
    """Per condition (complexity x diversity): seeds, mean / std of the final fractions, hierarchical and linear
    seeds, Wilson interval of P(hierarchical), crossings, bimodality of the final hierarchical fraction."""
    from discolab.core.scaling.distribution import bimodality
    from discolab.core.scaling.success import wilson_interval

    rows = []
    for (share, diversity), part in final.groupby(["center_share", "diversity"], sort=True):
        hierarchical = part["ood_hierarchical"].to_numpy(float)
        n, k = len(part), int(part["hierarchical_seed"].sum())
        low, high = wilson_interval(k, n)
        test = bimodality(hierarchical)
        rows.append(
            {
                "center_share": share,
                "diversity": diversity,
                "seeds": n,
                "hierarchical_mean": hierarchical.mean(),
                "hierarchical_std": hierarchical.std(ddof=1) if n > 1 else np.nan,
                "hierarchical_min": hierarchical.min(),
                "hierarchical_max": hierarchical.max(),
                **{
                    f"hierarchical_{kind}": part[f"ood_hierarchical_{kind}"].mean()
                    for kind in RELATIVE_CLAUSES
                    if f"ood_hierarchical_{kind}" in part
                },
                "linear_mean": part["ood_linear"].mean(),
                "other_mean": part["ood_other"].mean(),
                "id_accuracy": part["id_accuracy"].mean(),
                "p_hierarchical": k / n,
                "p_low": low,
                "p_high": high,
                "p_linear": part["linear_seed"].mean(),
                "crossings_mean": part["crossings"].mean(),
                "crossings_max": part["crossings"].max(),
                "dip_pvalue": test["dip_pvalue"],
                "ashman_d": test["ashman_d"],
                "modes_gap": test["high_mean"] - test["low_mean"],
                "bimodal_test": test["bimodal"],
                "bimodal": bool(test["bimodal"] and test["high_mean"] - test["low_mean"] >= MIN_MODES_GAP),
            }
        )
    return pd.DataFrame(rows)


def complexity_effect(final: pd.DataFrame) -> pd.DataFrame:
    """Does more center-embedded data push models towards the hierarchical rule? Per diversity, each seed one
    observation: Spearman's rank correlation between the center share and the final OOD hierarchical fraction
    (on all test questions, and on the object-gap items that only the hierarchical rule answers), and a one-sided
    Mann-Whitney U test that the largest share's fractions exceed the smallest share's (H1: P(X_high > X_low) > 1/2;
    Mann & Whitney 1947). NaN where a diversity has a single share."""
    from scipy.stats import mannwhitneyu, spearmanr

    rows = []
    for diversity, part in final.groupby("diversity", sort=True):
        shares = sorted(part["center_share"].unique())
        row = {"diversity": diversity, "seeds": part["seed"].nunique(), "shares": len(shares)}
        low = part.loc[part["center_share"] == shares[0], "ood_hierarchical"]
        high = part.loc[part["center_share"] == shares[-1], "ood_hierarchical"]
        row |= {"lowest_share_mean": low.mean(), "highest_share_mean": high.mean()}
        row |= {"spearman_rho": np.nan, "spearman_p": np.nan, "mannwhitney_p": np.nan, "spearman_rho_rc_sv": np.nan}
        if len(shares) > 1:
            rho, p_rho = spearmanr(part["center_share"], part["ood_hierarchical"])
            row |= {"spearman_rho": rho, "spearman_p": p_rho}
            row["mannwhitney_p"] = mannwhitneyu(high, low, alternative="greater").pvalue
            if "ood_hierarchical_rc_sv" in part:
                row["spearman_rho_rc_sv"] = spearmanr(part["center_share"], part["ood_hierarchical_rc_sv"])[0]
        rows.append(row)
    return pd.DataFrame(rows)


def _order(diversities) -> list[str]:
    """Labels "2", "2/t1", ..., "all" in order of templates, then subset."""

    def key(label: str):
        count, _, subset = label.partition("/t")
        return (count == "all", int(count) if count != "all" else 0, int(subset or 0))

    return sorted(set(diversities), key=key)


def subset_table(final: pd.DataFrame) -> pd.DataFrame:
    """Per templates per pool and center share: each subset's mean final hierarchical fraction,
    their mean, and the spread between subsets (sd of the subset means) against the spread within
    one (the mean sd over seeds): an effect that belongs to one subset shows as a large between-subset sd."""
    part = final[final["diversity"] != "all"].copy()
    if part.empty:
        return pd.DataFrame()
    part["templates"] = part["diversity"].str.partition("/t")[0]
    by_subset = part.groupby(["templates", "center_share", "template_seed"])["ood_hierarchical"]
    subset_means = by_subset.mean().unstack("template_seed")
    subset_means.columns = [f"subset {c}" for c in subset_means.columns]
    subset_means["mean"] = subset_means.mean(axis=1)
    subset_means["between-subset sd"] = subset_means.drop(columns="mean").std(axis=1, ddof=1)
    subset_means["within-subset sd"] = by_subset.std(ddof=1).groupby(level=["templates", "center_share"]).mean()
    return subset_means.reset_index()


def figure(final: pd.DataFrame, trajectory: pd.DataFrame, summary: pd.DataFrame):
    """Four panels: the final OOD hierarchical fraction per seed vs complexity (one colour per diversity), on all
    test questions and on the object-gap relative clauses alone; the fraction of hierarchical seeds vs complexity
    (Wilson 95% intervals); every seed's trajectory at the largest diversity, coloured by complexity."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 8))
    axes = fig.subplots(2, 2)
    diversities = _order(final["diversity"])
    shares = sorted(final["center_share"].unique())
    position = {s: k for k, s in enumerate(shares)}
    width = 0.7 / max(1, len(diversities))
    for ax, metric, title in (
        (axes[0, 0], "ood_hierarchical", "Outcome per seed: all test questions"),
        (axes[1, 0], "ood_hierarchical_rc_sv", "Outcome per seed: object-gap relative clauses"),
    ):
        for j, diversity in enumerate(diversities):
            part = final[final["diversity"] == diversity]
            if metric not in part:
                continue
            offset = (j - (len(diversities) - 1) / 2) * width
            x = part["center_share"].map(position) + offset
            jitter = np.random.default_rng(0).uniform(-width / 4, width / 4, len(part))
            ax.scatter(x + jitter, part[metric], s=14, alpha=0.7, label=f"templates {diversity}")
        if metric == "ood_hierarchical":
            ax.axhline(HIERARCHICAL, color="gray", linestyle=":", linewidth=1)
        ax.set_xticks(range(len(shares)), [f"{s:g}" for s in shares])
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("share of center-embedded training declaratives")
        ax.set_ylabel("final OOD hierarchical fraction")
        ax.set_title(title)
        ax.legend(fontsize=7)
    ax = axes[0, 1]
    dodge = 0.01 * (max(shares) - min(shares) or 1)  # overlapping curves stay visible
    for j, diversity in enumerate(diversities):
        part = summary[summary["diversity"] == diversity].sort_values("center_share")
        errors = [(part["p_hierarchical"] - part["p_low"]).clip(0), (part["p_high"] - part["p_hierarchical"]).clip(0)]
        x = part["center_share"] + (j - (len(diversities) - 1) / 2) * dodge
        ax.errorbar(x, part["p_hierarchical"], errors, marker="o", capsize=3, label=diversity)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("share of center-embedded training declaratives")
    ax.set_ylabel(f"fraction of seeds with OOD hierarchical >= {HIERARCHICAL}")
    ax.set_title("Hierarchical seeds vs complexity")
    ax.legend(title="templates", fontsize=7)
    ax = axes[1, 1]
    widest = diversities[-1]
    colours = colormaps["viridis"]
    for (share, _), cell in trajectory[trajectory["diversity"] == widest].groupby(["center_share", "config_hash"]):
        colour = colours(position[share] / max(1, len(shares) - 1))
        for _, seed in cell.groupby("seed"):
            seed = seed.dropna(subset=["ood_hierarchical"])
            ax.plot(seed["step"], seed["ood_hierarchical"], color=colour, alpha=0.5, linewidth=0.8)
    for share in shares:
        ax.plot([], [], color=colours(position[share] / max(1, len(shares) - 1)), label=f"{share:g}")
    ax.axhline(0.5, color="gray", linestyle=":", linewidth=1)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("training step")
    ax.set_ylabel("OOD hierarchical fraction")
    ax.set_title(f"Trajectories (templates {widest})")
    ax.legend(title="center share", fontsize=7)
    fig.tight_layout()
    return fig


def report(db: RunsDB, experiment: str = EXPERIMENT, docs_image: Path | None = None) -> str:
    trajectory = trajectories(db, experiment)
    final = final_table(trajectory)
    summary = analyse(final)
    path = data_path("results", IMAGE if experiment == EXPERIMENT else f"{experiment}_hierarchical.png")
    figure(final, trajectory, summary).savefig(path, dpi=90)
    if docs_image is not None:
        shutil.copyfile(path, docs_image)
    distribution = ["center_share", "diversity", "seeds", "hierarchical_mean", "hierarchical_std"]
    distribution += ["hierarchical_min", "hierarchical_max", "linear_mean", "other_mean", "id_accuracy"]
    seeds = ["center_share", "diversity", "p_hierarchical", "p_low", "p_high", "p_linear", "crossings_mean"]
    seeds += ["crossings_max", "dip_pvalue", "ashman_d", "modes_gap", "bimodal_test", "bimodal"]
    kinds = [
        "center_share",
        "diversity",
        *(f"hierarchical_{k}" for k in RELATIVE_CLAUSES if f"hierarchical_{k}" in summary),
    ]
    per_seed = final.pivot_table(index=["center_share", "diversity"], columns="seed", values="ood_hierarchical")
    lines = [
        f"{len(final)} trained models ({final['seed'].nunique()} seeds), "
        f"{final['train_seconds'].median():.0f} s median training time per model",
        "",
        "Final OOD fractions per condition (hierarchical = main auxiliary first; linear = first auxiliary):",
        "",
        summary[distribution].round(3).to_markdown(index=False),
        "",
        f"Hierarchical seeds (final fraction >= {HIERARCHICAL}, Wilson 95%), crossings of 0.5, bimodality "
        f"(bimodal_test: dip test or mixture BIC; bimodal: and modes at least {MIN_MODES_GAP} apart):",
        "",
        summary[seeds].round(3).to_markdown(index=False),
        "",
        "Hierarchical fraction per kind of relative clause on the subject (mean over seeds): rc_v 'who doesn't "
        "giggle', rc_vo 'who doesn't amuse the yak', rc_sv 'that the yak doesn't amuse' (object gap):",
        "",
        summary[kinds].round(3).to_markdown(index=False),
        "",
        "Effect of complexity per diversity (each seed one observation): Spearman's rho of the center share vs the "
        "final OOD hierarchical fraction (and on object-gap items), one-sided Mann-Whitney p of the largest share "
        "above the smallest:",
        "",
        complexity_effect(final).to_markdown(index=False, floatfmt=".3g"),
        "",
        "Template subsets (diversity label n/tK: subset K of n templates per pool; n alone: subset 0): mean final "
        "OOD hierarchical fraction per subset, and the spread between subsets against that within one:",
        "",
        subset_table(final).round(3).to_markdown(index=False),
        "",
        "Final OOD hierarchical fraction per seed:",
        "",
        per_seed.round(2).to_markdown(),
        "",
        f"plot: {path}",
    ]
    return "\n".join(lines)


def deep_report(db: RunsDB, experiment: str = DEEP_EXPERIMENT) -> str:
    """The deep runs: each seed's OOD hierarchical fraction along training (the curve), overall and on the
    object-gap items (the only ones that tell the rule from the local heuristic), and its end per kind."""
    trajectory = trajectories(db, experiment)
    final = final_table(trajectory).sort_values("seed")
    seconds = final["train_seconds"].sum() if "train_seconds" in final else float("nan")
    kinds = [f"ood_hierarchical_{kind}" for kind in RELATIVE_CLAUSES if f"ood_hierarchical_{kind}" in final]
    ends = final[["seed", "ood_hierarchical", "ood_linear", *kinds, "id_accuracy"]].rename(
        columns=lambda c: c.replace("ood_hierarchical_", "hierarchical_")
    )
    lines = [
        f"{len(final)} deep runs, {seconds / 3600:.2f} CPU-hours in all; final evaluation per seed "
        "(hierarchical_rc_*: the hierarchical fraction per kind of relative clause on the subject):",
        "",
        ends.round(3).to_markdown(index=False),
    ]
    if len(final) > 1:
        spread = ends.drop(columns="seed").agg(["mean", "std"]).T
        lines += [
            "",
            "mean ± sd over the seeds: " + ", ".join(f"{k} {m:.3f} ± {d:.3f}" for k, (m, d) in spread.iterrows()),
        ]
    for column, label in (("ood_hierarchical", "all test questions"), ("ood_hierarchical_rc_sv", "object-gap items")):
        if column not in trajectory:
            continue
        curve = trajectory.pivot_table(index="step", columns="seed", values=column)  # NaN rows dropped
        every = max(1, len(curve) // 20)  # about 20 rows
        lines += [
            "",
            f"OOD hierarchical fraction along training, {label} (rows: step; columns: seed):",
            "",
            curve.iloc[::every].round(3).to_markdown(),
        ]
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The sweep's flags (``discolab tree sweep`` and ``python -m discolab.experiments.tree_eval``)."""
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="tiny budgets: a smoke test of the pipeline")
    parser.add_argument("--complexity", type=float, nargs="+", default=list(COMPLEXITY), help="center_share values")
    parser.add_argument(
        "--diversity", nargs="+", default=[_diversity_label(d) for d in DIVERSITY], help="templates per pool, or all"
    )
    parser.add_argument(
        "--template-seeds",
        type=int,
        nargs="+",
        default=None,
        help=f"template subsets per diversity (default {' '.join(map(str, TEMPLATE_SEEDS))}; --quick: 0)",
    )
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument(
        "--deep",
        action="store_true",
        help=f"instead: {DEEP_SEEDS} runs of {DEEP['n_layers']} layers x {DEEP['steps']} steps at the grid's most "
        "promising condition (highest mean final hierarchical fraction), with their training curves",
    )
    parser.add_argument(
        "--exploration",
        action="store_true",
        help="run the exploration before the grid (runs e1 to e6, docs/tree.md) instead; --seeds, --complexity and "
        "--diversity do not apply",
    )
    parser.add_argument("--docs-image", type=Path, default=None, help="also copy the plot here")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of an in-process run (tiny models: 1)")
    add_sweep_arguments(parser)


def _diversity_values(labels) -> list[int | None]:
    return [None if str(d) == "all" else int(d) for d in labels]


def sweep_command(args: argparse.Namespace) -> int:
    """Run the sweep's missing cells (unless ``--report-only``), then print the report (with ``--exploration``:
    the exploration's cells and table)."""
    db = RunsDB(args.db)
    if not args.report_only and args.executor == "local" and args.workers == 1:
        import torch  # worker processes get their threads from the sweep runner; this one from the flag

        torch.set_num_threads(args.threads)
    if args.exploration:
        plan = exploration_sweep(args.quick)
        if not args.report_only:
            print(run_sweep(plan, db, args.executor, args.workers, args.address).line())
        print(exploration_report(db, plan))
        return 0
    plan = sweep(
        list(range(args.seeds)),
        args.quick,
        tuple(args.complexity),
        tuple(_diversity_values(args.diversity)),
        tuple(args.template_seeds or ((0,) if args.quick else TEMPLATE_SEEDS)),
    )
    if args.deep:
        condition = most_promising(final_table(trajectories(db, plan.name)))
        deep = deep_sweep(condition, quick=args.quick)
        print(f"the grid's most promising condition: {condition}", file=sys.stderr)
        if not args.report_only:
            print(run_sweep(deep, db, args.executor, args.workers, args.address).line())
        print(deep_report(db, deep.name))
        return 0
    if not args.report_only:
        print(run_sweep(plan, db, args.executor, args.workers, args.address).line())
    print(report(db, plan.name, args.docs_image))
    return 0


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of one training run (``discolab tree train``)."""
    parser.add_argument("--task", choices=["question", "tense"], default="question")
    parser.add_argument("--center-share", type=float, default=0.5, help="complexity: center-embedded declaratives")
    parser.add_argument("--templates", default="all", help="diversity: templates per pool, or all")
    parser.add_argument("--steps", type=int, default=BASE["steps"])
    parser.add_argument("--d-model", type=int, default=BASE["d_model"])
    parser.add_argument("--layers", type=int, default=BASE["n_layers"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (tiny models: 1 is fastest)")
    parser.add_argument("--json", action="store_true", help="print JSON (config, seed, final metrics, trajectory)")


def train_command(args: argparse.Namespace) -> int:
    """Train and score one model with the sweep's settings; print the trajectory's end and the final metrics."""
    import torch
    from discolab.core.tree.train import run

    torch.set_num_threads(args.threads)
    config = {**BASE, "task": args.task, "center_share": args.center_share, "steps": args.steps}
    config |= {"n_templates": _diversity_values([args.templates])[0], "d_model": args.d_model, "n_layers": args.layers}
    rows = run(config, args.seed, progress=lambda line: print(line, file=sys.stderr))
    last = max(row["step"] for row in rows)
    final = {row["metric"]: row["value"] for row in rows if row["step"] == last}
    trajectory = [row for row in rows if row["metric"] in ("ood_hierarchical", "ood_linear", "id_accuracy")]
    print_result(config, args.seed, final, args.json, **({"trajectory": trajectory} if args.json else {}))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    return sweep_command(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
