"""S2T2 tools: the five-way comparison on proteins and what the learned plan maps a protein token to."""

from __future__ import annotations

from pydantic import BaseModel, Field

from .builtin import NoArguments
from .registry import ToolError, register


@register(
    "s2t2_results",
    "S2T2 (sparse token translation of SmolLM2 to proteins) against zero-shot, source-tokenizer finetuning and "
    "fresh embeddings: bits per character on held-out proteins per condition and seed, each tokenizer's "
    "characters per token, and the plan's nonzeros per row.",
    NoArguments,
)
def s2t2_results() -> dict:
    from discolab.core.errors import DiscolabError
    from discolab.core.runs import RunsDB
    from discolab.experiments.s2t2_eval import summary

    try:
        table = summary(RunsDB())
    except DiscolabError:
        raise ToolError("no S2T2 results yet: run `discolab s2t2 eval`") from None
    return {"conditions": table.round(4).to_dict(orient="records")}


class PlanArguments(BaseModel):
    tokens: list[str] = Field(
        description="protein tokens (residue strings, e.g. 'L', 'AA', 'GKT')", min_length=1, max_length=100
    )
    top: int = Field(5, ge=1, le=50, description="source tokens per protein token")


@register(
    "s2t2_plan",
    "Which SmolLM2 tokens a protein token is translated to by the most recently learned S2T2 plan, with weights.",
    PlanArguments,
)
def s2t2_plan(tokens: list[str], top: int) -> dict:
    from discolab.core.s2t2.conditions import load_plan, plan_mapping, saved_plans

    plans = saved_plans()
    if not plans:
        raise ToolError("no learned plan yet: run `discolab s2t2 train`")
    try:
        payload = load_plan(plans[0])
        return {"plan": plans[0].parent.name, "mapping": plan_mapping(payload, tokens, top)}
    except ValueError as err:
        raise ToolError(str(err)) from None
