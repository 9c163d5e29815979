"""The research agent's nodes and the registry's tools as LangChain tools."""

from __future__ import annotations

import json

from discolab.agents.tools import REGISTRY, call_tool
from langchain_core.messages import AIMessage, SystemMessage
from langchain_core.tools import StructuredTool

from .prompts import SYSTEM
from .state import AgentState


def langchain_tools() -> list[StructuredTool]:
    """Every registered tool as a LangChain tool; results go back to the LLM as JSON text."""
    import discolab.agents.tools.builtin  # noqa: F401  (fills the registry)

    def wrap(name: str):
        def run(**arguments) -> str:
            return json.dumps(call_tool(name, arguments), default=str)

        return run

    return [
        StructuredTool.from_function(wrap(t.name), name=t.name, description=t.description, args_schema=t.arguments)
        for t in REGISTRY.values()
    ]


def make_agent_node(model, max_steps: int):
    def agent(state: AgentState) -> dict:
        steps = state.get("steps", 0)
        if steps >= max_steps:  # out of turns: answer from what the tools returned so far
            return {"messages": [AIMessage(f"I stopped after {max_steps} steps without a final answer.")]}
        reply = model.invoke([SystemMessage(SYSTEM), *state["messages"]])
        return {"messages": [reply], "steps": steps + 1}

    return agent


def next_step(state: AgentState) -> str:
    last = state["messages"][-1]
    return "tools" if isinstance(last, AIMessage) and last.tool_calls else "end"
