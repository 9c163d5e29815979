"""The tool registry: every method exposes what it can do as a typed tool for the research agent."""

from . import builtin, ddeq, distill, moe, s2t2, tree  # noqa: F401  (registers the tools on import, so the registry is never empty)
from .registry import REGISTRY, Tool, ToolError, call_tool, register, tool_schemas

__all__ = ["REGISTRY", "Tool", "ToolError", "call_tool", "register", "tool_schemas"]
