"""LangGraph state machines: the discovery loop, the research agent, the tool registry."""
