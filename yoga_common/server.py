"""The `grpc.aio` server every service runs: the interceptor, health (`grpc.health.v1`),
reflection for grpcurl, background tasks, and a graceful stop on SIGTERM or SIGINT:
health turns NOT_SERVING first, so balancers stop sending, then in-flight calls finish."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from yoga_common import logs, migrate, telemetry
from yoga_common.auth import TokenVerifier
from yoga_common.db import Database
from yoga_common.health import HealthServicer
from yoga_common.interceptors import ServiceInterceptor
from yoga_common.settings import ServiceSettings

log = logging.getLogger(__name__)

Task = Callable[[], Coroutine[Any, Any, None]]


async def serve(
    settings: ServiceSettings,
    service_names: Sequence[str],
    register: Callable[[grpc.aio.Server], None],
    roles: Mapping[str, frozenset[str]],
    tasks: Sequence[Task] = (),
    on_stop: Callable[[], None] | None = None,
) -> None:
    interceptor = ServiceInterceptor(TokenVerifier(settings.auth), roles)
    # so_reuseport off: a second process on the same port must fail, not share it silently.
    server = grpc.aio.server(interceptors=[interceptor], options=[("grpc.so_reuseport", 0)])
    register(server)
    health_servicer = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [*service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], server
    )
    address = f"{settings.host}:{settings.port}"
    port = server.add_insecure_port(address)
    if port == 0:
        raise RuntimeError(f"cannot listen on {address}")
    await server.start()
    for name in ("", *service_names):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    running = [asyncio.create_task(task(), name=task.__name__) for task in tasks]
    log.info(
        "serving", extra={"address": f"{settings.host}:{port}", "services": list(service_names)}
    )

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()

    log.info("stopping: health is NOT_SERVING, draining")
    await health_servicer.enter_graceful_shutdown()
    await asyncio.sleep(settings.drain_seconds)
    await server.stop(settings.grace_seconds)
    for job in running:
        job.cancel()
    for job in running:
        with contextlib.suppress(asyncio.CancelledError):
            await job
    if on_stop:
        on_stop()
    log.info("stopped")


def open_database(settings: ServiceSettings, migrations_dir: Path) -> Database:
    """Brings the service's schema up to date, then opens it."""
    migrate.upgrade(settings.database_url, migrations_dir)
    return Database(settings.database_url, threads=settings.db_threads)


def run_main(
    name: str, settings: ServiceSettings, run: Callable[[], Coroutine[Any, Any, None]]
) -> None:
    logs.configure(name, settings.log_level)
    started = telemetry.setup(
        f"{name}_svc", settings.host, settings.metrics_port, settings.trace_file
    )
    try:
        asyncio.run(run())
    finally:
        started.shutdown()
