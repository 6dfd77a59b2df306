"""proto <-> domain conversion for ingest, nothing else."""

from __future__ import annotations

from cdrstats.ingest.v1 import ingest_pb2
from cdrstats_ingest.domain.switch import SwitchConfig


def switch_to_proto(config: SwitchConfig) -> ingest_pb2.Switch:
    return ingest_pb2.Switch(
        id=config.id,
        name=config.name,
        type=config.type,
        home_country=config.home_country,
        username=config.username,
        enabled=config.enabled,
        time_zone=config.time_zone,
    )


def switch_from_proto(message: ingest_pb2.Switch) -> SwitchConfig:
    return SwitchConfig(
        id=message.id,
        name=message.name or message.id,
        type=message.type or "freeswitch",
        home_country=message.home_country or "US",
        username=message.username,
        enabled=message.enabled,
        time_zone=message.time_zone or "UTC",
    )
