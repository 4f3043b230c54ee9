"""A reservation left PENDING while yogaclass_svc is down is finished by the recovery loop once
it is back; a cancel during the outage gives the seat back later. No seat leaks."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.conftest import BACKENDS, Clients, connect, system_under_test
from tests.integration.support import a_class, eventually, request_id
from yoga.reservation.v1 import reservation_pb2 as rpb
from yoga.yogaclass.v1 import yogaclass_pb2 as ypb
from yoga_common.settings import AuthSettings


@pytest.fixture(params=BACKENDS)
async def own_stack(
    request: pytest.FixtureRequest, auth: AuthSettings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Clients]:
    folder = tmp_path_factory.mktemp("recovery")
    with system_under_test(request.param, auth, folder, pending_grace=1.0) as stack:
        async for clients in connect(stack):
            yield clients


async def test_outage_of_yogaclass_is_recovered(own_stack: Clients) -> None:
    c = own_stack
    yogaclass = c.stack.services["yogaclass"]
    created = await c.classes.CreateClass(
        ypb.CreateClassRequest(yoga_class=a_class(2)), metadata=c.stack.as_admin()
    )
    class_id = created.yoga_class.class_id
    held = await c.reservations.CreateReservation(
        rpb.CreateReservationRequest(class_id=class_id, request_id=request_id()),
        metadata=c.stack.as_user("81"),
    )
    assert held.reservation.status == rpb.RESERVATION_STATUS_CONFIRMED

    yogaclass.stop()
    pending = await c.reservations.CreateReservation(
        rpb.CreateReservationRequest(class_id=class_id, request_id=request_id()),
        metadata=c.stack.as_user("82"),
    )
    assert pending.reservation.status == rpb.RESERVATION_STATUS_PENDING
    cancelled = await c.reservations.CancelReservation(
        rpb.CancelReservationRequest(reservation_id=held.reservation.reservation_id),
        metadata=c.stack.as_user("81"),
    )
    assert cancelled.reservation.status == rpb.RESERVATION_STATUS_CANCELLED

    yogaclass.start()
    yogaclass.wait_healthy()

    async def settled() -> bool:
        answer = await c.reservations.GetReservation(
            rpb.GetReservationRequest(reservation_id=pending.reservation.reservation_id),
            metadata=c.stack.as_user("82"),
        )
        return answer.reservation.status == rpb.RESERVATION_STATUS_CONFIRMED

    async def one_seat_taken() -> bool:
        answer = await c.classes.GetClass(
            ypb.GetClassRequest(class_id=class_id), metadata=c.stack.as_admin()
        )
        return answer.yoga_class.booked == 1

    await eventually(settled)
    # 81's seat came back, 82's was taken: exactly one.
    await eventually(one_seat_taken)
