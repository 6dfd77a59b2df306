"""grpc.aio server bootstrap: the standard health service, graceful stop on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

from cdrstats_common import telemetry
from cdrstats_common.admin import start_admin

log = logging.getLogger(__name__)

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class GrpcApp:
    """A grpc.aio server with health checking; ``run`` serves until SIGTERM/SIGINT."""

    def __init__(self, listen: str, *, grace_s: float = 5.0) -> None:
        self.listen = listen
        self.grace_s = grace_s
        self.server = grpc.aio.server(
            options=[("grpc.so_reuseport", 0)], interceptors=telemetry.grpc_server_interceptors()
        )
        self.health = HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.service_names: list[str] = []
        self.port = 0
        self._background: list[Callable[[], Coroutine[Any, Any, None]]] = []
        self._stop = asyncio.Event()

    def add_service(self, full_name: str, register: Callable[[grpc.aio.Server], None]) -> None:
        register(self.server)
        self.service_names.append(full_name)

    def add_background(self, task: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """A coroutine run while the server serves and cancelled when it stops."""
        self._background.append(task)

    async def set_status(self, name: str, serving: bool) -> None:
        await self.health.set(name, SERVING if serving else NOT_SERVING)

    async def start(self) -> None:
        self.port = self.server.add_insecure_port(self.listen)
        if self.port == 0:
            raise OSError(f"cannot listen on {self.listen}")
        await self.server.start()
        for name in ["", *self.service_names]:
            await self.set_status(name, True)
        log.info("grpc server listening", extra={"fields": {"listen": self.listen, "port": self.port}})

    async def stop(self) -> None:
        await self.health.enter_graceful_shutdown()
        await self.server.stop(self.grace_s)

    def request_stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        await self.start()
        tasks = [asyncio.create_task(job()) for job in self._background]
        try:
            await self._stop.wait()
        finally:
            log.info("grpc server stopping")
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.stop()


async def watch_worker(app: GrpcApp, is_alive: Callable[[], bool], *, interval_s: float = 2.0) -> None:
    """Mirror the worker's heartbeat as the health status of service ``worker``."""
    last: bool | None = None
    while True:
        alive = await asyncio.to_thread(is_alive)
        if alive != last:
            await app.set_status("worker", alive)
            last = alive
        await asyncio.sleep(interval_s)


class ApiStore(Protocol):
    def worker_alive(self) -> bool: ...

    def close(self) -> None: ...


async def serve_api(
    listen: str,
    *,
    admin_port: int,
    store: ApiStore,
    services: list[tuple[str, Callable[[grpc.aio.Server], None]]],
    before_close: Callable[[], Coroutine[Any, Any, None]] | None = None,
) -> None:
    """An api process's life: gRPC services with health (``worker`` from the heartbeat) and the admin
    port until SIGTERM; then ``before_close`` (e.g. stop other listeners), the admin port, the store."""
    app = GrpcApp(listen)
    for full_name, register in services:
        app.add_service(full_name, register)
    app.add_background(lambda: watch_worker(app, store.worker_alive))
    admin = start_admin(admin_port, lambda: True)  # liveness; readiness is the gRPC health service
    try:
        await app.run()
    finally:
        if before_close is not None:
            await before_close()
        if admin is not None:
            admin.stop()
        store.close()
