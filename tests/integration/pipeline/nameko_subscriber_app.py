"""Another system's service, written as any nameko service is: it subscribes to alerting's alarms by name.

Nothing of CDR-Stats is imported: only nameko and the event's exchange and type. Run as
``python nameko_subscriber_app.py AMQP_URL OUTPUT_FILE``; each event body is appended to the file as one
JSON line. SIGTERM stops the container.
"""

from __future__ import annotations

import eventlet

eventlet.monkey_patch()

import json  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402

from nameko.containers import ServiceContainer  # noqa: E402
from nameko.events import event_handler  # noqa: E402

OUTPUT = sys.argv[2]


class NocDashboard:
    name = "noc_dashboard"

    @event_handler("alerting", "alarm_triggered")
    def on_alarm_triggered(self, body: Any) -> None:
        with open(OUTPUT, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(body) + "\n")


def main() -> None:
    container = ServiceContainer(NocDashboard, config={"AMQP_URI": sys.argv[1]})
    stop = eventlet.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.send(True) if not stop.ready() else None)
    container.start()
    print("subscribed", flush=True)
    stop.wait()
    container.stop()


if __name__ == "__main__":
    main()
