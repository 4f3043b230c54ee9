"""The last seats under contention: 200 members book a class of 10 seats at the same moment.
Exactly 10 are confirmed, 190 rejected as full, no call fails, and `booked` is 10 — in each of
20 runs, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from tests.integration.conftest import Clients, crowd
from tests.integration.support import a_class, request_id
from yoga.reservation.v1 import reservation_pb2 as rpb
from yoga.yogaclass.v1 import yogaclass_pb2 as ypb

RUNS = 20
BOOKERS = 200
SEATS = 10


@pytest.mark.parametrize("run", range(RUNS))
async def test_200_bookers_for_10_seats(clients: Clients, run: int) -> None:
    created = await clients.classes.CreateClass(
        ypb.CreateClassRequest(yoga_class=a_class(SEATS, title=f"Race {run}")),
        metadata=clients.stack.as_admin(),
    )
    class_id = created.yoga_class.class_id
    # The same members every run (each a provider account): a new class, a new race.
    users = crowd(BOOKERS)
    clients.stack.sign_in(users)
    metadata = {user: clients.stack.as_user(user) for user in users}

    async def book(user: str) -> rpb.Reservation:
        answer = await clients.reservations.CreateReservation(
            rpb.CreateReservationRequest(class_id=class_id, request_id=request_id()),
            metadata=metadata[user],
            timeout=60,
        )
        return answer.reservation

    # return_exceptions=False: any error status fails the run.
    results = await asyncio.gather(*(book(user) for user in users))

    outcome = Counter(rpb.ReservationStatus.Name(r.status) for r in results)
    assert outcome == {"RESERVATION_STATUS_CONFIRMED": SEATS, "RESERVATION_STATUS_REJECTED": 190}
    assert all(
        r.reason == rpb.RESERVATION_REASON_CLASS_FULL
        for r in results
        if r.status == rpb.RESERVATION_STATUS_REJECTED
    )
    final = await clients.classes.GetClass(
        ypb.GetClassRequest(class_id=class_id), metadata=clients.stack.as_admin()
    )
    assert final.yoga_class.booked == SEATS
