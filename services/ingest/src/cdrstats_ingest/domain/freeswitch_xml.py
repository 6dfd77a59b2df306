"""FreeSWITCH mod_xml_cdr: decode a POSTed ``<cdr>`` document and turn one leg into a canonical CDR.

Every ``encode`` mode of the module is accepted: ``textxml`` (the raw XML), ``false``
(``cdr=`` followed by the raw XML, not url-encoded), ``true`` (``cdr=`` + the XML
url-encoded again, so the already percent-encoded variable values come out of the
first decoding still encoded) and ``base64`` (``cdr=`` + base64). Variable values are
percent-encoded by the switch; caller profile and times are plain element text.

The XML is parsed with expat directly: a DOCTYPE or entity declaration is refused
outright, so neither entity expansion ("billion laughs") nor external entities can
happen, whatever the expat version.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any, NoReturn
from xml.parsers import expat

from cdrstats_ingest.domain.errors import InvalidCdr
from cdrstats_ingest.domain.freeswitch_json import form_cdr, utf8
from cdrstats_ingest.domain.freeswitch_leg import Leg, decode_variables, to_cdr
from cdrstats_ingest.domain.switch import SwitchConfig

SOURCE = "freeswitch_xml"
_OTHER_SIDES = ("originatee", "originator")


def decode_body(body: bytes, content_type: str = "") -> ET.Element:
    """The ``<cdr>`` element of a mod_xml_cdr POST, whatever its encode mode (content type is not trusted)."""
    text = utf8(body, "body").lstrip()
    if not text.startswith("<"):
        raw = text[4:] if text.startswith("cdr=") else ""
        text = raw.lstrip() if raw.lstrip().startswith("<") else form_cdr(text, opening=("<",), kind="<cdr>").lstrip()
    root = parse_xml(text)
    if root.tag != "cdr":
        raise InvalidCdr(f"expected a <cdr> root element, got <{root.tag}>", field="body")
    return root


def parse_xml(text: str) -> ET.Element:
    """An element tree from XML text; DTDs and entity declarations are refused, not expanded."""
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.EntityDeclHandler = _refuse_entity
    parser.ExternalEntityRefHandler = _refuse_external
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(text, True)
    except expat.ExpatError as exc:
        message = expat.errors.messages[exc.code] if exc.code else str(exc)
        raise InvalidCdr(
            f"not well-formed XML: {message} at line {exc.lineno} column {exc.offset + 1}", field="body"
        ) from None
    return builder.close()


def normalise(root: ET.Element, switch: SwitchConfig, *, uuid_hint: str = "") -> dict[str, Any]:
    """One leg's ``<cdr>`` document as a complete, enriched and validated canonical CDR."""
    callflow = root.find("callflow")  # the current profile comes first
    profile_element = callflow.find("caller_profile") if callflow is not None else None
    channel_data = _children_text(root.find("channel_data"))
    extra = {name: value for name, value in root.attrib.items()}
    extra.update({f"channel_data.{name}": value for name, value in channel_data.items()})
    leg = Leg(
        variables=decode_variables(_variables(root.find("variables"))),
        profile=_children_text(profile_element),
        other_legs=_other_legs(profile_element),
        callflow_times=_children_text(callflow.find("times") if callflow is not None else None),
        channel_direction=channel_data.get("direction", ""),
        audio_in=_audio_inbound(root),
        extra=extra,
    )
    return to_cdr(leg, switch, source=SOURCE, uuid_hint=uuid_hint)


def _variables(element: ET.Element | None) -> dict[str, str]:
    """Name -> raw (still encoded) text; a repeated variable (an array) keeps its later values as name[2]..."""
    values: dict[str, str] = {}
    if element is None:
        return values
    counts: dict[str, int] = {}
    for child in element:
        count = counts[child.tag] = counts.get(child.tag, 0) + 1
        values[child.tag if count == 1 else f"{child.tag}[{count}]"] = child.text or ""
    return values


def _children_text(element: ET.Element | None) -> dict[str, str]:
    """The text of the element's leaf children (elements with children of their own are structure, not values)."""
    if element is None:
        return {}
    return {child.tag: (child.text or "").strip() for child in element if len(child) == 0}


def _other_legs(profile: ET.Element | None) -> tuple[str, ...]:
    if profile is None:
        return ()
    uuids = [
        (other.findtext("uuid") or "").strip()
        for side in _OTHER_SIDES
        for other in profile.findall(f"{side}/{side}_caller_profile")
    ]
    return tuple(uuid for uuid in uuids if uuid)


def _audio_inbound(root: ET.Element) -> dict[str, str]:
    """callStats audio inbound counters, when the switch version writes them."""
    for name in ("callStats", "call-stats", "call_stats"):
        inbound = root.find(f"{name}/audio/inbound")
        if inbound is not None:
            return _children_text(inbound)
    return {}


def _refuse_doctype(name: str, *_args: object) -> NoReturn:
    raise InvalidCdr(f"a DOCTYPE ({name}) is not allowed in a CDR document", field="body")


def _refuse_entity(name: str, *_args: object) -> NoReturn:
    raise InvalidCdr(f"an entity declaration ({name}) is not allowed in a CDR document", field="body")


def _refuse_external(*_args: object) -> NoReturn:
    raise InvalidCdr("external entities are not allowed in a CDR document", field="body")
