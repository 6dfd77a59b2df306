"""``CDRSTATS_DEMO_LIVE=1``: the demo switch keeps posting finished calls, as a FreeSWITCH in service would."""

from __future__ import annotations

import logging
import random
import threading
import time

from cdrstats_cli import demo

log = logging.getLogger(__name__)


class LiveTraffic(threading.Thread):
    """Posts one mod_json_cdr leg every ``mean_interval_s`` on average until stopped."""

    def __init__(self, ingest_url: str, switch_key: str, *, mean_interval_s: float = 2.0) -> None:
        super().__init__(name="demo-live-traffic", daemon=True)
        self.ingest_url = ingest_url
        self.switch_key = switch_key
        self.mean_interval_s = mean_interval_s
        self.stopped = threading.Event()
        self.rng = random.Random()
        self.posted = 0

    def run(self) -> None:
        demo_switch = next(s for s in demo.SWITCHES if s[0] == "demo")
        while not self.stopped.wait(self.rng.expovariate(1 / self.mean_interval_s)):
            now_us = int(time.time() * 1_000_000)
            cdr = demo.make_call(self.rng, now_us, demo_switch, ended_by_us=now_us)
            try:
                demo.post_freeswitch_json(self.ingest_url, "demo", self.switch_key, demo.freeswitch_json_document(cdr))
                self.posted += 1
            except OSError as exc:  # the api may be restarting; the next call tries again
                log.warning("live demo traffic: POST failed: %s", exc)

    def stop(self) -> None:
        self.stopped.set()
