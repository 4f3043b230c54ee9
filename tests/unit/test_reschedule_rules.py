"""Issue 15: a class moved to another time tells its booked members. The rule of who is told
(reservation_svc.domain.rescheduled), the service step that applies a ClassUpdated to every
reservation of the class (service.class_described) on the fakes, and the event's message."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from reservation_svc import messages, service
from reservation_svc.domain import (
    ACTIVE,
    ClassInfo,
    Reason,
    Reservation,
    ReservationRescheduled,
    Status,
    new_reservation,
    rescheduled,
)
from tests.fakes.reservations import FakeReservationStore
from tests.fakes.uow import FakeTransactions
from yoga.reservation.v1 import events_pb2
from yoga_common.timestamps import to_timestamp

NOW = datetime(2030, 5, 1, 9, 0, tzinfo=UTC)
START = NOW + timedelta(days=1)
HOUR = timedelta(hours=1)
BOOKED = ClassInfo("Morning Flow", START, START + HOUR, "Asia/Seoul", 3)
MOVED = replace(BOOKED, start_time=START + 2 * HOUR, end_time=START + 3 * HOUR, version=4)


def booking(status: Status, info: ClassInfo | None = BOOKED, n: int = 1) -> Reservation:
    r = new_reservation("c-1", f"u{n}", f"u{n}@example.com", f"req-{n}", "h", NOW)
    reason = {
        Status.REJECTED: Reason.CLASS_FULL,
        Status.CANCELLED: Reason.CANCELLED_BY_USER,
        Status.EXPIRED: Reason.WAITLIST_CLOSED,
    }.get(status, Reason.NONE)
    ticket = n if status is Status.WAITLISTED else None
    return replace(
        r, status=status, reason=reason, class_info=info, version=2, waitlist_ticket=ticket
    )


# --- the rule -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", sorted(ACTIVE))
def test_an_active_reservation_of_a_moved_class_is_told(status: Status) -> None:
    r = booking(status)
    later = NOW + timedelta(minutes=3)
    found = rescheduled(r, MOVED, later)
    assert found is not None
    target, event = found
    assert target.class_info == MOVED
    assert (target.version, target.update_time, target.status) == (3, later, status)
    assert event == ReservationRescheduled(target, START, START + HOUR)


@pytest.mark.parametrize("status", sorted(set(Status) - ACTIVE))
def test_a_reservation_that_holds_no_seat_is_not_told(status: Status) -> None:
    assert rescheduled(booking(status), MOVED, NOW) is None


def test_the_active_statuses_are_those_holding_or_awaiting_a_seat() -> None:
    assert {Status.PENDING, Status.CONFIRMED, Status.WAITLISTED} == ACTIVE


def test_only_the_end_moving_is_a_move() -> None:
    longer = replace(BOOKED, end_time=START + 2 * HOUR, version=4)
    found = rescheduled(booking(Status.CONFIRMED), longer, NOW)
    assert found is not None
    assert (found[1].previous_start, found[1].previous_end) == (START, START + HOUR)


def test_a_title_only_change_tells_nobody() -> None:
    renamed = replace(BOOKED, title="Evening Flow", version=4)
    assert rescheduled(booking(Status.CONFIRMED), renamed, NOW) is None


@pytest.mark.parametrize("version", [1, 3])
def test_an_older_or_the_same_class_version_tells_nobody(version: int) -> None:
    assert rescheduled(booking(Status.CONFIRMED), replace(MOVED, version=version), NOW) is None


def test_a_description_from_before_versions_were_kept_is_older() -> None:
    r = booking(Status.CONFIRMED, replace(BOOKED, version=0))
    assert rescheduled(r, replace(MOVED, version=1), NOW) is not None


def test_a_booking_without_a_description_yet_is_not_told() -> None:
    assert rescheduled(booking(Status.PENDING, info=None), MOVED, NOW) is None


# --- the service step on the fakes ----------------------------------------------------------


def world(*rows: Reservation) -> FakeTransactions[FakeReservationStore]:
    tx = FakeTransactions(FakeReservationStore())
    for r in rows:
        tx.store.rows[r.reservation_id] = r
    return tx


def describe(tx: FakeTransactions[FakeReservationStore], info: ClassInfo) -> int:
    changed: int = tx.run_sync(lambda uow: service.class_described(uow, "c-1", info, NOW))
    return changed


def told(tx: FakeTransactions[FakeReservationStore]) -> list[Any]:
    return [e for e in tx.events if isinstance(e, ReservationRescheduled)]


def test_a_move_tells_each_active_booking_once_and_redescribes_the_rest() -> None:
    rows = [
        booking(Status.CONFIRMED, n=1),
        booking(Status.WAITLISTED, n=2),
        booking(Status.PENDING, n=3),
        booking(Status.CANCELLED, n=4),
        booking(Status.REJECTED, n=5),
        booking(Status.ATTENDED, n=6),
    ]
    tx = world(*rows)
    assert describe(tx, MOVED) == 6
    assert sorted(e.reservation.user_id for e in told(tx)) == ["u1", "u2", "u3"]
    assert len(tx.events) == 3
    for r in rows:
        now = tx.store.rows[r.reservation_id]
        assert (now.class_info, now.version) == (MOVED, r.version + 1)
    # Redelivered (the same class version) and late (an older one): nothing changes, nobody
    # is told again.
    before = dict(tx.store.rows)
    assert describe(tx, MOVED) == 0
    assert describe(tx, replace(BOOKED, title="Old", version=2)) == 0
    assert tx.store.rows == before
    assert len(tx.events) == 3


def test_a_rename_redescribes_without_telling() -> None:
    tx = world(booking(Status.CONFIRMED))
    assert describe(tx, replace(BOOKED, title="Evening Flow", version=4)) == 1
    assert tx.events == []
    assert next(iter(tx.store.rows.values())).class_info.title == "Evening Flow"  # type: ignore[union-attr]


# --- the message ----------------------------------------------------------------------------


def test_the_event_carries_the_new_times_the_old_ones_and_the_email() -> None:
    found = rescheduled(booking(Status.CONFIRMED), MOVED, NOW)
    assert found is not None
    key, message = messages.event(found[1])
    assert isinstance(message, events_pb2.ReservationRescheduled)
    assert key == found[0].reservation_id
    assert message.user_email == "u1@example.com"
    assert message.reservation.class_start_time == to_timestamp(START + 2 * HOUR)
    assert message.reservation.class_time_zone == "Asia/Seoul"
    assert message.reservation.version == 3
    assert message.previous_start_time == to_timestamp(START)
    assert message.previous_end_time == to_timestamp(START + HOUR)
