"""The tool registry and the research agent's loop. The LLM is a scripted chat model (the
embedded model cannot call tools); the tools run for real."""

import json

import pytest
from discolab.agents.research import AgentSettings, ask_agent
from discolab.agents.tools import REGISTRY, ToolError, call_tool, tool_schemas
from discolab.core.errors import DiscolabError
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage


class ScriptedToolModel(GenericFakeChatModel):
    """Replies from a fixed script; accepts tools as a tool-capable model does."""

    def bind_tools(self, tools, **kwargs):
        return self


def call(name, args, id_):
    return {"name": name, "args": args, "id": id_, "type": "tool_call"}


def test_registry_has_typed_schemas_and_validates_arguments():
    import discolab.agents.tools.builtin  # noqa: F401

    names = {s["function"]["name"] for s in tool_schemas()}
    assert {"list_graphs", "describe_graph", "run_discovery", "query_runs", "analyse_distributions"} <= names
    schema = REGISTRY["run_discovery"].schema()["function"]["parameters"]
    assert schema["properties"]["strategy"]["enum"] == ["uncertainty", "random", "confident", "bootstrap"]
    with pytest.raises(ToolError, match="per_round: Input should be greater than or equal to 1"):
        call_tool("run_discovery", {"per_round": 0})
    with pytest.raises(ToolError, match="unknown tool 'nope'"):
        call_tool("nope", {})
    with pytest.raises(ToolError, match="not valid JSON"):
        call_tool("describe_graph", "{graph: asia")
    assert "edges" not in call_tool("describe_graph", '{"graph": "asia"}')  # the truth stays out


def test_a_methods_own_error_reaches_the_caller_as_a_tool_error():
    from discolab.agents.tools.registry import register
    from pydantic import BaseModel

    class NoArguments(BaseModel):
        pass

    @register("failing_method", "raises the error a method raises on a bad setting", NoArguments)
    def failing_method():
        raise DiscolabError("expert epoch 30 out of range 1..20")

    try:
        with pytest.raises(ToolError, match="expert epoch 30 out of range 1..20"):
            call_tool("failing_method", {})
    finally:
        del REGISTRY["failing_method"]


def test_agent_calls_real_tools_and_answers_with_their_results():
    script = iter(
        [
            AIMessage("", tool_calls=[call("describe_graph", {"graph": "cancer"}, "c1")]),
            AIMessage(
                "",
                tool_calls=[
                    call("run_discovery", {"graph": "cancer", "prior": "simulated:0.6", "rounds": 2, "seed": 1}, "c2")
                ],
            ),
            AIMessage("", tool_calls=[call("run_discovery", {"graph": "cancer", "rounds": -3}, "c3")]),
            AIMessage("Done: the simulated-expert run ended at the F1 the tool reported."),
        ]
    )
    answer = ask_agent("How well does IGDA do on cancer?", AgentSettings(), model=ScriptedToolModel(messages=script))
    assert [c["name"] for c in answer.tool_calls] == ["describe_graph", "run_discovery", "run_discovery"]
    described = json.loads(answer.tool_calls[0]["result"])
    assert {v["name"] for v in described["variables"]} == {"Pollution", "Smoker", "Cancer", "Xray", "Dyspnoea"}
    run = json.loads(answer.tool_calls[1]["result"])
    assert run["simulated_prior"] and len(run["rounds"]) == 3 and 0.0 <= run["rounds"][-1]["f1"] <= 1.0
    assert "rounds: Input should be greater than or equal to 0" in answer.tool_calls[2]["result"]
    assert answer.answer.startswith("Done")


def test_agent_stops_after_max_steps():
    script = iter([AIMessage("", tool_calls=[call("list_graphs", {}, f"c{i}")]) for i in range(10)])
    answer = ask_agent("loop", AgentSettings(max_steps=3), model=ScriptedToolModel(messages=script))
    assert len(answer.tool_calls) == 3 and "stopped after 3 steps" in answer.answer


def test_a_model_that_cannot_call_tools_is_named():
    with pytest.raises(DiscolabError, match="cannot call tools"):
        ask_agent("hi", model=GenericFakeChatModel(messages=iter([AIMessage("hello")])))


def test_chared_tool_generates_and_names_bad_weights(local_fp32):
    result = call_tool("chared_generate", {"prompt": "Hello", "models": ["smollm2"], "max_chars": 10, "seed": 1})
    assert result["text"] == "".join(result["segments"]) and result["weights"] == [1.0]
    with pytest.raises(ToolError, match="one non-negative weight per model"):
        call_tool("chared_generate", {"prompt": "Hi", "models": ["smollm2"], "weights": [0.5, 0.5]})
