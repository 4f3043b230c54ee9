"""Issue 15 through the real consumer paths on SQLite and PostgreSQL, without a broker: a
ClassUpdated that moves a class is handed to reservation_svc's `EventConsumer.apply` (inbox,
handlers, service layer, outbox, migrated tables); the ReservationRescheduled rows its outbox
holds then go, as they would from the topic, to mypage_svc's consumer, whose page shows the
new start in the class's zone. Redeliveries and replays of every event change nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mypage_svc import storage as mypage_storage
from mypage_svc.messages import to_proto
from mypage_svc.service import MyPageService
from mypage_svc.storage import MyPageStore
from reservation_svc import consumers, messages
from reservation_svc import storage as reservation_storage
from reservation_svc.domain import (
    ClassInfo,
    Reason,
    Reservation,
    ReservationConfirmed,
    ReservationEvent,
    ReservationWaitlisted,
    Status,
    new_reservation,
)
from reservation_svc.storage import ReservationStore
from tests.integration.conftest import BACKENDS, migrated_database
from tests.integration.test_mypage_service import envelope
from tests.integration.test_mypage_service import new_consumer as mypage_consumer
from yoga.reservation.v1 import events_pb2 as rev
from yoga.yogaclass.v1 import events_pb2 as cev
from yoga.yogaclass.v1 import yogaclass_pb2 as ypb
from yoga_common.consumer import EventConsumer
from yoga_common.db import Database
from yoga_common.events import Envelope
from yoga_common.settings import KafkaSettings
from yoga_common.timestamps import from_timestamp, to_timestamp
from yoga_common.topics import RESERVATION_EVENTS, YOGACLASS_EVENTS
from yoga_common.uow import Outbox, Transactions

pytestmark = pytest.mark.integration

NO_BROKER = "127.0.0.1:1"  # nothing listens: only dead letters would need it
ZONE = "Asia/Seoul"
START = datetime(2031, 3, 2, 22, 0, tzinfo=UTC)  # Mon 3 Mar 07:00 KST
MOVED = START + timedelta(hours=2, minutes=30)  # Mon 3 Mar 09:30 KST
HOUR = timedelta(hours=1)
NOW = START - timedelta(days=2)
RESCHEDULED = rev.ReservationRescheduled.DESCRIPTOR.full_name


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def reservations_db(backend: str, tmp_path: Path) -> Iterator[Database]:
    with migrated_database(backend, tmp_path, "reservation") as database:
        yield database


@pytest.fixture
def mypage_db(backend: str, tmp_path: Path) -> Iterator[Database]:
    with migrated_database(backend, tmp_path, "mypage") as database:
        yield database


def transactions(db: Database) -> Transactions[ReservationStore]:
    return Transactions(
        db,
        ReservationStore,
        Outbox(reservation_storage.outbox, RESERVATION_EVENTS, messages.event),
    )


def reservation_consumer(db: Database) -> EventConsumer[ReservationStore]:
    return EventConsumer(
        "reservation_svc",
        transactions(db),
        reservation_storage.inbox,
        [YOGACLASS_EVENTS],
        consumers.build(),
        KafkaSettings(bootstrap_servers=NO_BROKER),
    )


def replayed(e: Envelope) -> Envelope:
    """The same event read again from a rebuilt topic: a new delivery id."""
    return replace(e, event_id=f"replay-{e.event_id}")


def yoga_class(version: int, start: datetime = START, title: str = "Morning Flow") -> ypb.YogaClass:
    return ypb.YogaClass(
        class_id="c-1",
        title=title,
        start_time=to_timestamp(start),
        end_time=to_timestamp(start + HOUR),
        time_zone=ZONE,
        status=ypb.CLASS_STATUS_SCHEDULED,
        version=version,
        capacity=10,
    )


def created() -> Envelope:
    return envelope(cev.ClassCreated(yoga_class=yoga_class(1)), "c-1")


def updated(version: int, start: datetime = START, title: str = "Morning Flow") -> Envelope:
    return envelope(cev.ClassUpdated(yoga_class=yoga_class(version, start, title)), "c-1")


BOOKED = ClassInfo("Morning Flow", START, START + HOUR, ZONE, 1)
# user -> the state their reservation of c-1 is in when the class moves.
STATES = {
    "u-confirmed": (Status.CONFIRMED, Reason.NONE),
    "u-waiting": (Status.WAITLISTED, Reason.NONE),
    "u-pending": (Status.PENDING, Reason.NONE),
    "u-cancelled": (Status.CANCELLED, Reason.CANCELLED_BY_USER),
    "u-rejected": (Status.REJECTED, Reason.CLASS_FULL),
}
ACTIVE_USERS = {"u-confirmed", "u-waiting", "u-pending"}


def booked(user: str, n: int) -> Reservation:
    status, reason = STATES[user]
    r = new_reservation("c-1", user, f"{user}@example.com", f"req-{n}", "hash", NOW)
    return replace(
        r,
        status=status,
        reason=reason,
        version=2,
        class_info=BOOKED,
        waitlist_ticket=n if status is Status.WAITLISTED else None,
    )


def seed(db: Database) -> dict[str, Reservation]:
    rows = {user: booked(user, n) for n, user in enumerate(STATES, start=1)}
    tx = transactions(db)
    for r in rows.values():
        assert tx.run_sync(lambda uow, r=r: uow.store.add(r))
    return rows


def table(db: Database, t: Any) -> list[tuple[Any, ...]]:
    """Every row of a table (or column), sorted: each table's first column is its key."""
    return db.run_sync(
        lambda conn: sorted(tuple(row) for row in conn.execute(select(t))), write=False
    )


