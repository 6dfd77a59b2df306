"""How a switch's CDRs are normalised and collected: home country, time zone, number rules, connector."""

from __future__ import annotations

import dataclasses
from typing import Any

DIRECTIONS = ("inbound", "outbound", "internal")
DIRECTION_RULE_FIELDS = ("context", "channel", "dstchannel", "caller_id_number", "destination_number")
CONNECTOR_TYPES = ("", "kamailio_acc", "asterisk_db", "freeswitch_mongodb", "freeswitch_esl")


@dataclasses.dataclass(frozen=True)
class DirectionRule:
    """For sources with no direction (Asterisk): the first rule whose pattern matches gives it."""

    field: str  # one of DIRECTION_RULE_FIELDS
    pattern: str  # regular expression, searched
    direction: str  # one of DIRECTIONS


@dataclasses.dataclass(frozen=True)
class ConnectorSettings:
    """A pull (or event-socket) connector of one switch; ``type == ""`` means push only."""

    type: str = ""
    dsn: str = ""  # postgresql://..., mysql://..., mongodb://..., or host:port for ESL
    table: str = ""  # source table or collection
    poll_interval_s: int = 10
    password: str = ""  # write only: never returned over the API
    columns: tuple[tuple[str, str], ...] = ()  # (canonical field, source column), e.g. Kamailio cdr_extra names
    enrich_from_acc: bool = False  # Kamailio: SIP code and reason from acc / missed_calls
    layout: str = ""  # Asterisk: calldate or start_answer_end; "" detects

    @property
    def column_map(self) -> dict[str, str]:
        return dict(self.columns)


@dataclasses.dataclass(frozen=True)
class SwitchConfig:
    id: str
    name: str = ""
    type: str = "freeswitch"
    home_country: str = "US"  # ISO 3166 alpha-2, for numbers dialled without a country code
    time_zone: str = "UTC"  # for sources that write local times without a zone
    internal_extension_max_len: int = 5  # numbers this short (digits only) are extensions
    remove_prefixes: tuple[str, ...] = ()  # stripped before analysis, longest match first
    username: str = ""
    enabled: bool = True
    direction_rules: tuple[DirectionRule, ...] = ()
    connector: ConnectorSettings = ConnectorSettings()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as the stores keep it."""
        values = dataclasses.asdict(self)
        values["remove_prefixes"] = list(self.remove_prefixes)
        values["direction_rules"] = [dataclasses.asdict(rule) for rule in self.direction_rules]
        values["connector"]["columns"] = [list(pair) for pair in self.connector.columns]
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SwitchConfig:
        values = dict(values)
        values["remove_prefixes"] = tuple(values.get("remove_prefixes", ()))
        values["direction_rules"] = tuple(DirectionRule(**rule) for rule in values.get("direction_rules", ()))
        connector = dict(values.get("connector") or {})
        connector["columns"] = tuple(tuple(pair) for pair in connector.get("columns", ()))
        values["connector"] = ConnectorSettings(**connector)
        return cls(**values)


DSN_PASSWORD_MASK = "********"  # noqa: S105 - a mask, not a password


def redact_dsn(dsn: str) -> str:
    """The DSN with its password (``scheme://user:password@host``) masked: what the API shows."""
    scheme, sep, rest = dsn.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return dsn
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:{DSN_PASSWORD_MASK}@{host}"
