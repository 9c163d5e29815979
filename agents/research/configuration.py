"""Settings of the research agent. No API key here: it comes from :mod:`discolab.core.llm.credentials`
by the base URL (the environment's key only for the environment's server), and is never stored."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AgentSettings:
    base_url: str | None = None  # an OpenAI-compatible server; None: OPENAI_BASE_URL, else api.openai.com
    model: str = "gpt-4o-mini"
    max_steps: int = 8  # LLM turns before the agent must answer
    temperature: float = 0.0
    seed: int = 0
