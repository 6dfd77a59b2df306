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
    reporting_grpc_addr: str
    public_url: str  # the gateway's base URL, for links in events ("" = relative links)
    time_zone: str = "UTC"  # the reporting time zone: calendar alarm windows (day, week, month) follow it
    alarm_interval_s: int = 60  # how often the worker evaluates due alarms (tests shorten it)
    hit_retention_days: int = 90  # the hit log keeps this many days of checks (0: forever)
    evaluation_retention_days: int = 90  # stored alarm evaluations, likewise
    processed_event_retention_days: int = 30  # applied event ids kept (0: forever); older events are refused

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AlertingSettings:
        env = EnvReader(environ)
        settings = cls(
            store_url=default_store_url(env, "alerting"),
            amqp_url=env.str("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
            grpc_listen=env.address("CDRSTATS_GRPC_LISTEN", "127.0.0.1:50053"),
            log_level=env.log_level(),
            admin_port=env.admin_port(),
            reporting_grpc_addr=env.address("REPORTING_GRPC_ADDR", "127.0.0.1:50052"),
            public_url=env.str("CDRSTATS_PUBLIC_URL", "").rstrip("/"),
            time_zone=env.time_zone("CDRSTATS_TIME_ZONE"),
            alarm_interval_s=env.int("CDRSTATS_ALARM_INTERVAL_S", 60, minimum=1, maximum=3600),
            hit_retention_days=env.int("CDRSTATS_HIT_RETENTION_DAYS", 90, minimum=0, maximum=36_500),
            evaluation_retention_days=env.int("CDRSTATS_EVALUATION_RETENTION_DAYS", 90, minimum=0, maximum=36_500),
            processed_event_retention_days=env.processed_event_retention_days(),
        )
        env.finish()
        return settings
