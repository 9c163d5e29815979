"""The research agent's state: the conversation, with tool calls and their results."""

from langgraph.graph import MessagesState


class AgentState(MessagesState):
    steps: int  # LLM turns taken
