"""Reporting settings, read once from the environment (the only reader of os.environ)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from cdrstats_common.settings import EnvReader, default_store_url

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_GRPC_LISTEN = "127.0.0.1:50052"


@dataclasses.dataclass(frozen=True)
class ReportingSettings:
    store_url: str
    amqp_url: str
    grpc_listen: str
    time_zone: str
    log_level: str
    admin_port: int
    ingest_grpc_addr: str = ""
    processed_event_retention_days: int = 30  # applied event ids kept (0: forever); older events are refused

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ReportingSettings:
        """Build from ``environ`` (default os.environ); raises one SettingsError listing every problem."""
        reader = EnvReader(environ)
        settings = cls(
            store_url=default_store_url(reader, "reporting"),
            amqp_url=reader.str("AMQP_URL", DEFAULT_AMQP_URL),
            grpc_listen=reader.address("CDRSTATS_GRPC_LISTEN", DEFAULT_GRPC_LISTEN),
            time_zone=reader.time_zone("CDRSTATS_TIME_ZONE", "UTC"),
            log_level=reader.log_level(),
            admin_port=reader.admin_port(),
            ingest_grpc_addr=_optional_address(reader, "INGEST_GRPC_ADDR"),
            processed_event_retention_days=reader.processed_event_retention_days(),
        )
        reader.finish()
        return settings


def _optional_address(reader: EnvReader, name: str) -> str:
    """host:port, or "" when unset (reports needing ingest's search then answer INVALID_ARGUMENT)."""
    return reader.address(name, "127.0.0.1:1") if reader.str(name, "") else ""
