"""Settings of the research agent. The API key is read from the environment, never stored."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AgentSettings:
    base_url: str | None = None  # an OpenAI-compatible server; None: api.openai.com
    model: str = "gpt-4o-mini"
    max_steps: int = 8  # LLM turns before the agent must answer
    temperature: float = 0.0
    seed: int = 0
    api_key_env: str = "OPENAI_API_KEY"  # name of the variable holding the key
