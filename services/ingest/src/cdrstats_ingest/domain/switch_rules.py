"""What makes a switch's configuration acceptable: checked when it is saved, not when its first CDR fails."""

from __future__ import annotations

import functools
import re
import zoneinfo
from urllib.parse import urlsplit

import phonenumbers

from cdrstats_ingest.domain import kamailio
from cdrstats_ingest.domain.errors import IngestError, InvalidCdr
from cdrstats_ingest.domain.switch import CONNECTOR_TYPES, DIRECTION_RULE_FIELDS, DIRECTIONS, SwitchConfig

SWITCH_TYPES = ("freeswitch", "asterisk", "kamailio", "other")
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9_.@+-]{1,64}")  # HTTP basic: no colon, nothing to quote
PREFIX_PATTERN = re.compile(r"\+?[0-9*#]{1,15}")
MAX_EXTENSION_LEN = 15  # E.164 numbers have at most 15 digits
MAX_PORT = 65_535
_SQL_SCHEMES = ("postgresql", "postgres", "mysql", "mariadb")
#: URL schemes the pull connectors open (a "+driver" suffix such as postgresql+psycopg is ignored)
CONNECTOR_DSN_SCHEMES = {
    "kamailio_acc": _SQL_SCHEMES,
    "asterisk_db": _SQL_SCHEMES,
    "freeswitch_mongodb": ("mongodb",),
}


class InvalidSwitch(IngestError):
    """A switch configuration field is unacceptable; ``field`` names it as the API spells it."""

    def __init__(self, message: str, *, field: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_switch(config: SwitchConfig) -> None:
    """Raise InvalidSwitch naming the first bad field (``switch.<field>``) and what was expected."""
    if not ID_PATTERN.fullmatch(config.id):
        raise InvalidSwitch(
            f"expected 1-64 letters, digits, '.', '_' or '-' (starting with a letter or digit), got {config.id!r}",
            field="switch.id",
        )
    if config.type not in SWITCH_TYPES:
        raise InvalidSwitch(f"expected one of {', '.join(SWITCH_TYPES)}, got {config.type!r}", field="switch.type")
    if config.home_country not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidSwitch(
            f"expected an ISO 3166 alpha-2 country code such as US, GB or FR, got {config.home_country!r}",
            field="switch.home_country",
        )
    if config.time_zone not in _time_zones():
        raise InvalidSwitch(
            f"expected an IANA time zone such as Europe/Paris or UTC, got {config.time_zone!r}",
            field="switch.time_zone",
        )
    if config.username and not USERNAME_PATTERN.fullmatch(config.username):
        raise InvalidSwitch(
            f"expected 1-64 letters, digits or . _ @ + - (no colon), got {config.username!r}", field="switch.username"
        )
    if not 0 <= config.internal_extension_max_len <= MAX_EXTENSION_LEN:
        raise InvalidSwitch(
            f"expected 0 to {MAX_EXTENSION_LEN}, got {config.internal_extension_max_len}",
            field="switch.internal_extension_max_len",
        )
    for index, prefix in enumerate(config.remove_prefixes):
        if not PREFIX_PATTERN.fullmatch(prefix):
            raise InvalidSwitch(
                f"expected up to 15 digits (optionally after '+', may hold * or #), got {prefix!r}",
                field=f"switch.remove_prefixes[{index}].prefix",
            )
    _validate_direction_rules(config)
    _validate_connector(config)


def _validate_direction_rules(config: SwitchConfig) -> None:
    for index, rule in enumerate(config.direction_rules):
        where = f"switch.direction_rules[{index}]"
        if rule.field not in DIRECTION_RULE_FIELDS:
            raise InvalidSwitch(
                f"expected one of {', '.join(DIRECTION_RULE_FIELDS)}, got {rule.field!r}", field=f"{where}.field"
            )
        if rule.direction not in DIRECTIONS:
            raise InvalidSwitch(
                f"expected one of {', '.join(DIRECTIONS)}, got {rule.direction!r}", field=f"{where}.direction"
            )
        if not rule.pattern:
            raise InvalidSwitch("expected a regular expression, got nothing", field=f"{where}.pattern")
        try:
            re.compile(rule.pattern)
        except re.error as exc:
            raise InvalidSwitch(
                f"not a regular expression ({exc}): {rule.pattern!r}", field=f"{where}.pattern"
            ) from exc


def _check_url(dsn: str) -> None:
    """A DSN the connector and the setup snippet can take apart (a bad port or IPv6 literal would fail there)."""
    try:
        _ = urlsplit(dsn).port  # raises ValueError on "[::1" or a port out of 0-65535
    except ValueError:  # its text may quote a password: not repeated
        raise InvalidSwitch(
            "not a valid URL: expected host[:port] with a port from 0 to 65535 (an IPv6 host in [brackets])",
            field="switch.connector.dsn",
        ) from None


def _validate_connector(config: SwitchConfig) -> None:
    connector = config.connector
    if connector.type not in CONNECTOR_TYPES:
        known = ", ".join(repr(t) for t in CONNECTOR_TYPES)
        raise InvalidSwitch(f"expected one of {known}, got {connector.type!r}", field="switch.connector.type")
    if not connector.type:
        return
    if not connector.dsn:
        raise InvalidSwitch(f"a {connector.type} connector needs a dsn", field="switch.connector.dsn")
    schemes = CONNECTOR_DSN_SCHEMES.get(connector.type)
    scheme = connector.dsn.partition("://")[0].split("+", 1)[0].lower() if "://" in connector.dsn else ""
    if schemes and scheme not in schemes:
        expected = " or ".join(f"{name}://..." for name in schemes)
        raise InvalidSwitch(f"expected a URL such as {expected}", field="switch.connector.dsn")
    if schemes:
        _check_url(connector.dsn)
    esl = re.fullmatch(r"[^\s:/]+:([0-9]{1,5})", connector.dsn)
    if connector.type == "freeswitch_esl" and (esl is None or int(esl[1]) > MAX_PORT):
        raise InvalidSwitch(
            f"expected host:port of the event socket, got {connector.dsn!r}", field="switch.connector.dsn"
        )
    if connector.poll_interval_s < 1:
        raise InvalidSwitch(
            f"expected at least 1 second, got {connector.poll_interval_s}", field="switch.connector.poll_interval_s"
        )
    if connector.type == "kamailio_acc":
        try:
            kamailio.column_map(connector.columns)
        except InvalidCdr as exc:
            raise InvalidSwitch(str(exc).partition(": ")[2], field="switch.connector.columns") from exc
    if connector.layout not in ("", "calldate", "start_answer_end"):
        raise InvalidSwitch(
            f"expected calldate, start_answer_end or empty (detect), got {connector.layout!r}",
            field="switch.connector.layout",
        )
