"""The tools the workbench offers now: graphs, discovery runs, the runs database, distributions.

Each method issue adds its own tools in a module like this one. The true graph is never
returned by a tool: the agent sees variables and descriptions, and metrics scored against the
truth, as the discovery loop does.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from .registry import GraphChoice, Seed, ToolError, register


class NoArguments(BaseModel):
    pass


@register("list_graphs", "List the benchmark causal graphs: name, number of variables and edges, context.", NoArguments)
def list_graphs() -> list[dict]:
    from discolab.core.graphs import BENCHMARKS, load_benchmark

    out = []
    for name in BENCHMARKS:
        spec = load_benchmark(name)
        out.append({"name": name, "variables": len(spec.variables), "edges": len(spec.edges), "context": spec.context})
    return out


class GraphArguments(BaseModel):
    graph: GraphChoice = Field(description="benchmark name (optionally NAME-renamed) or an uploaded graph file")


@register(
    "describe_graph",
    "The variables of a graph with their descriptions and the domain context (not its edges).",
    GraphArguments,
)
def describe_graph(graph: str) -> dict:
    from discolab.core.graphs import resolve_graph

    spec = resolve_graph(graph)
    return {
        "name": spec.name,
        "context": spec.context,
        "variables": [{"name": v.name, "description": v.description} for v in spec.variables],
    }


class DiscoveryArguments(BaseModel):
    graph: GraphChoice = Field("asia", description="benchmark name or an uploaded graph file")
    prior: str = Field("simulated:0.8", description="llm, pc, ges, or simulated:Q (a simulated expert of F1 Q)")
    strategy: Literal["uncertainty", "random", "confident", "bootstrap"] = "uncertainty"
    update: Literal["llm", "structural", "none"] = "structural"
    experimenter: str = Field("oracle", description="oracle, noisy:EPS or interventional[:N]")
    rounds: int = Field(4, ge=0, le=50)
    per_round: int = Field(2, ge=1, le=100)
    seed: Seed = 0


@register(
    "run_discovery",
    "Run an IGDA discovery: prior, then rounds of experiments on the selected edges; returns the run id "
    "and precision, recall, F1 and SHD after every round.",
    DiscoveryArguments,
    heavy=True,
)
def run_discovery(**settings) -> dict:
    from discolab.agents.discovery import DiscoverySettings, start_discovery

    if settings["experimenter"] == "human":
        raise ToolError("the agent cannot run a human-in-the-loop discovery; use the dashboard or the CLI")
    run = start_discovery(DiscoverySettings(**settings))
    result = run.as_dict()
    for record in result["rounds"]:
        record.pop("edges", None)  # the predicted edges are long; metrics carry the answer
    return result


class RunsArguments(BaseModel):
    experiment: str | None = Field(None, description="an experiment name; omit to list all experiments")


@register(
    "query_runs",
    "The runs database: without an experiment, the experiments with their cells and rows; with one, "
    "the mean and std of each metric per setting at each run's last step.",
    RunsArguments,
)
def query_runs(experiment: str | None = None) -> list[dict]:
    from discolab.core.runs import RunsDB
    from discolab.core.scaling.analysis import select_rows

    db = RunsDB()
    if experiment is None:
        return db.experiments().to_dict(orient="records")
    wide = select_rows(db.wide(experiment))
    metrics = [c for c in wide.columns if c not in ("config_hash", "seed", "step") and wide[c].dtype.kind in "fi"]
    keys = [c for c in wide.columns if c not in (*metrics, "config_hash", "seed", "step")]
    table = wide.groupby(keys, dropna=False)[metrics].agg(["mean", "std"]).round(4)
    table.columns = [f"{m}_{s}" for m, s in table.columns]
    return table.reset_index().head(200).to_dict(orient="records")


class DistributionArguments(BaseModel):
    experiment: str = Field(description="an experiment in the runs database")
    scale: str = Field(description="the setting / scale column")
    metric: str = Field(description="the metric column")
    threshold: float | None = Field(None, description="success = metric >= threshold (default: mixture)")
    where: dict[str, str] = Field(default_factory=dict, description="column = value filters")
    step: str = Field("last", description="trajectory step: last, all, or a number")


@register(
    "analyse_distributions",
    "Distribution of a metric across seeds per setting: dip test, 1- vs 2-component mixture BIC, "
    "bimodality, P(success) with CI, mean of successful runs, sharpness along scale.",
    DistributionArguments,
)
def analyse_distributions(experiment, scale, metric, threshold, where, step) -> dict:
    from discolab.core.runs import RunsDB
    from discolab.core.scaling import analyze
    from discolab.core.scaling.analysis import select_rows

    table = select_rows(RunsDB().wide(experiment), where, step)
    return analyze(table, scale, metric, threshold=threshold).as_dict()


class CharEDArguments(BaseModel):
    prompt: str = Field(description="the text to continue", max_length=4000)
    # Only the embedded models by name: a model may not load files of its choosing, nor many models.
    models: list[Literal["smollm2", "gemma3-270m"]] = Field(
        default_factory=lambda: ["smollm2", "gemma3-270m"], min_length=1, max_length=4, description="local models"
    )
    weights: list[float] | None = Field(None, max_length=4, description="one weight per model (default: equal)")
    max_chars: int = Field(60, ge=1, le=400)
    seed: Seed | None = Field(None, description="sample with this seed (default: greedy)")


@register(
    "chared_generate",
    "Continue a prompt with CharED, a character-wise ensemble of local LLMs with different tokenizers; "
    "weights on the simplex (one per model).",
    CharEDArguments,
    heavy=True,
)
def chared_generate(prompt, models, weights, max_chars, seed) -> dict:
    from discolab.core.chared.decode import CharEDModel, generate
    from discolab.core.chared.ensemble import check_weights

    try:
        weights = check_weights(weights or [1.0] * len(models), len(models))
    except ValueError as err:
        raise ToolError(str(err)) from None
    result = generate(prompt, [CharEDModel(m) for m in models], weights, max_chars=max_chars, seed=seed)
    return {"models": models, "weights": weights, "seed": seed, "text": result.text, "segments": result.segments}


class InterpArguments(BaseModel):
    prompt: str = Field(description="the instruction or text to respond to", max_length=4000)
    alphas: dict[str, float] = Field(
        default_factory=dict,
        description="slider per attribute (sentiment, formality, simplicity); 0 = low pole, "
        "1 = high pole (positive, formal, simple), outside [0, 1] extrapolates; default 0.5",
    )
    lambdas: dict[str, float] | None = Field(None, description="mix of the attributes (default equal)")
    seed: Seed | None = Field(None, description="sample with this seed (default: greedy)")
    max_new_tokens: int = Field(60, ge=1, le=200)


@register(
    "interp_generate",
    "Generate with SmolLM2 steered by attribute sliders (LoRA anchors interpolated in weight space); "
    "returns the text and its attribute scores.",
    InterpArguments,
    heavy=True,
)
def interp_generate(prompt, alphas, lambdas, seed, max_new_tokens) -> dict:
    from discolab.core.interp.interpolate import steer

    try:
        return steer(prompt, alphas, lambdas, seed=seed, max_new_tokens=max_new_tokens)
    except (ValueError, FileNotFoundError) as err:
        raise ToolError(str(err)) from None
