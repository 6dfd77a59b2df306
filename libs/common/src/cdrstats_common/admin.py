"""The admin port of every process: ``/healthz`` for probes and ``/metrics`` for Prometheus.

``CDRSTATS_ADMIN_PORT`` (0 = off, the default of a one-machine run; 9090 in
containers). A small threaded HTTP server, so it works the same in asyncio api
processes and in eventlet-patched nameko workers (where its threads are green).
"""

from __future__ import annotations

import http.server
import logging
import threading
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

log = logging.getLogger(__name__)


class AdminServer:
    def __init__(
        self,
        port: int,
        healthy: Callable[[], bool],
        *,
        host: str = "0.0.0.0",
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        self.healthy = healthy
        self.registry = registry
        self.httpd = http.server.ThreadingHTTPServer((host, port), self._handler())
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="admin-http", daemon=True)

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/healthz":
                    try:
                        ok = server.healthy()
                    except Exception:
                        log.exception("health check failed")
                        ok = False
                    self._reply(200 if ok else 503, b"ok\n" if ok else b"unhealthy\n", "text/plain")
                elif self.path == "/metrics":
                    self._reply(200, generate_latest(server.registry), CONTENT_TYPE_LATEST)
                else:
                    self._reply(404, b"not found: /healthz and /metrics only\n", "text/plain")

            def _reply(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # probes every few seconds would flood the JSON log

        return Handler

    def start(self) -> AdminServer:
        self.thread.start()
        log.info("admin port listening", extra={"fields": {"port": self.port}})
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def start_admin(port: int, healthy: Callable[[], bool]) -> AdminServer | None:
    """Start the admin server when ``port`` > 0."""
    return AdminServer(port, healthy).start() if port > 0 else None