def outbox_rows(db: Database) -> list[tuple[str, str, bytes]]:
    o = reservation_storage.outbox
    return [
        (row[0], row[1], row[2])
        for row in db.run_sync(
            lambda conn: conn.execute(
                select(o.c.event_type, o.c.event_key, o.c.payload).order_by(o.c.id)
            ).all(),
            write=False,
        )
    ]


def reservations_of(db: Database) -> list[tuple[Any, ...]]:
    return table(db, reservation_storage.reservations)


def as_published(db: Database) -> list[Envelope]:
    """The outbox's rows as mypage_svc's consumer would read them from the topic."""
    return [
        Envelope(
            event_id=str(uuid.uuid4()),
            event_type=kind,
            source="reservation_svc",
            time=datetime.now(UTC).isoformat(),
            key=key,
            payload=payload,
        )
        for kind, key, payload in outbox_rows(db)
    ]


def published(event: ReservationEvent) -> Envelope:
    key, message = messages.event(event)
    return envelope(message, key)


async def page_of(db: Database, user: str) -> dict[str, tuple[datetime | None, str, str]]:
    service = MyPageService(Transactions(db, MyPageStore), lambda: NOW)
    entries, _ = await service.page(user, 100, None)
    return {
        e.reservation_id: (e.class_info.start_time, p.class_start_local, p.class_title)
        for e in entries
        for p in [to_proto(e)]
    }


def test_a_move_tells_each_member_still_booked_once(reservations_db: Database) -> None:
    db = reservations_db
    rows = seed(db)
    c = reservation_consumer(db)
    rename = updated(2, title="Sunrise Flow")
    move = updated(3, MOVED, "Sunrise Flow")

    # A rename redescribes every reservation and tells nobody.
    assert c.apply(rename) is True
    assert outbox_rows(db) == []
    assert {r[0] for r in table(db, reservation_storage.reservations.c.class_title)} == {
        "Sunrise Flow"
    }

    assert c.apply(move) is True
    told = outbox_rows(db)
    assert [kind for kind, _, _ in told] == [RESCHEDULED] * 3
    by_key = {key: rev.ReservationRescheduled.FromString(payload) for _, key, payload in told}
    assert by_key.keys() == {rows[u].reservation_id for u in ACTIVE_USERS}
    for user in ACTIVE_USERS:
        e = by_key[rows[user].reservation_id]
        assert e.user_email == f"{user}@example.com"
        assert from_timestamp(e.reservation.class_start_time) == MOVED
        assert from_timestamp(e.previous_start_time) == START
        assert from_timestamp(e.previous_end_time) == START + HOUR
        assert e.reservation.class_time_zone == ZONE
        assert e.reservation.version == 4  # booked at 2, renamed, moved
        assert e.reservation.status == messages.STATUS[rows[user].status]
    # Every reservation, told or not, holds the moved class.
    held = ReservationStore
    for r in rows.values():
        now = db.run_sync(lambda conn, r=r: held(conn).get(r.reservation_id), write=False)
        assert now is not None and now.class_info is not None
        assert (now.class_info.start_time, now.class_info.version) == (MOVED, 3)

    after = reservations_of(db)
    # Redelivered: the inbox drops them.
    assert c.apply(move) is False
    assert c.apply(rename) is False
    # Replayed with new delivery ids (and a late, older version): the class version drops them.
    for e in (rename, move, updated(2, START)):
        assert c.apply(replayed(e)) is True
    assert reservations_of(db) == after
    assert outbox_rows(db) == told


