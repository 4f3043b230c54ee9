"""A service run as several processes on one port (`<PREFIX>WORKERS`, yoga_common/workers.py):
every worker answers calls, a killed worker is replaced, SIGTERM drains them all and the
parent exits 0; bookings answered by any worker are confirmed and their events published by
worker 0's relay. What the tests look at is what an operator sees: the process tree, each
worker's metrics port, the database."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, func, select

import reservation_svc.storage
from devtools.processes import ServiceProcess, children, free_port
from tests.integration.conftest import BACKENDS, Stack, system_under_test
from tests.integration.support import a_class, request_id
from yoga.reservation.v1 import reservation_pb2 as rpb
from yoga.reservation.v1 import reservation_pb2_grpc
from yoga.yogaclass.v1 import yogaclass_pb2 as ypb
from yoga.yogaclass.v1 import yogaclass_pb2_grpc
from yoga_common import system
from yoga_common.settings import AuthSettings

WORKERS = 2
# Each call on a connection of its own: SO_REUSEPORT hands connections, not calls, to the
# workers, and gRPC would otherwise share one connection between channels to one address.
OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]
CONNECTIONS = 40  # all on one worker: a chance of 2**-39


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def metrics_base() -> int:
    """A port whose next one is free too: worker i serves metrics on base + i."""
    while True:
        base = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", base + 1))
            except OSError:
                continue
        return base


def handled(port: int, method: str) -> float:
    """The worker's count of `method` calls answered (0 when its endpoint is not up)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
    except OSError:
        return 0.0
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "grpc_server_handled_total" and sample.labels["grpc_method"] == method
    )


def until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.2)


def with_workers(stack: Stack, names: tuple[str, ...]) -> dict[str, int]:
    """`names` run WORKERS processes each; their metrics bases, by name."""
    bases = {}
    for name in names:
        prefix = system.service(name).env_prefix
        bases[name] = metrics_base()
        stack.env.setdefault(name, {}).update(
            {f"{prefix}WORKERS": str(WORKERS), f"{prefix}METRICS_PORT": str(bases[name])}
        )
    return bases


async def list_on_new_connections(stack: Stack, count: int) -> None:
    for _ in range(count):
        async with grpc.aio.insecure_channel(
            stack.target("yogaclass"), options=OWN_CONNECTION
        ) as channel:
            await yogaclass_pb2_grpc.YogaClassServiceStub(channel).ListClasses(
                ypb.ListClassesRequest(), metadata=stack.as_user("11"), timeout=10
            )


def serving(service: ServiceProcess) -> bool:
    with grpc.insecure_channel(service.target, options=OWN_CONNECTION) as channel:
        try:
            answer = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=2
            )
        except grpc.RpcError:
            return False
    return bool(answer.status == health_pb2.HealthCheckResponse.SERVING)


async def test_every_worker_serves_a_killed_one_comes_back_and_sigterm_drains_all(
    auth: AuthSettings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    stack = system_under_test("sqlite", auth, tmp_path_factory.mktemp("workers"), ("yogaclass",))
    base = with_workers(stack, ("yogaclass",))["yogaclass"]
    with stack:
        service = stack.services["yogaclass"]
        assert service.pid is not None
        parent = service.pid
        first = children(parent)
        assert len(first) == WORKERS

        await list_on_new_connections(stack, CONNECTIONS)
        for index in range(WORKERS):
            assert handled(base + index, "ListClasses") > 0, f"worker {index} answered nothing"

        killed = min(first)
        os.kill(killed, signal.SIGKILL)
        until(
            lambda: len(children(parent)) == WORKERS and killed not in children(parent),
            "the killed worker replaced",
        )
        until(lambda: serving(service), "health SERVING")
        # The new worker answers too (its counter started again from nothing).
        await list_on_new_connections(stack, CONNECTIONS)
        for index in range(WORKERS):
            assert handled(base + index, "ListClasses") > 0, f"worker {index} answered nothing"

        workers = children(parent)
        assert service.process is not None
        service.process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(service.process.wait, 60) == 0
        assert not any(alive(pid) for pid in workers)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_bookings_on_every_worker_are_confirmed_and_published(
    backend: str, auth: AuthSettings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    stack = system_under_test(backend, auth, tmp_path_factory.mktemp(f"workers-{backend}"))
    bases = with_workers(stack, ("yogaclass", "reservation"))
    with stack:
        async with grpc.aio.insecure_channel(stack.target("yogaclass")) as channel:
            created = await yogaclass_pb2_grpc.YogaClassServiceStub(channel).CreateClass(
                ypb.CreateClassRequest(yoga_class=a_class(CONNECTIONS)),
                metadata=stack.as_admin(),
            )
        class_id = created.yoga_class.class_id
        members = [f"worker-member-{n}" for n in range(CONNECTIONS)]
        stack.sign_in(members)
        states = []
        for member in members:
            async with grpc.aio.insecure_channel(
                stack.target("reservation"), options=OWN_CONNECTION
            ) as channel:
                answer = await reservation_pb2_grpc.ReservationServiceStub(
                    channel
                ).CreateReservation(
                    rpb.CreateReservationRequest(class_id=class_id, request_id=request_id()),
                    metadata=stack.as_user(member),
                    timeout=15,
                )
                states.append(answer.reservation.status)
        assert states == [rpb.RESERVATION_STATUS_CONFIRMED] * CONNECTIONS
        base = bases["reservation"]
        for index in range(WORKERS):
            assert handled(base + index, "CreateReservation") > 0, f"worker {index} booked none"

        # Worker 0 alone relays: the rows the other worker committed are published too.
        outbox = reservation_svc.storage.outbox
        engine = create_engine(stack.database_url("reservation"))
        unsent = select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
        try:

            def all_sent() -> bool:
                with engine.connect() as conn:
                    return conn.execute(unsent).scalar_one() == 0

            await asyncio.to_thread(until, all_sent, "every outbox row published")
        finally:
            engine.dispose()
    assert stack.exit_codes["reservation"] == 0
    assert stack.exit_codes["yogaclass"] == 0
