"""A registry of tools: a name, a description, a typed argument schema and a function.

Arguments are a pydantic model, so the JSON schema an LLM sees and the validation of what it
sends come from one definition. A tool returns JSON-serialisable data. Methods register their
tools with :func:`register` in their own module (see :mod:`.builtin`); importing
:mod:`discolab.agents.tools.builtin` fills the registry.

Tool arguments are chosen by a model, which may follow instructions planted in what it reads.
So a graph argument is a :data:`GraphChoice` (a benchmark or an uploaded file, nothing else on
disk), numbers that set the work are bounded, and heavy tools (training, discovery, local
generation) run one at a time in the process, however many calls arrive together.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from discolab.core.errors import DiscolabError
from pydantic import AfterValidator, BaseModel, Field, ValidationError


class ToolError(DiscolabError):
    """A tool was called with bad arguments or failed; the message is meant for the LLM and the user."""


_heavy_lock = threading.Lock()  # one heavy tool at a time per process: the CPU is the limit


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    arguments: type[BaseModel]
    function: Callable[..., Any]
    heavy: bool = False  # trains or runs long: waits for any other heavy tool to finish

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
            if self.heavy:
                with _heavy_lock:
                    return self.function(**parsed.model_dump())
            return self.function(**parsed.model_dump())
        except ToolError:
            raise
        except DiscolabError as err:  # a method's own error (bad setting, missing file) is the tool's message
            raise ToolError(str(err)) from None


REGISTRY: dict[str, Tool] = {}


def allowed_graph(graph: str) -> str:
    """``graph`` if it is a benchmark name, else the resolved path of a file inside the data
    directory's ``uploads`` folder (a relative name is taken inside it). Anything else, however
    it is spelled ('..', symlinks, absolute paths), is refused: a tool's result goes back to a
    remote model, so tools must not read arbitrary files."""
    from discolab.core.graphs import BENCHMARKS
    from discolab.core.graphs.benchmarks import RENAMED_SUFFIX
    from discolab.core.paths import data_home

    if graph.removesuffix(RENAMED_SUFFIX) in BENCHMARKS:
        return graph
    uploads = (data_home() / "uploads").resolve()
    try:
        path = (uploads / graph).resolve()  # an absolute ``graph`` replaces the folder; resolve follows links
        inside = path.is_relative_to(uploads) and path != uploads and path.is_file()
    except (OSError, ValueError):  # a NUL byte, a name too long, a link loop
        inside = False
    if inside:
        return str(path)
    files = sorted(p.name for p in uploads.iterdir() if p.is_file() and not p.is_symlink()) if uploads.is_dir() else []
    listed = ", ".join(files[:20]) or "none yet"
    if len(files) > 20:
        listed += f" and {len(files) - 20} more"
    raise ToolError(
        f"graph {graph!r} is not available to tools: give a benchmark ({', '.join(BENCHMARKS)}, optionally "
        f"with '{RENAMED_SUFFIX}') or a graph file uploaded to {uploads} ({listed})"
    )


# A graph argument of a tool. A ToolError from the validator passes through pydantic unchanged.
GraphChoice = Annotated[str, AfterValidator(allowed_graph)]
# A seed of a tool's run: bounded, as numpy and torch need.
Seed = Annotated[int, Field(ge=0, le=2**31 - 1)]


def rounded(metrics: Mapping[str, Any], digits: int = 4) -> dict:
    """``metrics`` with its floats rounded: what a tool returns of one run's metrics."""
    return {k: round(v, digits) if isinstance(v, float) else v for k, v in metrics.items()}


def records(frame, digits: int = 4) -> list[dict]:
    """A results table as JSON rows: floats rounded, missing values as None (JSON has no NaN)."""
    return frame.round(digits).astype(object).where(frame.notna(), None).to_dict(orient="records")


def register(name: str, description: str, arguments: type[BaseModel], heavy: bool = False):
    """Decorator: register ``function(**arguments)`` as the tool ``name``; ``heavy`` for one that
    trains or runs long (such tools run one at a time)."""

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        if name in REGISTRY:
            raise ValueError(f"tool {name!r} is registered twice")
        REGISTRY[name] = Tool(name, description, arguments, function, heavy)
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
