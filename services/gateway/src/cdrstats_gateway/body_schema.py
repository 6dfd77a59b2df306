"""JSON request bodies checked against the operation's documented schema before its handler reads them.

The OpenAPI document is the contract of /api/v1: a field of the wrong type, a missing required
field or one the operation does not know is a 400 naming it. Without this, handlers coerced
(a customer named ``[None, None]``, an account code ``None``), defaulted (``"reassign": null``)
or ignored (a misspelt ``"recipient"``, which on a PUT resets the setting it meant to change)
what the document says is refused. The domain rules (formats, ranges, existence) still run in
the handlers afterwards.

Only the keywords the gateway's body schemas use are understood: ``type``, ``enum``,
``properties``, ``required``, ``additionalProperties``, ``items``, ``minimum``, ``maximum``.
Any other keyword (``format``, ``$ref``) is not checked here.
"""

from __future__ import annotations

from typing import Any

#: JSON Schema type name -> the Python types json.loads produces for it (bool is not a number)
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
}
_PHRASES = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "a boolean"}
_PHRASES.update({"object": "an object", "array": "an array", "null": "null"})


def problem(schema: dict[str, Any], value: Any, field: str = "") -> tuple[str, str] | None:
    """(field path like ``draft.recipients[0]``, what is wrong with it) of the first violation, or None."""
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if not any(_is(value, name) for name in names):
            expected = " or ".join(_PHRASES.get(name, name) for name in names)
            return field, f"expected {expected}, got {_PHRASES[_type_of(value)]}"
    if "enum" in schema and not any(value == choice and type(value) is type(choice) for choice in schema["enum"]):
        return field, "expected one of " + ", ".join(repr(choice) for choice in schema["enum"])
    if _is(value, "number"):
        if "minimum" in schema and value < schema["minimum"]:
            return field, f"expected at least {schema['minimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            return field, f"expected at most {schema['maximum']}"
    if isinstance(value, dict):
        return _object_problem(schema, value, field)
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            found = problem(schema["items"], item, f"{field}[{index}]")
            if found is not None:
                return found
    return None


def _object_problem(schema: dict[str, Any], value: dict[str, Any], field: str) -> tuple[str, str] | None:
    properties: dict[str, Any] = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in value:
            return _join(field, name), "required"
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        item_schema = properties.get(name, extra)
        if item_schema is False:
            known = ", ".join(properties) or "no fields"
            return _join(field, name[:64]), f"unknown field (known: {known})"
        if isinstance(item_schema, dict):
            found = problem(item_schema, item, _join(field, name))
            if found is not None:
                return found
    return None


def _is(value: Any, name: str) -> bool:
    return isinstance(value, _TYPES.get(name, object)) and not (isinstance(value, bool) and name != "boolean")


def _type_of(value: Any) -> str:
    """The JSON type of a value json.loads made."""
    return next((name for name in ("boolean", "integer", *_TYPES) if _is(value, name)), "null")


def _join(field: str, name: str) -> str:
    return f"{field}.{name}" if field else name
