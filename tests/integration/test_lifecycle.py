"""Operational behaviour: a service turns NOT_SERVING on SIGTERM before it stops, and every state
change leaves its event in the outbox in the same transaction."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import create_engine, select

import reservation_svc.storage
import yogaclass_svc.storage
from tests.integration.conftest import Clients, Stack, system_under_test
from tests.integration.support import a_class, request_id
from yoga.reservation.v1 import reservation_pb2 as rpb
from yoga.yogaclass.v1 import yogaclass_pb2 as ypb
from yoga_common.settings import AuthSettings


def outbox_types(stack: Stack, service: str, key: str) -> Counter[str]:
    url = stack.database_url(service)
    table = {
        "yogaclass": yogaclass_svc.storage.outbox,
        "reservation": reservation_svc.storage.outbox,
    }[service]
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(select(table.c.event_type).where(table.c.event_key == key)).all()
    engine.dispose()
    return Counter(r.event_type for r in rows)


async def test_every_change_writes_its_event(clients: Clients) -> None:
    created = await clients.classes.CreateClass(
        ypb.CreateClassRequest(yoga_class=a_class(1)), metadata=clients.stack.as_admin()
    )
    class_id = created.yoga_class.class_id
    booked = []
    for user in ("11", "12"):
        answer = await clients.reservations.CreateReservation(
            rpb.CreateReservationRequest(class_id=class_id, request_id=request_id()),
            metadata=clients.stack.as_user(user),
        )
        booked.append(answer.reservation)
    await clients.reservations.CancelReservation(
        rpb.CancelReservationRequest(reservation_id=booked[0].reservation_id),
        metadata=clients.stack.as_user("11"),
    )
    await clients.classes.DeleteClass(
        ypb.DeleteClassRequest(class_id=class_id), metadata=clients.stack.as_admin()
    )
    assert outbox_types(clients.stack, "yogaclass", class_id) == {
        "yoga.yogaclass.v1.ClassCreated": 1,
        "yoga.yogaclass.v1.ClassCancelled": 1,
    }
    assert outbox_types(clients.stack, "reservation", booked[0].reservation_id) == {
        "yoga.reservation.v1.ReservationConfirmed": 1,
        "yoga.reservation.v1.ReservationCancelled": 1,
    }
    assert outbox_types(clients.stack, "reservation", booked[1].reservation_id) == {
        "yoga.reservation.v1.ReservationRejected": 1,
    }


async def test_sigterm_turns_health_not_serving_before_stopping(
    auth: AuthSettings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with system_under_test("sqlite", auth, tmp_path_factory.mktemp("drain")) as stack:
        service = stack.services["yogaclass"]
        service.env["YOGACLASS_DRAIN_SECONDS"] = "3"
        stack.restart("yogaclass")
        async with grpc.aio.insecure_channel(service.target) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            assert service.process is not None
            service.process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.5)
            answer = await health.Check(health_pb2.HealthCheckRequest(), timeout=2)
            assert answer.status == health_pb2.HealthCheckResponse.NOT_SERVING
        assert await asyncio.to_thread(service.process.wait, 15) == 0
