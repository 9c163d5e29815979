"""Tools for the mixture-of-experts study ("Mixture of Parrots"): a quick training run and the sweep's results.

Importing this module registers ``moe_train`` and ``moe_results`` (see :mod:`.builtin` for the pattern).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from .registry import Seed, ToolError, records, register, rounded


class MoETrainArguments(BaseModel):
    task: Literal["phonebook", "shortest_path"] = Field(
        "phonebook",
        description="phonebook (memorization: exact recall of N name -> number pairs) or "
        "shortest_path (reasoning: distance class of a node pair in held-out random graphs)",
    )
    n_experts: int | None = Field(4, ge=1, le=64, description="experts of the top-1 MoE; null for a dense model")
    d_model: int = Field(32, ge=8, le=128, description="model width (a multiple of 2)")
    n_entries: int = Field(500, ge=10, le=4096, description="phonebook: number of entries to memorize")
    steps: int = Field(600, ge=10, le=5000, description="training steps (batch 128); about 5-30 ms each")
    seed: Seed = 0


@register(
    "moe_train",
    "Train one small transformer (dense or top-1 mixture of experts) on phone-book memorization or "
    "graph shortest paths; returns test accuracy, chance, total and active parameters and expert-load "
    "statistics (entropy over log E, largest expert's share, dropped fraction).",
    MoETrainArguments,
    heavy=True,
)
def moe_train(task, n_experts, d_model, n_entries, steps, seed) -> dict:
    from discolab.core.moe.train import run

    config = {"task": task, "d_model": d_model, "n_experts": n_experts, "steps": steps}
    if task == "phonebook":
        config["n_entries"] = n_entries
    return {"config": config, "seed": seed, **rounded(run(config, seed))}


class MoEResultsArguments(BaseModel):
    experiment: str = Field("moe-parrots", description="the sweep's experiment name in the runs database")


@register(
    "moe_results",
    "Results of the mixture-of-experts sweep (python -m discolab.experiments.moe_eval): per task and model "
    "(MoE by experts, dense by width) mean accuracy over seeds with total / active parameters and expert "
    "load, and per task how much of a matched-total-parameter dense model's gain the experts recover.",
    MoEResultsArguments,
)
def moe_results(experiment: str) -> dict:
    from discolab.core.errors import DiscolabError
    from discolab.core.runs import RunsDB
    from discolab.experiments.moe_eval import analyse, cells_table, verdict

    try:
        summary = analyse(cells_table(RunsDB(), experiment))
    except DiscolabError as err:
        raise ToolError(f"{err}; run python -m discolab.experiments.moe_eval first") from None
    return {"models": records(summary), "verdict": records(verdict(summary))}
