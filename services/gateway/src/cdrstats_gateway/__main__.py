"""``python -m cdrstats_gateway``: serve the web UI and REST API until SIGTERM/SIGINT."""

from __future__ import annotations

from aiohttp import web

from cdrstats_common.admin import start_admin
from cdrstats_common.logs import setup_logging
from cdrstats_common.settings import load_or_exit
from cdrstats_gateway.app import create_app
from cdrstats_gateway.settings import GatewaySettings

SHUTDOWN_TIMEOUT_S = 5.0


def main() -> None:
    settings = load_or_exit(GatewaySettings.from_env)
    setup_logging("gateway", "web", settings.log_level)
    start_admin(settings.admin_port, lambda: True)  # liveness; readiness (every service) is /healthz on the web port
    # run_app turns SIGTERM and SIGINT into a graceful shutdown (cleanup contexts run, exit code 0);
    # the admin user is ensured by the store's cleanup context at start-up.
    web.run_app(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        shutdown_timeout=SHUTDOWN_TIMEOUT_S,
        keepalive_timeout=settings.http_read_timeout_s,  # also bounds slow request headers (http_guard)
        print=None,
        handle_signals=True,
    )


if __name__ == "__main__":
    main()
