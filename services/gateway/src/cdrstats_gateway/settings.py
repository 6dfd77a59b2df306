"""Gateway settings, read once from the environment (the only reader of os.environ)."""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Mapping

from cdrstats_common.settings import EnvReader, default_store_url


@dataclasses.dataclass(frozen=True)
class GatewaySettings:
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    store_url: str = "sqlite:///var/gateway.db"
    ingest_grpc_addr: str = "127.0.0.1:50051"
    reporting_grpc_addr: str = "127.0.0.1:50052"
    alerting_grpc_addr: str = "127.0.0.1:50053"
    notify_grpc_addr: str = "127.0.0.1:50054"
    admin_password: str = ""
    #: empty: generated once and kept in the gateway store (see ``store.GatewayStore.secret_key``)
    secret_key: str = ""
    cookie_secure: bool = True
    #: while this file exists /healthz answers 503 ("demo data loading")
    startup_marker: pathlib.Path | None = None
    time_zone: str = "UTC"
    log_level: str = "INFO"
    admin_port: int = 0
    #: a request's headers, or its body once it stalls or dribbles, are waited for this long (http_guard)
    http_read_timeout_s: float = 30.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> GatewaySettings:
        """Build from ``environ`` (default os.environ); raises one SettingsError listing every problem."""
        reader = EnvReader(environ)
        marker = reader.str("CDRSTATS_STARTUP_MARKER", "")
        settings = cls(
            http_host=reader.str("CDRSTATS_HTTP_HOST", "127.0.0.1"),
            http_port=reader.int("CDRSTATS_HTTP_PORT", 8080, minimum=1, maximum=65535),
            store_url=default_store_url(reader, "gateway"),
            ingest_grpc_addr=reader.address("INGEST_GRPC_ADDR", "127.0.0.1:50051"),
            reporting_grpc_addr=reader.address("REPORTING_GRPC_ADDR", "127.0.0.1:50052"),
            alerting_grpc_addr=reader.address("ALERTING_GRPC_ADDR", "127.0.0.1:50053"),
            notify_grpc_addr=reader.address("NOTIFY_GRPC_ADDR", "127.0.0.1:50054"),
            admin_password=reader.str("CDRSTATS_ADMIN_PASSWORD", ""),
            secret_key=reader.str("CDRSTATS_SECRET_KEY", ""),
            cookie_secure=reader.bool("CDRSTATS_COOKIE_SECURE", True),
            startup_marker=pathlib.Path(marker) if marker else None,
            time_zone=reader.time_zone("CDRSTATS_TIME_ZONE", "UTC"),
            log_level=reader.log_level(),
            admin_port=reader.admin_port(),
            http_read_timeout_s=reader.http_read_timeout(),
        )
        if settings.secret_key and len(settings.secret_key) < 32:
            reader.problems.append("CDRSTATS_SECRET_KEY: expected at least 32 characters")
        reader.finish()
        return settings
