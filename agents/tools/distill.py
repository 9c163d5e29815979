"""Tools for dataset distillation: the soft-label baseline, D3 at a storage budget, and the sweep's results.

Importing this module registers ``distill_softlabel``, ``distill_d3`` and ``distill_results`` (see
:mod:`.builtin` for the pattern).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from .registry import Seed, ToolError, records, register, rounded


class SoftLabelArguments(BaseModel):
    dataset: Literal["digits", "nested"] = Field(
        "digits", description="digits (sklearn 8x8, 10 classes) or nested (synthetic, 50 classes in 10 super-classes)"
    )
    ipc: int = Field(1, ge=1, le=50, description="real training images per class in the distilled set")
    study: Literal["epochs", "swap", "topk"] = Field(
        "epochs",
        description="epochs: hard labels vs soft labels from each expert epoch; swap: k-th largest label entry "
        "swapped with the smallest; topk: labels truncated to their k largest entries",
    )
    temperature: float = Field(4.0, gt=0, le=100, description="soft label = softmax(expert logits / T)")
    expert_epoch: int = Field(10, ge=1, le=20, description="swap / topk: the expert checkpoint giving the labels")
    seed: Seed = 0


@register(
    "distill_softlabel",
    "Dataset distillation by soft labels: draw IPC random real images per class, label them with an expert "
    "checkpoint's softmax, train a student from scratch; returns test accuracies of the hard-label control and "
    "of soft labels per expert epoch (or per k for the swap / top-k studies). 10-60 s on CPU.",
    SoftLabelArguments,
    heavy=True,
)
def distill_softlabel(dataset, ipc, study, temperature, expert_epoch, seed) -> dict:
    import torch
    from discolab.core.distill.softlabel import run

    config = {"dataset": dataset, "ipc": ipc, "study": study, "temperature": temperature, "expert_epoch": expert_epoch}
    torch.set_num_threads(1)  # tiny nets: one thread is fastest (see experiments.distill_eval.one_thread)
    rows = run(config, seed)
    return {"config": config, "seed": seed, "rows": [{**r, "value": round(r["value"], 4)} for r in rows]}


class D3Arguments(BaseModel):
    budget_ipc: float = Field(5, ge=2, le=50, description="storage budget, in images-per-class equivalents")
    method: Literal["d3", "pixels", "real"] = Field(
        "d3", description="d3 (Gaussian latents + decoder), pixels (MMD-distilled images) or real (random images)"
    )
    labels: Literal["hard", "soft"] = Field(
        "hard", description="soft labels from the full-data expert cost C floats each"
    )
    subtasks: int = Field(1, ge=1, le=5, description="D3: class subtasks distilled separately (federated)")
    seed: Seed = 0


@register(
    "distill_d3",
    "Distil sklearn digits within a storage budget by D3 (per-class Gaussian latents + a decoder, trained by "
    "MMD on expert features), pixel prototypes or random real images; trains a student and returns its test "
    "accuracy with the storage account (latent, decoder and label floats, images-per-class equivalent). ~30 s.",
    D3Arguments,
    heavy=True,
)
def distill_d3(budget_ipc, method, labels, subtasks, seed) -> dict:
    import torch
    from discolab.core.distill.budget import run
    from discolab.experiments.distill_eval import D3_ARCH

    config = {"budget_ipc": budget_ipc, "method": method, "labels": labels, "subtasks": subtasks, **D3_ARCH}
    torch.set_num_threads(1)
    return {"config": config, "seed": seed, **rounded(run(config, seed))}


class DistillResultsArguments(BaseModel):
    quick: bool = Field(False, description="the --quick smoke-test sweeps instead of the full ones")


@register(
    "distill_results",
    "Results of the distillation sweeps (python -m discolab.experiments.distill_eval): soft vs hard labels by "
    "IPC with the best expert epoch, the swap test, the IPC x top-k frontier, and D3 vs pixel prototypes vs "
    "random real images at equal storage; means over seeds.",
    DistillResultsArguments,
)
def distill_results(quick) -> dict:
    from discolab.core.runs import RunsDB
    from discolab.experiments import distill_eval as ev

    soft, d3 = ev.study_tables(RunsDB(), quick)
    out = {}
    if soft is not None:
        out["soft_vs_hard"] = records(ev.soft_vs_hard(soft))
        out["swap"] = records(ev.swap_curve(soft))
        out["topk_frontier"] = records(ev.frontier(ev.topk_grid(soft)))
    if d3 is not None:
        out["d3"] = records(ev.d3_summary(d3))
    if not out:
        raise ToolError("no distillation sweep in the runs database; run python -m discolab.experiments.distill_eval")
    return out
