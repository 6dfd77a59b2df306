"""OpenTelemetry tracing for every process: one provider, W3C trace context in gRPC, HTTP and AMQP headers.

Off unless the standard variables ask for it (``OTEL_TRACES_EXPORTER=otlp`` or
``console``, or an ``OTEL_EXPORTER_OTLP[_TRACES]_ENDPOINT``); then spans go to the
OTLP exporter configured by the other ``OTEL_*`` variables. When off, the API's
no-op tracer is used and no instrumentation is installed, so tracing costs nothing.

AMQP: an event's trace context is captured when the event is written to the outbox
(inside the request that caused it) and carried in the message headers twice: as
``traceparent`` for any AMQP client, and as ``nameko.traceparent`` because nameko only
passes ``nameko.``-prefixed headers to a worker (as ``worker_ctx.data``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind

log = logging.getLogger(__name__)

NAMEKO_PREFIX = "nameko."
_enabled = False


def exporter_from_env(environ: Mapping[str, str] | None = None) -> str:
    """``otlp``, ``console`` or ``none``, from the standard variables."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return "none"
    chosen = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if chosen in ("otlp", "console", "none"):
        return chosen
    if env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return "otlp"
    return "none"


def setup_tracing(service: str, process: str, *, exporter: Any = None) -> bool:
    """Install the process's tracer provider; ``exporter`` (a SpanExporter) overrides the environment.

    Returns whether tracing is on. Call once, at process start, before servers and clients are made.
    """
    global _enabled
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor

    processor: Any
    if exporter is not None:
        processor = SimpleSpanProcessor(exporter)
    else:
        kind = exporter_from_env()
        if kind == "none":
            return False
        if kind == "console":
            processor = BatchSpanProcessor(ConsoleSpanExporter())
        else:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

            processor = BatchSpanProcessor(OTLPSpanExporter())
    resource = Resource.create(
        {
            "service.name": os.environ.get("OTEL_SERVICE_NAME") or f"cdrstats-{service}",
            "service.namespace": "cdrstats",
            "cdrstats.process": process,
        }
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    _enabled = True
    _instrument_aiohttp_server()
    log.info("tracing on", extra={"fields": {"exporter": type(processor.span_exporter).__name__}})
    return True


def enabled() -> bool:
    return _enabled


def shutdown() -> None:
    """Flush spans still queued (at process exit)."""
    provider = trace.get_tracer_provider()
    if _enabled and hasattr(provider, "shutdown"):
        provider.shutdown()


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


# -- context in headers ----------------------------------------------------------


def inject_headers(headers: MutableMapping[str, Any], ctx: Context | None = None) -> MutableMapping[str, Any]:
    """Write the current (or given) trace context into AMQP headers, plain and ``nameko.``-prefixed."""
    if not _enabled:
        return headers
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=ctx)
    for key, value in carrier.items():
        headers[key] = value
        headers[NAMEKO_PREFIX + key] = value
    return headers


def extract_context(headers: Mapping[str, Any] | None) -> Context:
    """The trace context in headers (nameko's worker_ctx.data, or raw AMQP headers)."""
    carrier: dict[str, str] = {}
    for key, value in (headers or {}).items():
        if isinstance(value, str):
            carrier[key.removeprefix(NAMEKO_PREFIX)] = value
    return propagate.extract(carrier)


@contextmanager
def span_from_headers(
    name: str, headers: Mapping[str, Any] | None, kind: SpanKind, **attributes: Any
) -> Iterator[Span]:
    """A span whose parent is the context carried in ``headers``, current for the block."""
    with tracer("cdrstats").start_as_current_span(
        name, context=extract_context(headers), kind=kind, attributes=attributes
    ) as span:
        yield span


def attach(ctx: Context) -> object:
    return otel_context.attach(ctx)


def detach(token: object) -> None:
    otel_context.detach(token)  # type: ignore[arg-type]


# -- instrumentation of servers and clients ----------------------------------------


def grpc_server_interceptors() -> list[Any]:
    if not _enabled:
        return []
    from opentelemetry.instrumentation.grpc import aio_server_interceptor

    return [aio_server_interceptor()]


def grpc_client_interceptors() -> list[Any]:
    if not _enabled:
        return []
    from opentelemetry.instrumentation.grpc import aio_client_interceptors

    return list(aio_client_interceptors())


def _instrument_aiohttp_server() -> None:
    """Every aiohttp application made from now on traces its requests (the instrumentor's own set-up:
    its middleware needs the excluded-URL configuration that only ``instrument()`` loads)."""
    from opentelemetry.instrumentation.aiohttp_server import AioHttpServerInstrumentor

    instrumentor = AioHttpServerInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()


def current_ids() -> tuple[str, str]:
    """(trace id, span id) of the current span as hex, or empty strings: for JSON logs."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return "", ""
    return format(span_context.trace_id, "032x"), format(span_context.span_id, "016x")
