"""The research agent: a LangGraph tool-calling loop over the tool registry."""

from .configuration import AgentSettings
from .run import AgentAnswer, ask_agent

__all__ = ["AgentAnswer", "AgentSettings", "ask_agent"]
