"""Tools for "Sometimes I am a tree" (question formation: hierarchical vs linear rule): a quick training run and
the sweep's results.

Importing this module registers ``tree_train`` and ``tree_results`` (see :mod:`.builtin` for the pattern).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from .registry import Seed, ToolError, records, register, rounded


class TreeTrainArguments(BaseModel):
    task: Literal["question", "tense"] = Field(
        "question",
        description="question (move the main auxiliary to the front) or tense (rewrite past as present; the main "
        "verb agrees with the subject's head noun)",
    )
    center_share: float = Field(
        0.5, ge=0, le=1, description="complexity: share of training declaratives with a relative clause on the subject"
    )
    n_templates: int | None = Field(
        None, ge=1, le=21, description="diversity: templates per pool training draws from; null for all"
    )
    steps: int = Field(1000, ge=10, le=20000, description="training steps (batch 64); about 10-50 ms each")
    d_model: int = Field(64, ge=8, le=256, description="model width (a multiple of 4)")
    n_layers: int = Field(2, ge=1, le=8)
    seed: Seed = 0


@register(
    "tree_train",
    "Train one tiny transformer language model on question formation (or tense reinflection) from a small English "
    "grammar, where training never disambiguates the linear rule (first auxiliary) from the hierarchical one (main "
    "auxiliary); returns the fraction of test items answered by each rule, in-distribution accuracy and the "
    "trajectory of the hierarchical fraction over training.",
    TreeTrainArguments,
    heavy=True,
)
def tree_train(task, center_share, n_templates, steps, d_model, n_layers, seed) -> dict:
    from discolab.core.tree.train import run
    from discolab.experiments.tree_eval import BASE

    config = {**BASE, "task": task, "center_share": center_share, "n_templates": n_templates, "steps": steps}
    config |= {"d_model": d_model, "n_layers": n_layers, "eval_every": max(1, steps // 10)}
    rows = run(config, seed)
    final = {row["metric"]: row["value"] for row in rows if row["step"] == steps}
    trajectory = [(row["step"], round(row["value"], 4)) for row in rows if row["metric"] == "ood_hierarchical"]
    return {
        "config": config,
        "seed": seed,
        **rounded(final),
        "ood_hierarchical_trajectory": trajectory,
    }


class TreeResultsArguments(BaseModel):
    experiment: str = Field("tree-question", description="the sweep's experiment name in the runs database")


@register(
    "tree_results",
    "Results of the hierarchical-generalization sweep (python -m discolab.experiments.tree_eval): per condition "
    "(share of center-embedded training declaratives x number of templates) the distribution over seeds of the "
    "final fraction of test questions answered by the hierarchical rule, the fraction of hierarchical seeds, "
    "crossings of 0.5 during training and the bimodality test; per diversity, the rank correlation of the "
    "center share with the outcome.",
    TreeResultsArguments,
)
def tree_results(experiment: str) -> dict:
    from discolab.core.errors import DiscolabError
    from discolab.core.runs import RunsDB
    from discolab.experiments.tree_eval import analyse, complexity_effect, final_table, trajectories

    try:
        final = final_table(trajectories(RunsDB(), experiment))
    except DiscolabError as err:
        raise ToolError(f"{err}; run python -m discolab.experiments.tree_eval first") from None
    summary = analyse(final)
    per_seed = final[["center_share", "diversity", "seed", "ood_hierarchical", "ood_linear", "crossings"]]
    return {
        "conditions": records(summary),
        "complexity_effect": records(complexity_effect(final)),
        "seeds": records(per_seed),
    }
