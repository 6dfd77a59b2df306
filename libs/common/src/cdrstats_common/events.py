"""The event envelope and the AMQP publisher, in nameko's wire format.

Each service publishes to the durable topic exchange ``<service>.events`` with the
event type as routing key and a JSON body, exactly as nameko's EventDispatcher
does, so any nameko service can subscribe with ``@event_handler``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

import kombu
import orjson

SCHEMA_PREFIX = "cdrstats"


def event_exchange(service: str) -> kombu.Exchange:
    """The same exchange nameko declares for a service's events."""
    return kombu.Exchange(f"{service}.events", type="topic", durable=True, delivery_mode=2, auto_delete=False)


def make_envelope(event_type: str, source: str, data: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
    """``{"schema", "id", "time", "source", "data"}`` (CloudEvents core attributes)."""
    return {
        "schema": f"{SCHEMA_PREFIX}.{event_type}.v1",
        "id": event_id or str(uuid.uuid4()),
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "source": source,
        "data": data,
    }


def envelope_time(envelope: Mapping[str, Any]) -> float | None:
    """The envelope's ``time`` in epoch seconds; None when it is missing or not RFC 3339."""
    value = envelope.get("time")
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class EventPublisher:
    """Publishes envelopes with publisher confirms; ``publish`` returns once the broker has them."""

    def __init__(self, amqp_url: str, service: str, *, connect_timeout: float = 5.0) -> None:
        self.amqp_url = amqp_url
        self.exchange = event_exchange(service)
        self.connect_timeout = connect_timeout
        self._connection: kombu.Connection | None = None
        self._producer: kombu.Producer | None = None

    def _ensure(self) -> kombu.Producer:
        if self._producer is None:
            connection = kombu.Connection(
                self.amqp_url,
                transport_options={"confirm_publish": True},
                connect_timeout=self.connect_timeout,
            )
            connection.connect()
            channel = connection.channel()
            producer = kombu.Producer(channel, exchange=self.exchange, serializer="json")
            self.exchange(channel).declare()
            self._connection, self._producer = connection, producer
        return self._producer

    def publish(self, envelope: dict[str, Any] | str, routing_key: str, headers: dict[str, Any] | None = None) -> None:
        """``envelope`` is the event, or its JSON text as the outbox keeps it (then it is sent as is)."""
        body = envelope if isinstance(envelope, str) else orjson.dumps(envelope).decode()
        try:
            self._ensure().publish(
                body,
                routing_key=routing_key,
                delivery_mode=2,
                mandatory=False,
                headers=headers or {},
                content_type="application/json",  # as nameko's json serializer labels it
                content_encoding="utf-8",
                retry=False,
            )
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):  # closing a broken connection may fail again
                self._connection.release()
        self._connection = None
        self._producer = None
