"""The `grpc.aio` server every service runs: the interceptor, health (`grpc.health.v1`),
reflection for grpcurl, background tasks, and a graceful stop on SIGTERM or SIGINT:
health turns NOT_SERVING first, so balancers stop sending, then in-flight calls finish.
With `<PREFIX>_WORKERS` above 1, `run_main` runs that many such servers on one port
(yoga_common/workers.py)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from yoga_common import logs, migrate, telemetry, workers
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
    worker = workers.current()
    interceptor = ServiceInterceptor(TokenVerifier(settings.auth), roles)
    # so_reuseport off: a second process on the same port must fail, not share it silently.
    # The workers of one service share it (the parent checked that nothing else listens).
    reuse = 1 if worker.shares_port else 0
    server = grpc.aio.server(interceptors=[interceptor], options=[("grpc.so_reuseport", reuse)])
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
    jobs = worker.jobs(tasks)
    running = [asyncio.create_task(task(), name=task.__name__) for task in jobs]
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


def open_database(settings: ServiceSettings) -> Database:
    """The service's database for this process (`run_main` brought its schema up to date).
    Among several workers, call it on the event loop: commits that wrote events in any worker
    then wake the relay and the mailer in whichever worker runs them, as their own process's
    commits do."""
    db = Database(settings.database_url, threads=settings.db_threads)
    worker = workers.current()
    if worker.shares_port:

        def woken() -> None:
            if worker.drain_wakes():
                db.events_committed(elsewhere=True)

        asyncio.get_running_loop().add_reader(worker.wake_read, woken)
        db.on_events_committed(worker.tell_others, elsewhere_too=False)
    return db


def run_main(
    name: str,
    settings: ServiceSettings,
    run: Callable[[], Coroutine[Any, Any, None]],
    migrations_dir: Path,
) -> None:
    """Brings the schema up to date once, then serves: in this process, or in
    `settings.workers` forked ones sharing the port (nothing of gRPC, no engine, no thread
    exists in this process before they are forked)."""
    logs.configure(name, settings.log_level)
    sys.setswitchinterval(settings.switch_interval_seconds)
    if settings.workers == 1:
        started = telemetry.setup(
            f"{name}_svc", settings.host, settings.metrics_port, settings.trace_file
        )
        try:
            migrate.upgrade(settings.database_url, migrations_dir)
            _settle_collector()
            asyncio.run(run())
        finally:
            started.shutdown()
        return
    migrate.upgrade(settings.database_url, migrations_dir)
    _settle_collector()  # before the fork: the workers share the frozen pages, too
    # Port 0 means one free port for all the workers, chosen here.
    settings.port = workers.check_port(settings.host, settings.port)

    def one(worker: workers.Worker) -> int:
        logs.configure(name, settings.log_level)
        _label_logs(worker.index)
        started = telemetry.setup(
            f"{name}_svc",
            settings.host,
            worker.metrics_port(settings.metrics_port),
            settings.trace_file,
        )
        try:
            asyncio.run(run())
        finally:
            started.shutdown()
        return 0

    log.info("workers", extra={"workers": settings.workers, "port": settings.port})
    sys.exit(
        workers.supervise(
            settings.workers, one, settings.drain_seconds + settings.grace_seconds + 10.0
        )
    )


# A full collection walks every object the collector tracks. With grpc, SQLAlchemy, protobuf and
# OpenTelemetry loaded that took 57-115 ms here, a pause every call in flight waited out. What
# exists once a service has started (modules, classes, the schema) lives as long as the process:
# frozen, no collection walks it again (6-14 ms, BENCHMARKS.md, issue 17's fourth round).
def _settle_collector() -> None:
    gc.collect()
    gc.freeze()


def _label_logs(index: int) -> None:
    """Every line of a worker says which one wrote it (`"worker": 1`)."""

    def label(record: logging.LogRecord) -> bool:
        record.worker = index
        return True

    for handler in logging.getLogger().handlers:
        handler.addFilter(label)
