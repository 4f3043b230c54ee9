"""The last seats and the waitlist under contention, repeatedly on SQLite and on PostgreSQL
(`make race`: 20 runs each; `make test`: 5, YOGA_TEST_RACE_RUNS).

200 members book a class of 10 seats with a waitlist of 20 at the same moment: exactly 10 are
confirmed, 20 wait with positions 1..20 in the order the service accepted them (their
tickets), 170 are refused as full, and no call fails. Then the 10 confirmed cancel at the same
moment while 50 new members book: the 10 first in the queue, and only they, get the seats, in
order; no newcomer takes a seat while someone waits; seats == confirmed reservations."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from datetime import timedelta

import pytest

from tests.integration.conftest import Clients, crowd
from tests.integration.support import a_class, eventually, request_id
from yoga.reservation.v1 import reservation_pb2 as rpb
from yoga.yogaclass.v1 import yogaclass_pb2 as ypb

# Each run is a fresh race of its own; make test keeps a few, `make race` the full 20.
RUNS = int(os.environ.get("YOGA_TEST_RACE_RUNS", "5"))
BOOKERS = 200
SEATS = 10
WAITLIST = 20
NEWCOMERS = 50

CONFIRMED = rpb.RESERVATION_STATUS_CONFIRMED
WAITLISTED = rpb.RESERVATION_STATUS_WAITLISTED
REJECTED = rpb.RESERVATION_STATUS_REJECTED


@pytest.mark.parametrize("run", range(RUNS))
async def test_200_bookers_for_10_seats_and_a_waitlist_of_20(clients: Clients, run: int) -> None:
    c = clients
    # Each run's class at its own time: the same members book every run, and a member holding
    # a seat in an earlier run's class at the same hour would rightly be passed over here.
    spec = a_class(SEATS, title=f"Race {run}", starts_in=timedelta(days=1, hours=2 * run))
    spec.waitlist_capacity = WAITLIST
    created = await c.classes.CreateClass(
        ypb.CreateClassRequest(yoga_class=spec), metadata=c.stack.as_admin()
    )
    class_id = created.yoga_class.class_id
    # The same members every run (each a provider account): a new class, a new race.
    users = crowd(BOOKERS + NEWCOMERS)
    c.stack.sign_in(users)
    metadata = {user: c.stack.as_user(user) for user in users}

    async def book(user: str) -> rpb.Reservation:
        answer = await c.reservations.CreateReservation(
            rpb.CreateReservationRequest(class_id=class_id, request_id=request_id()),
            metadata=metadata[user],
            timeout=60,
        )
        return answer.reservation

    async def cancel(r: rpb.Reservation) -> rpb.Reservation:
        answer = await c.reservations.CancelReservation(
            rpb.CancelReservationRequest(reservation_id=r.reservation_id),
            metadata=metadata[by_id[r.reservation_id]],
            timeout=60,
        )
        return answer.reservation

    async def current(r: rpb.Reservation) -> rpb.Reservation:
        answer = await c.reservations.GetReservation(
            rpb.GetReservationRequest(reservation_id=r.reservation_id), metadata=c.stack.as_admin()
        )
        return answer.reservation

    async def the_class() -> ypb.YogaClass:
        answer = await c.classes.GetClass(
            ypb.GetClassRequest(class_id=class_id), metadata=c.stack.as_admin()
        )
        return answer.yoga_class

    # return_exceptions=False: any error status fails the run.
    first = await asyncio.gather(*(book(user) for user in users[:BOOKERS]))
    by_id = {r.reservation_id: user for r, user in zip(first, users, strict=False)}

    outcome = Counter(rpb.ReservationStatus.Name(r.status) for r in first)
    assert outcome == {
        "RESERVATION_STATUS_CONFIRMED": SEATS,
        "RESERVATION_STATUS_WAITLISTED": WAITLIST,
        "RESERVATION_STATUS_REJECTED": BOOKERS - SEATS - WAITLIST,
    }
    assert all(r.reason == rpb.RESERVATION_REASON_CLASS_FULL for r in first if r.status == REJECTED)
    queue = sorted((r for r in first if r.status == WAITLISTED), key=lambda r: r.waitlist_ticket)
    # Each was told its place when accepted: 1..20, in the order of the tickets.
    assert [r.waitlist_position for r in queue] == list(range(1, WAITLIST + 1))
    # And reads say the same once every answer is stored.
    assert [(await current(r)).waitlist_position for r in queue] == list(range(1, WAITLIST + 1))
    full = await the_class()
    assert (full.booked, full.waiting) == (SEATS, WAITLIST)

    confirmed = [r for r in first if r.status == CONFIRMED]
    cancels = [cancel(r) for r in confirmed]
    newcomers = [book(user) for user in users[BOOKERS:]]
    results = await asyncio.gather(*cancels, *newcomers)
    late = results[SEATS:]
    by_id.update({r.reservation_id: user for r, user in zip(late, users[BOOKERS:], strict=True)})

    assert all(r.status == rpb.RESERVATION_STATUS_CANCELLED for r in results[:SEATS])
    # No newcomer took a seat: each waits behind the queue, or is refused.
    assert {r.status for r in late} <= {WAITLISTED, REJECTED}
    promoted, still_waiting = queue[:SEATS], queue[SEATS:]

    async def promotions_settled() -> bool:
        return all([(await current(r)).status == CONFIRMED for r in promoted])

    await eventually(promotions_settled, within=30)
    for r in promoted:
        now = await current(r)
        assert now.promoted and now.status == CONFIRMED
    newly_waiting = sorted(
        (r for r in late if r.status == WAITLISTED), key=lambda r: r.waitlist_ticket
    )
    # The rest of the old queue keeps its order at the head, the newcomers after it.
    rest = [await current(r) for r in [*still_waiting, *newly_waiting]]
    assert [r.status for r in rest] == [WAITLISTED] * len(rest)
    assert [r.waitlist_position for r in rest] == list(range(1, len(rest) + 1))
    assert min(r.waitlist_ticket for r in newly_waiting or still_waiting) > max(
        r.waitlist_ticket for r in promoted
    )
    final = await the_class()
    assert (final.booked, final.waiting) == (SEATS, len(rest))
    listed = await c.reservations.ListReservations(
        rpb.ListReservationsRequest(class_id=class_id, page_size=100), metadata=c.stack.as_admin()
    )
    assert sum(r.status == CONFIRMED for r in listed.reservations) == final.booked
