"""A sync gRPC call through ``call_blocking`` lets other greenthreads run (STACK.md pitfall 3)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.integration

SCRIPT = textwrap.dedent(
    """
    from cdrstats_common.green import monkey_patch
    monkey_patch()
    import sys, eventlet
    from cdrstats_common.healthcheck import check_grpc
    from cdrstats_common.tpool import call_blocking

    ticks = []
    def ticker():
        while True:
            ticks.append(1)
            eventlet.sleep(0.05)

    # a loopback listener that never speaks HTTP/2: the sync stub blocks until its 1 s deadline
    silent = eventlet.listen(("127.0.0.1", 0))
    address = "127.0.0.1:%d" % silent.getsockname()[1]
    eventlet.spawn(ticker)
    eventlet.sleep(0.01)
    call = (lambda: call_blocking(check_grpc, address, "", 1.0)) if sys.argv[1] == "tpool" else (
        lambda: check_grpc(address, "", 1.0))
    before = len(ticks)
    assert call() is False
    print(len(ticks) - before)
    """
)


def ticks_during_call(mode: str) -> int:
    result = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return int(result.stdout.strip().splitlines()[-1])


def test_call_blocking_keeps_the_hub_running() -> None:
    assert ticks_during_call("tpool") >= 10


def test_a_direct_sync_call_freezes_the_hub() -> None:
    assert ticks_during_call("direct") <= 1
