"""Where a one-machine run lives: data directory, ports, secrets."""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import secrets
from collections.abc import Mapping

from cdrstats_common.settings import EnvReader

SERVICES = ("ingest", "reporting", "alerting", "notify")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    data_dir: pathlib.Path
    http_port: int
    ingest_http_port: int
    grpc_port_base: int
    amqp_url: str
    demo: bool
    demo_live: bool
    log_level: str
    smtp_host: str  # the operator's mail server; "" = a local catcher writing <data>/mail/*.eml
    mail_catcher_port: int  # the catcher's port on 127.0.0.1; 0 = any free port
    public_url: str  # the gateway's URL as users reach it (links in alarm mails); "" = gateway_url

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RunConfig:
        env = EnvReader(environ)
        config = cls(
            data_dir=pathlib.Path(env.str("CDRSTATS_DATA_DIR", "var")).resolve(),
            http_port=env.int("CDRSTATS_HTTP_PORT", 8080, minimum=1, maximum=65535),
            ingest_http_port=env.int("CDRSTATS_INGEST_HTTP_PORT", 8081, minimum=1, maximum=65535),
            grpc_port_base=env.int("CDRSTATS_GRPC_PORT_BASE", 50051, minimum=1, maximum=65000),
            amqp_url=env.str("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
            demo=env.bool("CDRSTATS_DEMO", True),
            demo_live=env.bool("CDRSTATS_DEMO_LIVE", False),
            log_level=env.str("CDRSTATS_LOG_LEVEL", "INFO"),
            smtp_host=env.str("CDRSTATS_SMTP_HOST", ""),
            mail_catcher_port=env.int("CDRSTATS_MAIL_CATCHER_PORT", 0, minimum=0, maximum=65535),
            public_url=env.str("CDRSTATS_PUBLIC_URL", "").rstrip("/"),
        )
        env.finish()
        return config

    def grpc_addr(self, service: str) -> str:
        return f"127.0.0.1:{self.grpc_port_base + SERVICES.index(service)}"

    @property
    def pid_file(self) -> pathlib.Path:
        return self.data_dir / "run.pid"

    @property
    def log_dir(self) -> pathlib.Path:
        return self.data_dir / "log"

    @property
    def startup_marker(self) -> pathlib.Path:
        return self.data_dir / "demo-loading"

    @property
    def demo_done_marker(self) -> pathlib.Path:
        return self.data_dir / "demo-loaded"

    @property
    def mail_dir(self) -> pathlib.Path:
        return self.data_dir / "mail"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def link_url(self) -> str:
        """The base of links in alarm e-mails and events."""
        return self.public_url or self.gateway_url

    @property
    def ingest_url(self) -> str:
        return f"http://127.0.0.1:{self.ingest_http_port}"


@dataclasses.dataclass(frozen=True)
class Secrets:
    admin_password: str
    demo_switch_key: str
    secret_key: str
    demo_customer_password: str = ""
    webhook_secret: str = ""  # notify signs webhooks with it (X-CDRStats-Signature)


def load_secrets(data_dir: pathlib.Path, environ: Mapping[str, str] | None = None) -> Secrets:
    """Values from the environment win; otherwise generated once and kept with the data (mode 0600)."""
    environ = os.environ if environ is None else environ
    path = data_dir / "secrets.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    values = {
        "admin_password": environ.get("CDRSTATS_ADMIN_PASSWORD")
        or stored.get("admin_password")
        or secrets.token_urlsafe(12),
        "demo_switch_key": environ.get("CDRSTATS_DEMO_SWITCH_KEY")
        or stored.get("demo_switch_key")
        or secrets.token_urlsafe(16),
        "secret_key": environ.get("CDRSTATS_SECRET_KEY") or stored.get("secret_key") or secrets.token_hex(32),
        "demo_customer_password": stored.get("demo_customer_password") or secrets.token_urlsafe(12),
        "webhook_secret": environ.get("CDRSTATS_WEBHOOK_SECRET")
        or stored.get("webhook_secret")
        or secrets.token_urlsafe(32),
    }
    if values != stored:
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values, indent=2))
        path.chmod(0o600)
    return Secrets(**values)
