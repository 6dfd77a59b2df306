"""Probe CLI for containers: ``python -m cdrstats_common.healthcheck grpc HOST:PORT [SERVICE]`` or ``http URL``."""

from __future__ import annotations

import sys
import urllib.request

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def check_grpc(address: str, service: str = "", timeout_s: float = 3.0) -> bool:
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout_s)
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def check_http(url: str, timeout_s: float = 3.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 - probe URL from the operator
            return bool(response.status == 200)
    except OSError:
        return False


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "grpc":
        return 0 if check_grpc(argv[1], argv[2] if len(argv) > 2 else "") else 1
    if len(argv) == 2 and argv[0] == "http":
        return 0 if check_http(argv[1]) else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
