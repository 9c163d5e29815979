"""Asking the research agent a question, from Python, the CLI or the dashboard."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from discolab.core.errors import DiscolabError, LLMError
from discolab.core.llm.credentials import client_api_key, default_base_url
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from .configuration import AgentSettings
from .graph import build_agent
from .nodes import langchain_tools


@dataclass
class AgentAnswer:
    answer: str
    tool_calls: list[dict] = field(default_factory=list)  # name, arguments, result (text)
    note: str = ""

    def as_dict(self) -> dict:
        return {"answer": self.answer, "tool_calls": self.tool_calls, "note": self.note}


def chat_model(settings: AgentSettings):
    """A tool-capable chat model behind an OpenAI-compatible endpoint.

    The URL and the key are always passed explicitly: left out, ChatOpenAI would read
    OPENAI_BASE_URL and OPENAI_API_KEY itself and send the key to whatever URL it was given.
    """
    from langchain_openai import ChatOpenAI

    base_url = settings.base_url or default_base_url()
    try:
        key = client_api_key(base_url)
    except LLMError as err:
        raise DiscolabError(f"the research agent needs a tool-capable OpenAI-compatible model: {err}") from None
    return ChatOpenAI(
        model=settings.model,
        base_url=base_url,
        api_key=key,
        temperature=settings.temperature,
        seed=settings.seed,
        max_retries=2,
    )


def ask_agent(question: str, settings: AgentSettings | None = None, model=None) -> AgentAnswer:
    """Run the tool-calling loop on ``question``; ``model`` overrides the chat model (tests, notebooks)."""
    settings = settings or AgentSettings()
    model = model if model is not None else chat_model(settings)
    try:
        agent = build_agent(model, langchain_tools(), settings.max_steps)
    except NotImplementedError:
        raise DiscolabError(
            f"{type(model).__name__} cannot call tools; the research agent needs a model that can"
        ) from None
    try:
        state = agent.invoke({"messages": [HumanMessage(question)], "steps": 0})
    except Exception as err:  # the server refused tools, or is down: say so plainly
        if "tool" in str(err).lower():
            raise DiscolabError(f"the model {settings.model!r} cannot call tools here: {err}") from None
        raise DiscolabError(f"the research agent's model failed: {err}") from None
    return _answer(state["messages"])


def _answer(messages) -> AgentAnswer:
    calls, results = [], {m.tool_call_id: m.content for m in messages if isinstance(m, ToolMessage)}
    for message in messages:
        if isinstance(message, AIMessage):
            for call in message.tool_calls:
                calls.append({"name": call["name"], "arguments": call["args"], "result": results.get(call["id"], "")})
    final = messages[-1]
    answer = final.content if isinstance(final.content, str) else json.dumps(final.content)
    note = "" if calls else "the model answered without calling any tool"
    return AgentAnswer(answer, calls, note)
