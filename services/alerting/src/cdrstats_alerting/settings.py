"""Alerting settings, read once from the environment."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from cdrstats_common.settings import EnvReader, default_store_url


@dataclasses.dataclass(frozen=True)
class AlertingSettings:
    store_url: str
    amqp_url: str
    grpc_listen: str
    log_level: str
    admin_port: int

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AlertingSettings:
        env = EnvReader(environ)
        settings = cls(
            store_url=default_store_url(env, "alerting"),
            amqp_url=env.str("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
            grpc_listen=env.address("CDRSTATS_GRPC_LISTEN", "127.0.0.1:50053"),
            log_level=env.log_level(),
            admin_port=env.admin_port(),
        )
        env.finish()
        return settings
