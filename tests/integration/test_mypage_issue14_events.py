"""Issue 14 through mypage_svc's real consumer path (EventConsumer.apply with its inbox, the
service layer, the migrated tables) on SQLite and PostgreSQL: waiting reservations show their
place, which moves up as people ahead are promoted, passed over, cancelled or expire; promoted,
check-in time and the class's zone reach the page; versions still order events; a replay of
every event changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from mypage_svc.messages import to_proto
from mypage_svc.service import MyPageService
from mypage_svc.storage import MyPageStore
from tests.integration.conftest import BACKENDS, migrated_database
from tests.integration.test_mypage_service import (
    START,
    contents,
    envelope,
    new_consumer,
    reservation,
    stored,
)
from yoga.reservation.v1 import events_pb2 as rev
from yoga.reservation.v1 import reservation_pb2 as rpb
from yoga_common.consumer import InvalidEvent
from yoga_common.db import Database
from yoga_common.events import Envelope
from yoga_common.timestamps import to_timestamp
from yoga_common.uow import Transactions

pytestmark = pytest.mark.integration

S = rpb
NOW = START - timedelta(days=1)


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with migrated_database(request.param, tmp_path, "mypage") as database:
        yield database


def event(
    kind: type[
        rev.ReservationWaitlisted
        | rev.ReservationConfirmed
        | rev.ReservationRejected
        | rev.ReservationCancelled
        | rev.ReservationExpired
        | rev.ReservationAttended
        | rev.ReservationNoShow
    ],
    reservation_id: str,
    user_id: str,
    version: int,
    status: rpb.ReservationStatus,
    reason: rpb.ReservationReason = S.RESERVATION_REASON_UNSPECIFIED,
    ticket: int = 0,
    class_id: str = "c-1",
    **fields: object,
) -> Envelope:
    r = reservation(
        version, status, reason, reservation_id=reservation_id, user_id=user_id, class_id=class_id
    )
    r.class_time_zone = "Asia/Seoul"
    r.waitlist_ticket = ticket
    for name, value in fields.items():
        if name == "check_in_time":
            r.check_in_time.CopyFrom(value)  # type: ignore[arg-type]
        else:
            setattr(r, name, value)
    return envelope(kind(reservation=r), reservation_id)


def waitlisted(reservation_id: str, user_id: str, ticket: int, position: int = 0) -> Envelope:
    return event(
        rev.ReservationWaitlisted,
        reservation_id,
        user_id,
        2,
        S.RESERVATION_STATUS_WAITLISTED,
        ticket=ticket,
        waitlist_position=position,
    )


async def page_of(db: Database, user_id: str) -> dict[str, tuple[int, int, bool]]:
    """reservation id -> (status, place in the queue, promoted), as GetMyPage returns them."""
    service = MyPageService(Transactions(db, MyPageStore), lambda: NOW)
    entries, _ = await service.page(user_id, 100, None)
    return {
        e.reservation_id: (p.status, p.waitlist_position, p.promoted)
        for e in entries
        for p in [to_proto(e)]
    }


async def test_the_place_moves_up_as_people_ahead_leave(db: Database) -> None:
    c = new_consumer(db)
    # Class c-1's queue in ticket order: a (u1), b (u2), mine (11), d (u3); member 11 also
    # waits for class c-2 (its own queue) and holds a seat in c-3.
    for e in [
        waitlisted("r-a", "u1", 10, 1),
        waitlisted("r-b", "u2", 11, 2),
        waitlisted("r-mine", "11", 12, 3),
        waitlisted("r-d", "u3", 13, 4),
        event(
            rev.ReservationWaitlisted,
            "r-other",
            "11",
            2,
            S.RESERVATION_STATUS_WAITLISTED,
            ticket=99,
            class_id="c-2",
        ),
        event(rev.ReservationConfirmed, "r-seat", "11", 2, S.RESERVATION_STATUS_CONFIRMED),
    ]:
        assert c.apply(e) is True
    W, C = S.RESERVATION_STATUS_WAITLISTED, S.RESERVATION_STATUS_CONFIRMED
    assert await page_of(db, "11") == {
        "r-mine": (W, 3, False),
        "r-other": (W, 1, False),
        "r-seat": (C, 0, False),
    }
    assert (await page_of(db, "u3"))["r-d"] == (W, 4, False)
    # The head is promoted: everyone behind moves up one.
    assert c.apply(
        event(
            rev.ReservationConfirmed,
            "r-a",
            "u1",
            3,
            S.RESERVATION_STATUS_CONFIRMED,
            ticket=10,
            promoted=True,
        )
    )
    assert (await page_of(db, "11"))["r-mine"] == (W, 2, False)
    assert await page_of(db, "u1") == {"r-a": (C, 0, True)}
    # The next one is passed over (overlapping booking) and leaves the queue.
    assert c.apply(
        event(
            rev.ReservationRejected,
            "r-b",
            "u2",
            3,
            S.RESERVATION_STATUS_REJECTED,
            S.RESERVATION_REASON_WAITLIST_OVERLAPPING_BOOKING,
            ticket=11,
        )
    )
    assert (await page_of(db, "11"))["r-mine"] == (W, 1, False)
    assert (await page_of(db, "u3"))["r-d"] == (W, 2, False)
    # Member 11 leaves the queue: the one behind is next.
    assert c.apply(
        event(
            rev.ReservationCancelled,
            "r-mine",
            "11",
            3,
            S.RESERVATION_STATUS_CANCELLED,
            S.RESERVATION_REASON_CANCELLED_BY_USER,
            ticket=12,
        )
    )
    assert (await page_of(db, "11"))["r-mine"] == (S.RESERVATION_STATUS_CANCELLED, 0, False)
    assert (await page_of(db, "u3"))["r-d"] == (W, 1, False)
    # The queue closes: the last one expires, with its reason.
    assert c.apply(
        event(
            rev.ReservationExpired,
            "r-d",
            "u3",
            3,
            S.RESERVATION_STATUS_EXPIRED,
            S.RESERVATION_REASON_WAITLIST_CLOSED,
            ticket=13,
        )
    )
    assert (await page_of(db, "u3"))["r-d"] == (S.RESERVATION_STATUS_EXPIRED, 0, False)
    row = stored(db, "r-d")
    assert (row["status"], row["reason"], row["waitlist_ticket"]) == (
        "EXPIRED",
        "WAITLIST_CLOSED",
        13,
    )


async def test_an_older_event_never_puts_a_reservation_back_in_the_queue(db: Database) -> None:
    c = new_consumer(db)
    c.apply(waitlisted("r-a", "u1", 10))
    c.apply(waitlisted("r-mine", "11", 12))
    promoted = event(
        rev.ReservationConfirmed,
        "r-a",
        "u1",
        3,
        S.RESERVATION_STATUS_CONFIRMED,
        ticket=10,
        promoted=True,
    )
    assert c.apply(promoted)
    before = contents(db)["reservations"]
    # The WAITLISTED event of r-a again (a replay with a new delivery id): older, dropped.
    assert c.apply(waitlisted("r-a", "u1", 10))
    assert contents(db)["reservations"] == before
    assert (await page_of(db, "11"))["r-mine"] == (S.RESERVATION_STATUS_WAITLISTED, 1, False)


async def test_check_in_no_show_late_cancel_and_the_class_zone_reach_the_page(
    db: Database,
) -> None:
    c = new_consumer(db)
    checked = START - timedelta(minutes=7)
    for e in [
        event(rev.ReservationConfirmed, "r-1", "11", 2, S.RESERVATION_STATUS_CONFIRMED),
        event(
            rev.ReservationAttended,
            "r-1",
            "11",
            3,
            S.RESERVATION_STATUS_ATTENDED,
            check_in_time=to_timestamp(checked),
        ),
        event(
            rev.ReservationNoShow,
            "r-2",
            "11",
            3,
            S.RESERVATION_STATUS_NO_SHOW,
            class_id="c-2",
        ),
        event(
            rev.ReservationCancelled,
            "r-3",
            "11",
            3,
            S.RESERVATION_STATUS_CANCELLED,
            S.RESERVATION_REASON_LATE_CANCELLED,
            class_id="c-3",
        ),
        event(
            rev.ReservationRejected,
            "r-4",
            "11",
            2,
            S.RESERVATION_STATUS_REJECTED,
            S.RESERVATION_REASON_BOOKING_LIMIT,
            class_id="c-4",
        ),
    ]:
        assert c.apply(e) is True
    service = MyPageService(Transactions(db, MyPageStore), lambda: NOW)
    entries, _ = await service.page("11", 100, None)
    got = {e.reservation_id: to_proto(e) for e in entries}
    assert got["r-1"].status == S.RESERVATION_STATUS_ATTENDED
    assert got["r-1"].check_in_time == to_timestamp(checked)
    assert got["r-2"].status == S.RESERVATION_STATUS_NO_SHOW
    assert not got["r-2"].HasField("check_in_time")
    assert (got["r-3"].status, got["r-3"].reason) == (
        S.RESERVATION_STATUS_CANCELLED,
        S.RESERVATION_REASON_LATE_CANCELLED,
    )
    assert got["r-4"].reason == S.RESERVATION_REASON_BOOKING_LIMIT
    assert {p.class_time_zone for p in got.values()} == {"Asia/Seoul"}
    assert stored(db, "r-1")["check_in_time"] == checked


async def test_a_replay_of_every_event_changes_nothing(db: Database) -> None:
    events = [
        waitlisted("r-a", "u1", 10),
        waitlisted("r-mine", "11", 12),
        event(
            rev.ReservationConfirmed,
            "r-a",
            "u1",
            3,
            S.RESERVATION_STATUS_CONFIRMED,
            ticket=10,
            promoted=True,
        ),
        event(
            rev.ReservationAttended,
            "r-a",
            "u1",
            4,
            S.RESERVATION_STATUS_ATTENDED,
            ticket=10,
            promoted=True,
            check_in_time=to_timestamp(START),
        ),
    ]
    c = new_consumer(db)
    assert [c.apply(e) for e in events] == [True] * 4
    after = contents(db)
    page = await page_of(db, "11")
    assert page == {"r-mine": (S.RESERVATION_STATUS_WAITLISTED, 1, False)}
    # Redelivered: the inbox drops them.
    assert [c.apply(e) for e in events] == [False] * 4
    assert contents(db) == after
    # Replayed with new delivery ids (a rebuilt topic): recorded in the inbox, versions drop them.
    for e in events:
        again = Envelope(
            event_id=f"replay-{e.event_id}",
            event_type=e.event_type,
            source=e.source,
            time=e.time,
            key=e.key,
            payload=e.payload,
        )
        assert c.apply(again) is True
    replayed = contents(db)
    assert replayed["reservations"] == after["reservations"]
    assert len(replayed["inbox"]) == 8
    assert await page_of(db, "11") == page
    assert await page_of(db, "u1") == {"r-a": (S.RESERVATION_STATUS_ATTENDED, 0, True)}
    assert stored(db, "r-a")["check_in_time"] == START


def test_a_waiting_reservation_without_a_ticket_goes_nowhere(db: Database) -> None:
    c = new_consumer(db)
    with pytest.raises(InvalidEvent, match="waitlist_ticket"):
        c.apply(waitlisted("r-x", "11", 0))
    assert contents(db)["reservations"] == []
    assert contents(db)["inbox"] == []
