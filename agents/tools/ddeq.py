"""Tools for DDEQ (distributional deep equilibrium models on point clouds): a training run and the sweep's results.

Importing this module registers ``ddeq_train`` and ``ddeq_results`` (see :mod:`.builtin` for the pattern).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from .registry import Seed, ToolError, records, register, rounded


class DDEQTrainArguments(BaseModel):
    data: Literal["digits", "shapes"] = Field(
        "digits", description="digits (scikit-learn digits as 2-D point clouds) or shapes (3-D shape classes)"
    )
    model: Literal["ddeq", "unrolled", "pointnet", "pointnet-small"] = Field(
        "ddeq", description="DDEQ, its weight-tied unrolled ablation, or PointNet (~0.8M or ~85k parameters)"
    )
    epochs: int = Field(10, ge=1, le=60, description="training epochs (DDEQ: about 5-10 s each on a CPU)")
    seed: Seed = 0


@register(
    "ddeq_train",
    "Train one point-cloud classifier (DDEQ, its unrolled ablation, or PointNet) on digits or 3-D shapes; "
    "returns test accuracy, chance, parameter count, the largest logit change under shuffled input points, "
    "and for DDEQ the forward flow's steps and relative MMD residual to the fixed point.",
    DDEQTrainArguments,
    heavy=True,
)
def ddeq_train(data, model, epochs, seed) -> dict:
    from discolab.core.ddeq.train import run
    from discolab.experiments.ddeq_eval import MODELS

    config = {"data": data, **MODELS[model], "epochs": epochs}
    _, metrics = run(config, seed)
    return {"config": config, "seed": seed, **rounded(metrics, 6)}


class DDEQResultsArguments(BaseModel):
    pass


@register(
    "ddeq_results",
    "Results of the DDEQ sweep (python -m discolab.experiments.ddeq_eval): accuracy and parameters per data "
    "set and model over seeds, DDEQ vs PointNet, the forward flow's residual by step, and the completion "
    "metrics (energy distance and Chamfer to the whole cloud, before and after).",
    DDEQResultsArguments,
)
def ddeq_results() -> dict:
    from discolab.core.errors import DiscolabError
    from discolab.core.runs import RunsDB
    from discolab.experiments.ddeq_eval import COMPLETE, classification_table, completion_table, trace_table, verdict

    db = RunsDB()
    try:
        table = classification_table(db)
    except DiscolabError as err:
        raise ToolError(f"{err}; run python -m discolab.experiments.ddeq_eval first") from None

    completion = completion_table(db) if COMPLETE in set(db.experiments()["experiment"]) else None
    return {
        "classification": records(table, 6),
        "verdict": verdict(table),
        "flow_trace": records(trace_table(db), 6),
        "completion": completion.to_dict(orient="records") if completion is not None else [],
    }
