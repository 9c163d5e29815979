"""A form for any registered tool, generated from its JSON schema: the tools without a model.

:func:`fields` reads a tool's parameter schema into one :class:`Field` per argument (its kind,
bounds, choices and default); :func:`tool_form` draws the widgets in Streamlit and returns the
arguments typed, converted to what the schema asks; the tool's own pydantic model then
validates them, as it does for a model's call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KINDS = ("string", "integer", "number", "boolean", "array")


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # one of KINDS
    description: str = ""
    required: bool = False
    default: Any = None
    choices: tuple | None = None  # an enum
    minimum: float | None = None
    maximum: float | None = None
    items: str = "string"  # an array's item kind
    item_choices: tuple | None = None  # an array of an enum's values


def fields(parameters: dict) -> list[Field]:
    """One :class:`Field` per property of a JSON schema ``object`` (pydantic's output: ``anyOf``
    with null for optional arguments, ``$defs`` references for enums)."""
    definitions = parameters.get("$defs", {})
    required = set(parameters.get("required", ()))
    out = []
    for name, spec in parameters.get("properties", {}).items():
        default = spec.get("default")
        spec = _resolve(spec, definitions)
        kind = spec.get("type", "string")
        if kind not in KINDS:
            kind = "string"
        item_spec = _resolve(spec.get("items", {}), definitions)
        items = item_spec.get("type", "string")
        item_choices = tuple(item_spec["enum"]) if "enum" in item_spec else None
        minimum = spec.get("minimum", spec.get("exclusiveMinimum"))
        maximum = spec.get("maximum", spec.get("exclusiveMaximum"))
        choices = tuple(spec["enum"]) if "enum" in spec else None
        description = spec.get("description", "")
        out.append(
            Field(name, kind, description, name in required, default, choices, minimum, maximum, items, item_choices)
        )
    return out


def _resolve(spec: dict, definitions: dict) -> dict:
    """The schema a property stands for: a ``$ref`` followed, the non-null branch of an ``anyOf``."""
    if "$ref" in spec:
        spec = {
            **definitions.get(spec["$ref"].rsplit("/", 1)[-1], {}),
            **{k: v for k, v in spec.items() if k != "$ref"},
        }
    branches = [b for b in spec.get("anyOf", ()) if b.get("type") != "null"]
    if branches:
        merged = {**_resolve(branches[0], definitions), **{k: v for k, v in spec.items() if k != "anyOf"}}
        return merged
    return spec


def parse_list(text: str, items: str) -> list:
    """A comma-separated entry as the list an ``array`` argument takes (numbers converted)."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if items == "integer":
        return [int(p) for p in parts]
    if items == "number":
        return [float(p) for p in parts]
    return parts


def tool_form(tool_name: str, parameters: dict) -> dict:
    """Streamlit widgets for ``parameters``; the arguments entered, blanks left out (the tool's
    defaults apply). A list that does not parse raises ValueError naming the argument."""
    import streamlit as st

    arguments: dict[str, Any] = {}
    for field in fields(parameters):
        key = f"tool-{tool_name}-{field.name}"
        label = field.name + ("" if field.required else " (optional)")
        help_text = field.description or None
        if field.choices:
            options = list(field.choices)
            index = options.index(field.default) if field.default in options else 0
            arguments[field.name] = st.selectbox(label, options, index=index, key=key, help=help_text)
        elif field.kind == "boolean":
            arguments[field.name] = st.checkbox(label, value=bool(field.default), key=key, help=help_text)
        elif field.kind in ("integer", "number"):
            cast = int if field.kind == "integer" else float
            bounds = {
                "min_value": None if field.minimum is None else cast(field.minimum),
                "max_value": None if field.maximum is None else cast(field.maximum),
            }
            value = cast(field.default) if field.default is not None else None
            entered = st.number_input(label, value=value, key=key, help=help_text, **bounds)
            if entered is not None:
                arguments[field.name] = cast(entered)
        elif field.kind == "array" and field.item_choices:
            picked = st.multiselect(label, list(field.item_choices), default=field.default, key=key, help=help_text)
            if picked:
                arguments[field.name] = picked
        elif field.kind == "array":
            shown = ", ".join(map(str, field.default)) if isinstance(field.default, list) else ""
            text = st.text_input(label + ", comma-separated", shown, key=key, help=help_text)
            if text.strip():
                try:
                    arguments[field.name] = parse_list(text, field.items)
                except ValueError:
                    raise ValueError(f"{field.name}: {text!r} is not a list of {field.items}s") from None
        else:
            text = st.text_input(label, "" if field.default is None else str(field.default), key=key, help=help_text)
            if text or field.required:
                arguments[field.name] = text
    return arguments
