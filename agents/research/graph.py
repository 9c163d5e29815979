"""The research agent's wiring: the LLM node and the tool node, looping until the LLM answers.

agent -> (tool calls ? tools -> agent : END)
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph
from langgraph.prebuilt import ToolNode

from .nodes import make_agent_node, next_step
from .state import AgentState


def build_agent(chat_model, tools: list, max_steps: int = 8):
    """Compile the loop for a LangChain chat model that supports ``bind_tools``."""
    graph = StateGraph(AgentState)
    graph.add_node("agent", make_agent_node(chat_model.bind_tools(tools), max_steps))
    graph.add_node("tools", ToolNode(tools, handle_tool_errors=True))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", next_step, {"tools": "tools", "end": END})
    graph.add_edge("tools", "agent")
    # ToolNode runs the tool calls of one message in a thread pool as wide as max_concurrency:
    # one at a time, so a model cannot start several runs at once (heavy tools also take a lock).
    return graph.compile().with_config(max_concurrency=1)
