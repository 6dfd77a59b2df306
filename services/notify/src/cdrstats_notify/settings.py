"""Notify settings, read once from the environment."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from cdrstats_common.settings import EnvReader, default_store_url
from cdrstats_notify.domain.backoff import RetryPolicy


@dataclasses.dataclass(frozen=True)
class SmtpSettings:
    host: str  # "" = e-mail is off (deliveries fail with that reason, and are logged)
    port: int
    security: str  # none, starttls, tls
    username: str
    password: str
    mail_from: str
    timeout_s: float


@dataclasses.dataclass(frozen=True)
class NotifySettings:
    store_url: str
    amqp_url: str
    grpc_listen: str
    log_level: str
    admin_port: int
    smtp: SmtpSettings
    webhook_secret: str  # HMAC-SHA256 key of the X-CDRStats-Signature header
    public_url: str  # the gateway's base URL, for links in e-mails
    admin_emails: tuple[str, ...]  # worker-failure e-mails, and the admin report's default recipients
    time_zone: str  # the reporting zone: mail-report hours and days are local to it
    reporting_grpc_addr: str
    ingest_grpc_addr: str
    # deliveries (docs/notify.md, "Retries"): when failed sends are retried, and a webhook's timeout
    retry: RetryPolicy = dataclasses.field(default_factory=RetryPolicy)
    webhook_timeout_s: float = 10.0
    delivery_retention_days: int = 90  # sent and failed deliveries stay in the log this long (0: forever)
    processed_event_retention_days: int = 30  # applied event ids kept (0: forever); older events are refused

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> NotifySettings:
        env = EnvReader(environ)
        settings = cls(
            store_url=default_store_url(env, "notify"),
            amqp_url=env.str("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
            grpc_listen=env.address("CDRSTATS_GRPC_LISTEN", "127.0.0.1:50054"),
            log_level=env.log_level(),
            admin_port=env.admin_port(),
            smtp=SmtpSettings(
                host=env.str("CDRSTATS_SMTP_HOST", ""),
                port=env.int("CDRSTATS_SMTP_PORT", 25, minimum=1, maximum=65535),
                security=env.choice("CDRSTATS_SMTP_SECURITY", "none", ("none", "starttls", "tls")),
                username=env.str("CDRSTATS_SMTP_USER", ""),
                password=env.str("CDRSTATS_SMTP_PASSWORD", ""),
                mail_from=env.str("CDRSTATS_MAIL_FROM", "cdr-stats@localhost"),
                timeout_s=float(env.int("CDRSTATS_SMTP_TIMEOUT_S", 20, minimum=1, maximum=300)),
            ),
            webhook_secret=env.str("CDRSTATS_WEBHOOK_SECRET", ""),
            public_url=env.str("CDRSTATS_PUBLIC_URL", "").rstrip("/"),
            admin_emails=tuple(a.strip() for a in env.str("CDRSTATS_ADMIN_EMAILS", "").split(",") if a.strip()),
            time_zone=env.time_zone("CDRSTATS_TIME_ZONE", "UTC"),
            reporting_grpc_addr=env.address("REPORTING_GRPC_ADDR", "127.0.0.1:50052"),
            ingest_grpc_addr=env.address("INGEST_GRPC_ADDR", "127.0.0.1:50051"),
            retry=_retry_policy(env),
            webhook_timeout_s=float(env.int("CDRSTATS_WEBHOOK_TIMEOUT_S", 10, minimum=1, maximum=300)),
            delivery_retention_days=env.int("CDRSTATS_DELIVERY_RETENTION_DAYS", 90, minimum=0, maximum=36_500),
            processed_event_retention_days=env.processed_event_retention_days(),
        )
        env.finish()
        return settings


def _retry_policy(env: EnvReader) -> RetryPolicy:
    """CDRSTATS_NOTIFY_RETRY_*: the backoff of failed deliveries (domain/backoff.py)."""
    default = RetryPolicy()
    try:
        return RetryPolicy(
            base_s=env.float("CDRSTATS_NOTIFY_RETRY_BASE_S", default.base_s),
            max_delay_s=env.float("CDRSTATS_NOTIFY_RETRY_MAX_DELAY_S", default.max_delay_s),
            max_attempts=env.int("CDRSTATS_NOTIFY_RETRY_MAX_ATTEMPTS", default.max_attempts, minimum=1, maximum=1000),
            max_age_s=env.float("CDRSTATS_NOTIFY_RETRY_MAX_AGE_S", default.max_age_s),
        )
    except ValueError as exc:
        env.problems.append(f"CDRSTATS_NOTIFY_RETRY_*: {exc}")
        return default
