"""proto <-> domain conversion for ingest, nothing else."""

from __future__ import annotations

from cdrstats.ingest.v1 import ingest_pb2
from cdrstats_ingest.domain.switch import ConnectorSettings, DirectionRule, SwitchConfig


def switch_to_proto(config: SwitchConfig, *, has_password: bool = False) -> ingest_pb2.Switch:
    """The connector password is write only: it never leaves the service."""
    connector = config.connector
    return ingest_pb2.Switch(
        id=config.id,
        name=config.name,
        type=config.type,
        home_country=config.home_country,
        username=config.username,
        enabled=config.enabled,
        time_zone=config.time_zone,
        internal_extension_max_len=config.internal_extension_max_len,
        remove_prefixes=[ingest_pb2.PrefixRule(prefix=p) for p in config.remove_prefixes],
        direction_rules=[
            ingest_pb2.DirectionRule(field=r.field, pattern=r.pattern, direction=r.direction)
            for r in config.direction_rules
        ],
        connector=ingest_pb2.ConnectorSettings(
            type=connector.type,
            dsn=connector.dsn,
            table=connector.table,
            poll_interval_s=connector.poll_interval_s,
            columns=dict(connector.columns),
            enrich_from_acc=connector.enrich_from_acc,
            layout=connector.layout,
        ),
        has_password=has_password,
    )


def switch_from_proto(message: ingest_pb2.Switch) -> SwitchConfig:
    connector = message.connector
    return SwitchConfig(
        id=message.id,
        name=message.name or message.id,
        type=message.type or "freeswitch",
        home_country=message.home_country or "US",
        username=message.username,
        enabled=message.enabled,
        time_zone=message.time_zone or "UTC",
        internal_extension_max_len=message.internal_extension_max_len or 5,
        remove_prefixes=tuple(rule.prefix for rule in message.remove_prefixes if rule.prefix),
        direction_rules=tuple(
            DirectionRule(field=r.field, pattern=r.pattern, direction=r.direction) for r in message.direction_rules
        ),
        connector=ConnectorSettings(
            type=connector.type,
            dsn=connector.dsn,
            table=connector.table,
            poll_interval_s=connector.poll_interval_s or 10,
            password=connector.password,
            columns=tuple(sorted(connector.columns.items())),
            enrich_from_acc=connector.enrich_from_acc,
            layout=connector.layout,
        ),
    )
