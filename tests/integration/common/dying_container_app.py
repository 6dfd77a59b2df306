"""A worker run by ``cdrstats_common.nameko_support.run_services`` whose container dies on the first event:
its entrypoint raises after the handler ran, where nameko cannot handle it (as a failed ack on a reset socket
did). Run as ``python dying_container_app.py AMQP_URL``; logs "worker started" once it consumes.
"""

from __future__ import annotations

from cdrstats_common.green import monkey_patch

monkey_patch()

import logging  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402

from nameko.events import EventHandler  # noqa: E402

from cdrstats_common.nameko_support import run_services  # noqa: E402


class Exploding(EventHandler):
    def handle_message_processed(self, message: Any, result: Any = None, exc_info: Any = None) -> None:
        raise RuntimeError("settling the message failed")


class Doomed:
    name = "doomed"

    @Exploding.decorator("dying-test", "poke")
    def on_poke(self, body: Any) -> None:
        return None


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stdout)
    run_services([Doomed], {"AMQP_URI": sys.argv[1], "SERIALIZER": "json"})
