"""JSON logs, one object per line, with the service and process names."""

from __future__ import annotations

import json
import logging
import sys
import time

from cdrstats_common import telemetry


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str, process: str) -> None:
        super().__init__()
        self.service = service
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "process": self.process,
            "logger": record.name,
            "message": record.getMessage(),
        }
        trace_id, span_id = telemetry.current_ids()
        if trace_id:
            entry["trace_id"], entry["span_id"] = trace_id, span_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def setup_logging(service: str, process: str, level: str = "INFO") -> None:
    """A process's observability set-up: JSON logs on stderr, and tracing when ``OTEL_*`` asks for it."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service, process))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("amqp", "kombu", "nameko", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    if not telemetry.enabled():
        telemetry.setup_tracing(service, process)
