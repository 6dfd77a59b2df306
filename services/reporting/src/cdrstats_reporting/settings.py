"""Reporting settings, read once from the environment (the only reader of os.environ)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from cdrstats_common.settings import EnvReader, default_store_url

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_GRPC_LISTEN = "127.0.0.1:50052"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclasses.dataclass(frozen=True)
class ReportingSettings:
    store_url: str
    amqp_url: str
    grpc_listen: str
    time_zone: str
    log_level: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ReportingSettings:
        """Build from ``environ`` (default os.environ); raises one SettingsError listing every problem."""
        reader = EnvReader(environ)
        settings = cls(
            store_url=default_store_url(reader, "reporting"),
            amqp_url=reader.str("AMQP_URL", DEFAULT_AMQP_URL),
            grpc_listen=reader.address("CDRSTATS_GRPC_LISTEN", DEFAULT_GRPC_LISTEN),
            time_zone=reader.time_zone("CDRSTATS_TIME_ZONE", "UTC"),
            log_level=reader.str("CDRSTATS_LOG_LEVEL", "INFO").upper(),
        )
        if settings.log_level not in LOG_LEVELS:
            choices = ", ".join(LOG_LEVELS)
            reader.problems.append(f"CDRSTATS_LOG_LEVEL: expected one of {choices}, got {settings.log_level!r}")
        reader.finish()
        return settings
