"""A registry of tools: a name, a description, a typed argument schema and a function.

Arguments are a pydantic model, so the JSON schema an LLM sees and the validation of what it
sends come from one definition. A tool returns JSON-serialisable data. Methods register their
tools with :func:`register` in their own module (see :mod:`.builtin`); importing
:mod:`discolab.agents.tools.builtin` fills the registry.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from discolab.core.errors import DiscolabError
from pydantic import BaseModel, ValidationError


class ToolError(DiscolabError):
    """A tool was called with bad arguments or failed; the message is meant for the LLM and the user."""


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    arguments: type[BaseModel]
    function: Callable[..., Any]

    def schema(self) -> dict:
        """The OpenAI function-calling description of this tool."""
        parameters = self.arguments.model_json_schema()
        parameters.pop("title", None)
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": parameters},
        }

    def __call__(self, **arguments) -> Any:
        try:
            parsed = self.arguments(**arguments)
        except ValidationError as err:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in err.errors())
            raise ToolError(f"bad arguments for {self.name}: {problems}") from None
        try:
            return self.function(**parsed.model_dump())
        except ToolError:
            raise
        except DiscolabError as err:  # a method's own error (bad setting, missing file) is the tool's message
            raise ToolError(str(err)) from None


REGISTRY: dict[str, Tool] = {}


def rounded(metrics: Mapping[str, Any], digits: int = 4) -> dict:
    """``metrics`` with its floats rounded: what a tool returns of one run's metrics."""
    return {k: round(v, digits) if isinstance(v, float) else v for k, v in metrics.items()}


def records(frame, digits: int = 4) -> list[dict]:
    """A results table as JSON rows: floats rounded, missing values as None (JSON has no NaN)."""
    return frame.round(digits).astype(object).where(frame.notna(), None).to_dict(orient="records")


def register(name: str, description: str, arguments: type[BaseModel]):
    """Decorator: register ``function(**arguments)`` as the tool ``name``."""

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        if name in REGISTRY:
            raise ValueError(f"tool {name!r} is registered twice")
        REGISTRY[name] = Tool(name, description, arguments, function)
        return function

    return decorate


def tool_schemas() -> list[dict]:
    return [tool.schema() for tool in REGISTRY.values()]


def call_tool(name: str, arguments: dict | str) -> Any:
    """Run a registered tool on arguments given as a dict or a JSON string (as LLMs send them)."""
    if name not in REGISTRY:
        raise ToolError(f"unknown tool {name!r}; available: {', '.join(sorted(REGISTRY))}")
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments or "{}")
        except json.JSONDecodeError as err:
            raise ToolError(f"arguments for {name} are not valid JSON: {err}") from None
    return REGISTRY[name](**arguments)
