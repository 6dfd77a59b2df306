"""Ingest settings, read once from the environment."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from cdrstats_common.settings import EnvReader, default_store_url


@dataclasses.dataclass(frozen=True)
class IngestSettings:
    store_url: str
    amqp_url: str
    grpc_listen: str
    http_host: str
    http_port: int
    max_body_bytes: int
    log_level: str
    admin_port: int
    #: where switches reach the HTTP receiver (shown with each switch's configuration snippet)
    public_url: str = "http://127.0.0.1:8081"
    #: a request's headers, or its body once it stalls or dribbles, are waited for this long (http_guard)
    http_read_timeout_s: float = 30.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> IngestSettings:
        env = EnvReader(environ)
        settings = cls(
            store_url=default_store_url(env, "ingest"),
            amqp_url=env.str("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
            grpc_listen=env.address("CDRSTATS_GRPC_LISTEN", "127.0.0.1:50051"),
            http_host=env.str("CDRSTATS_INGEST_HTTP_HOST", "127.0.0.1"),
            http_port=env.int("CDRSTATS_INGEST_HTTP_PORT", 8081, minimum=1, maximum=65535),
            max_body_bytes=env.int("CDRSTATS_INGEST_MAX_BODY_BYTES", 1_048_576, minimum=1024),
            log_level=env.log_level(),
            admin_port=env.admin_port(),
            public_url=env.str("CDRSTATS_INGEST_PUBLIC_URL", "http://127.0.0.1:8081").rstrip("/"),
            http_read_timeout_s=env.http_read_timeout(),
        )
        if not settings.public_url.startswith(("http://", "https://")):
            env.problems.append(f"CDRSTATS_INGEST_PUBLIC_URL: expected an http(s):// URL, got {settings.public_url!r}")
        env.finish()
        return settings
