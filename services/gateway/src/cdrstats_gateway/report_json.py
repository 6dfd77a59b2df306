"""Reporting replies -> the public JSON (one walker for every report, so page and API never differ).

Every ``*_us`` instant becomes an RFC 3339 string under the name without ``_us``
(``start_us`` -> ``start``, ``bucket_start_us`` -> ``bucket_start``), with null for 0
where 0 means "none" (an answer time); int64 stays a JSON number; every field is present.
Countries also carry their name and ISO numeric code (the world map's shape id), hangup
causes their Q.850 name. ``json_schema`` describes exactly this output for OpenAPI.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from cdrstats_common import q850
from cdrstats_gateway.domain import labels
from cdrstats_gateway.domain.cdr_format import rfc3339_us

#: instants where 0 means "not yet" rather than the epoch
_NULL_WHEN_ZERO = {"answer_time_us", "max_at_us", "last_event_us"}


def _instant(name: str, value: int) -> str | None:
    if value == 0 and name in _NULL_WHEN_ZERO:
        return None
    return rfc3339_us(value)


def _scalar(field: Any, value: Any) -> Any:
    """Doubles rounded for display (sums of minutes carry float noise); the reports have no enums."""
    if field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return round(value, 6)
    return value


def to_json(message: Message) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        name = field.name
        value = getattr(message, name)
        key = name[: -len("_us")] if name.endswith("_us") else name
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            shown[key] = dict(value)
        elif field.is_repeated:
            if field.message_type is not None:
                shown[key] = [to_json(item) for item in value]
            elif name.endswith("_us"):
                shown[key] = [_instant(name, item) for item in value]
            else:
                shown[key] = [_scalar(field, item) for item in value]
        elif field.message_type is not None:
            shown[key] = to_json(value)
        elif name.endswith("_us"):
            shown[key] = _instant(name, value)
        else:
            shown[key] = _scalar(field, value)
    return _named(message.DESCRIPTOR.name, shown)


_COUNTRY_MESSAGES = {"CountryStats", "CountrySeries"}
_CAUSE_MESSAGES = {"CauseStats", "CauseSeries"}


def _named(message_name: str, shown: dict[str, Any]) -> dict[str, Any]:
    if message_name in _COUNTRY_MESSAGES:
        shown["country_name"], shown["iso_numeric"] = labels.country(shown["country"])
    elif message_name in _CAUSE_MESSAGES:
        shown["cause_name"] = q850.cause_name(shown["hangup_cause"])
    return shown


def _field_schema(field: Any) -> dict[str, Any]:
    name = field.name
    if field.message_type is not None:
        if field.message_type.GetOptions().map_entry:
            return {"type": "object", "additionalProperties": {"type": "string"}}
        return json_schema(field.message_type)
    if name.endswith("_us"):
        kind: Any = ["string", "null"] if name in _NULL_WHEN_ZERO else "string"
        return {"type": kind, "format": "date-time"}
    if field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return {"type": "number"}
    if field.type == FieldDescriptor.TYPE_BOOL:
        return {"type": "boolean"}
    if field.type == FieldDescriptor.TYPE_STRING:
        return {"type": "string"}
    return {"type": "integer"}


def json_schema(descriptor: Any) -> dict[str, Any]:
    """The JSON Schema of ``to_json``'s output for a message type (every property required)."""
    properties: dict[str, Any] = {}
    for field in descriptor.fields:
        key = field.name[: -len("_us")] if field.name.endswith("_us") else field.name
        schema = _field_schema(field)
        if field.is_repeated and not (field.message_type is not None and field.message_type.GetOptions().map_entry):
            schema = {"type": "array", "items": schema}
        properties[key] = schema
    if descriptor.name in _COUNTRY_MESSAGES:
        properties.update(country_name={"type": "string"}, iso_numeric={"type": "string"})
    elif descriptor.name in _CAUSE_MESSAGES:
        properties["cause_name"] = {"type": "string"}
    return {"type": "object", "properties": properties, "required": sorted(properties)}