async def test_my_page_shows_the_move_in_the_class_zone(
    reservations_db: Database, mypage_db: Database
) -> None:
    rows = seed(reservations_db)
    # My page already knows the class and the bookings, as their events told it.
    page = mypage_consumer(mypage_db)
    before = [created()]
    for r in rows.values():
        if r.status is Status.WAITLISTED:
            before.append(published(ReservationWaitlisted(r, 1)))
        elif r.status is Status.CONFIRMED:
            before.append(published(ReservationConfirmed(r)))
    assert [page.apply(e) for e in before] == [True] * len(before)
    mine = rows["u-confirmed"].reservation_id
    assert await page_of(mypage_db, "u-confirmed") == {
        mine: (START, "Mon 3 Mar 07:00 KST", "Morning Flow")
    }

    move = updated(2, MOVED)
    assert reservation_consumer(reservations_db).apply(move) is True
    told = as_published(reservations_db)
    assert len(told) == 3
    # The reservation's event comes first (the class's own ClassUpdated is on another topic).
    assert [page.apply(e) for e in told] == [True] * 3
    shown = {mine: (MOVED, "Mon 3 Mar 09:30 KST", "Morning Flow")}
    assert await page_of(mypage_db, "u-confirmed") == shown
    waiting = rows["u-waiting"].reservation_id
    assert (await page_of(mypage_db, "u-waiting"))[waiting][:2] == (MOVED, "Mon 3 Mar 09:30 KST")
    # The class's event agrees.
    assert page.apply(move) is True
    assert await page_of(mypage_db, "u-confirmed") == shown

    contents = {t.name: table(mypage_db, t) for t in mypage_storage.metadata.sorted_tables}
    # Redelivered, then replayed from the beginning: nothing changes.
    everything = [*before, *told, move]
    assert [page.apply(e) for e in everything] == [False] * len(everything)
    assert [page.apply(replayed(e)) for e in everything] == [True] * len(everything)
    again = {t.name: table(mypage_db, t) for t in mypage_storage.metadata.sorted_tables}
    assert {k: v for k, v in again.items() if k != "inbox"} == {
        k: v for k, v in contents.items() if k != "inbox"
    }
    assert await page_of(mypage_db, "u-confirmed") == shown


async def test_the_class_event_first_then_the_reservation_event_agree(
    reservations_db: Database, mypage_db: Database
) -> None:
    rows = seed(reservations_db)
    page = mypage_consumer(mypage_db)
    assert page.apply(created())
    assert page.apply(published(ReservationConfirmed(rows["u-confirmed"])))
    move = updated(2, MOVED)
    assert page.apply(move)
    mine = rows["u-confirmed"].reservation_id
    shown = {mine: (MOVED, "Mon 3 Mar 09:30 KST", "Morning Flow")}
    assert await page_of(mypage_db, "u-confirmed") == shown
    assert reservation_consumer(reservations_db).apply(move)
    for e in as_published(reservations_db):
        assert page.apply(e)
    assert await page_of(mypage_db, "u-confirmed") == shown
