"""Weekly class series (issue 15) on real databases and real services.

The use cases with an injected clock on SQLite and PostgreSQL (the materializer run twice, two
materializers at once, the horizon rolling forward, splits, cancels); then the API through a
real system of the four services and the gateway: a series made through gRPC and JSON whose
occurrences are bookable classes, an edit of this-and-following that moves a booked member's
class, a cancel that cancels their reservation and tells them once, a redelivery that changes
nothing, and bad input that names its field and writes nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import grpc
import pytest
from confluent_kafka import Producer
from google.protobuf.duration_pb2 import Duration
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message
from sqlalchemy import text

from devtools.processes import free_port
from tests.integration.conftest import (
    ALL,
    BACKENDS,
    Clients,
    Stack,
    connect,
    migrated_database,
    system_under_test,
)
from tests.integration.events_support import Mailbox, drained, rows
from tests.integration.support import error_details, eventually
from yoga.notification.v1 import notification_pb2 as npb
from yoga.reservation.v1 import reservation_pb2 as rpb
from yoga.yogaclass.v1 import events_pb2 as yev
from yoga.yogaclass.v1 import yogaclass_pb2 as ypb
from yoga_common.auth import ADMIN
from yoga_common.db import Database
from yoga_common.errors import Code, ServiceError
from yoga_common.events import headers
from yoga_common.settings import AuthSettings
from yoga_common.timestamps import from_timestamp, to_timestamp, utcnow
from yoga_common.topics import YOGACLASS_EVENTS
from yoga_common.uow import Outbox, Transactions
from yogaclass_svc import messages, series
from yogaclass_svc.series_service import SeriesService
from yogaclass_svc.service import ClassService
from yogaclass_svc.storage import ClassStore, outbox
from yogaclass_svc.studio_service import StudioService

SEOUL = ZoneInfo("Asia/Seoul")
# Monday 22 February 2027, 09:00 in Seoul.
NOW0 = datetime(2027, 2, 22, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@dataclass
class Parts:
    db: Database
    clock: Clock
    series: SeriesService
    classes: ClassService
    studio: StudioService

    def count(self, query: str, **params: Any) -> int:
        with self.db.engine.connect() as conn:
            return int(conn.execute(text(query), params).scalar_one())

    def events(self, kind: type[Message]) -> list[Any]:
        with self.db.engine.connect() as conn:
            found = conn.execute(
                text("SELECT payload FROM outbox WHERE event_type = :t ORDER BY id"),
                {"t": kind.DESCRIPTOR.full_name},
            )
            return [kind.FromString(bytes(p)) for (p,) in found]

    def snapshot(self) -> list[Any]:
        with self.db.engine.connect() as conn:
            return [
                conn.execute(text(f"SELECT * FROM {table} ORDER BY 1")).all()
                for table in ("series", "classes", "outbox", "series_edits", "seat_claims")
            ]


def services(db: Database, clock: Clock) -> Parts:
    tx = Transactions(db, ClassStore, Outbox(outbox, "t.yogaclass", messages.outbox_event))
    return Parts(
        db, clock, SeriesService(tx, clock), ClassService(tx, clock), StudioService(tx, clock)
    )


@contextmanager
def timetable(backend: str, folder: Path) -> Iterator[Parts]:
    with migrated_database(backend, folder, "yogaclass", f"series_{uuid.uuid4().hex[:8]}") as db:
        yield services(db, Clock(NOW0))


def pattern(at: datetime, recurrence: str, **changes: Any) -> series.Pattern:
    draft = series.Draft(
        title="Vinyasa",
        instructor="Jiwoo",
        capacity=2,
        waitlist_capacity=0,
        cancellation_window=None,
        time_zone="Asia/Seoul",
        start_date="2027-03-01",
        start_time="07:00",
        duration=HOUR,
        recurrence=recurrence,
    )
    return series.validate(series.Draft(**{**draft.__dict__, **changes}), at)


def local(at: datetime) -> datetime:
    return at.astimezone(SEOUL)


def class_ids(p: Parts, series_id: str) -> list[str]:
    with p.db.engine.connect() as conn:
        found = conn.execute(
            text("SELECT class_id FROM classes WHERE series_id = :s"), {"s": series_id}
        ).all()
    return [class_id for (class_id,) in found]


async def by_date(p: Parts, series_id: str) -> dict[date, Any]:
    """The series' classes by local date, as the service reads them."""
    found = [await p.classes.get(i) for i in await asyncio.to_thread(class_ids, p, series_id)]
    return {c.occurrence_date: c for c in found}


# --- the use cases, with an injected clock ---------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
async def test_the_materializer_makes_each_occurrence_once_as_the_horizon_rolls(
    backend: str, tmp_path: Path
) -> None:
    with timetable(backend, tmp_path) as p:
        await p.studio.update_settings({"series_horizon": timedelta(days=14)})
        created, made = await p.series.create(
            pattern(NOW0, "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=12"), "", ""
        )
        # 14 days from Monday 22 February: 1, 3 and 8 March (07:00 in Seoul).
        assert made == 3
        assert sorted(await by_date(p, created.series_id)) == [
            date(2027, 3, 1),
            date(2027, 3, 3),
            date(2027, 3, 8),
        ]
        assert await p.series.materialize_due() == 0
        assert await p.series.materialize_due() == 0

        p.clock.at = NOW0 + timedelta(days=7)
        assert await p.series.materialize_due() == 2  # 10 and 15 March came in reach
        assert await p.series.materialize_due() == 0
        # A materializer of another start (state in the database only) has nothing to do.
        assert await services(p.db, p.clock).series.materialize_due() == 0

        await p.studio.update_settings({"series_horizon": timedelta(days=60)})
        assert await p.series.materialize_due() == 7
        assert await p.series.materialize_due() == 0
        found = await by_date(p, created.series_id)
        assert len(found) == 12
        assert {local(c.details.start_time).time() for c in found.values()} == {time(7)}
        assert all(c.details.end_time - c.details.start_time == HOUR for c in found.values())
        shown = await p.series.get(created.series_id)
        assert shown.materialized_until == p.clock.at + timedelta(days=60)
        assert shown.next_due is None
        assert shown.end_date == date(2027, 4, 7)
        # Every class made is one ClassCreated, and one row.
        assert len(p.events(yev.ClassCreated)) == 12
        assert p.count("SELECT count(*) FROM classes") == 12
        assert len(p.events(yev.SeriesCreated)) == 1


async def test_two_materializers_at_once_make_each_occurrence_once(tmp_path: Path) -> None:
    with timetable("postgres", tmp_path) as p:
        await p.studio.update_settings({"series_horizon": timedelta(days=7)})
        made = [
            await p.series.create(
                pattern(NOW0, "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR,SA,SU;COUNT=60"), "", ""
            )
            for _ in range(12)
        ]
        first = sum(n for _, n in made)
        other = Database(p.db.url, threads=4)
        try:
            replicas = [p.series, services(other, p.clock).series]
            later = NOW0 + timedelta(days=14)
            p.clock.at = later
            rounds = [await asyncio.gather(*(r.materialize_due() for r in replicas))]
            rounds.append(await asyncio.gather(*(r.materialize_due() for r in replicas)))
        finally:
            other.close()
        assert rounds[1] == [0, 0]
        expected = sum(
            len(series.due(s, NOW0, timedelta(days=7)))
            + len(series.due(s, later, timedelta(days=7)))
            for s, _ in made
        )
        assert first + sum(rounds[0]) == expected
        assert p.count("SELECT count(*) FROM classes") == expected
        assert (
            p.count("SELECT count(DISTINCT (series_id, occurrence_date)) FROM classes") == expected
        )
        assert len(p.events(yev.ClassCreated)) == expected


@pytest.mark.parametrize("backend", BACKENDS)
async def test_this_and_following_splits_moves_times_and_passes_detached_by(
    backend: str, tmp_path: Path
) -> None:
    with timetable(backend, tmp_path) as p:
        old, made = await p.series.create(
            pattern(NOW0, "FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20270331"), "", ""
        )
        assert made == 10
        p.clock.at = datetime(2027, 3, 5, tzinfo=UTC)
        before = await by_date(p, old.series_id)
        booked = before[date(2027, 3, 15)]
        for n in (1, 2):
            answer = await p.classes.reserve_seat(booked.class_id, f"r-{n}", f"u-{n}")
            assert answer.result.value == "RESERVED"
        detached = await p.classes.update(before[date(2027, 3, 22)].class_id, {"title": "Yin"})
        assert detached.detached

        edit = await p.series.update(
            old.series_id, {"start_time": time(9, 30)}, "2027-03-10", "edit-1", "h-1"
        )
        assert edit.previous is not None
        assert edit.previous.series_id == old.series_id
        assert edit.previous.end_date == date(2027, 3, 8)
        assert edit.previous.pattern.recurrence == "FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20270309"
        new = edit.series
        assert new.previous_series_id == old.series_id
        assert (new.pattern.start_date, new.pattern.start_time) == (date(2027, 3, 10), time(9, 30))
        assert edit.classes_updated == 6  # 10 … 31 March, but not the detached 22nd

        kept = await by_date(p, old.series_id)
        moved = await by_date(p, new.series_id)
        assert sorted(kept) == [date(2027, 3, d) for d in (1, 3, 8)]
        assert sorted(moved) == [date(2027, 3, d) for d in (10, 15, 17, 22, 24, 29, 31)]
        assert {local(c.details.start_time).time() for c in kept.values()} == {time(7)}
        for day, c in moved.items():
            wanted = time(7) if day == date(2027, 3, 22) else time(9, 30)
            assert local(c.details.start_time).time() == wanted, day
        assert moved[date(2027, 3, 15)].booked == 2
        assert moved[date(2027, 3, 15)].class_id == booked.class_id
        assert (moved[date(2027, 3, 22)].details.title, moved[date(2027, 3, 22)].detached) == (
            "Yin",
            True,
        )
        updated = [e for e in p.events(yev.ClassUpdated) if e.yoga_class.series_id]
        by_series = [e for e in updated if e.yoga_class.series_id == new.series_id]
        assert len(by_series) == 6
        assert {tuple(e.changed_fields) for e in by_series} == {("end_time", "start_time")}
        assert len(p.events(yev.SeriesUpdated)) == 1

        # A retry answers the same and splits nothing twice; the key for another edit is refused.
        again = await p.series.update(
            old.series_id, {"start_time": time(9, 30)}, "2027-03-10", "edit-1", "h-1"
        )
        assert again == edit
        assert p.count("SELECT count(*) FROM series") == 2
        with pytest.raises(ServiceError) as err:
            await p.series.update(old.series_id, {"title": "X"}, "2027-03-10", "edit-1", "h-2")
        assert [v.field for v in err.value.violations] == ["request_id"]

        # Capacity below the seats booked on any occurrence: the whole edit refused, nothing
        # changed.
        nothing = p.snapshot()
        with pytest.raises(ServiceError) as err:
            await p.series.update(new.series_id, {"capacity": 1, "title": "Flow"}, "", "", "")
        assert (err.value.code, err.value.reason) == (
            Code.FAILED_PRECONDITION,
            "CAPACITY_BELOW_BOOKED",
        )
        assert p.snapshot() == nothing
        with pytest.raises(ServiceError) as err:
            await p.series.update(new.series_id, {"title": "Flow"}, "2027-03-01", "", "")
        assert [v.field for v in err.value.violations] == ["from_date"]
        with pytest.raises(ServiceError) as err:
            await p.series.update("no-such-series", {"title": "Flow"}, "", "", "")
        assert err.value.code is Code.NOT_FOUND
        assert p.snapshot() == nothing
        assert await p.series.materialize_due() == 0


@pytest.mark.parametrize("backend", BACKENDS)
async def test_cancel_from_a_date_cancels_each_occurrence_once(
    backend: str, tmp_path: Path
) -> None:
    with timetable(backend, tmp_path) as p:
        s, _ = await p.series.create(
            pattern(NOW0, "FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20270630"), "", ""
        )
        p.clock.at = datetime(2027, 3, 5, tzinfo=UTC)
        before = await by_date(p, s.series_id)
        await p.classes.update(before[date(2027, 3, 22)].class_id, {"capacity": 5})
        cancelled, count = await p.series.cancel(s.series_id, "2027-03-15")
        # 56 days from 22 February reach 19 April: 15 March … 19 April were made.
        assert count == len([d for d in before if d >= date(2027, 3, 15)]) == 11
        assert cancelled.cancelled_from == date(2027, 3, 15)
        assert cancelled.status is series.SeriesStatus.ACTIVE
        after = await by_date(p, s.series_id)
        for day, c in after.items():
            assert (c.status.value == "CANCELLED") == (day >= date(2027, 3, 15)), day
        assert len(p.events(yev.ClassCancelled)) == 11
        assert len(p.events(yev.SeriesCancelled)) == 1

        nothing = p.snapshot()
        again, count = await p.series.cancel(s.series_id, "2027-03-15")
        assert (again, count) == (cancelled, 0)
        p.clock.at = datetime(2027, 4, 20, tzinfo=UTC)
        assert await p.series.materialize_due() == 0
        assert p.snapshot()[1:] == nothing[1:]

        with pytest.raises(ServiceError) as err:
            await p.series.cancel(s.series_id, "2027-04-01")  # before today
        assert [v.field for v in err.value.violations] == ["from_date"]
        whole, _ = await p.series.cancel(s.series_id, "2027-04-20")
        assert whole == again  # later than it ends now: nothing


# --- the API, through a real system ----------------------------------------------------------


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    """The system's SMTP server: what members were emailed."""
    box = Mailbox(free_port())
    box.start()
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture(scope="module", params=BACKENDS)
def system(
    request: pytest.FixtureRequest,
    auth: AuthSettings,
    tmp_path_factory: pytest.TempPathFactory,
    mailbox: Mailbox,
) -> Iterator[Stack]:
    with system_under_test(
        request.param,
        auth,
        tmp_path_factory.mktemp(f"series-{request.param}"),
        ALL,
        smtp_port=mailbox.port,
        gateway=True,
        common_env={
            "YOGACLASS_SERIES_INTERVAL_SECONDS": "0.5",
            "NOTIFICATION_REMINDER_INTERVAL_SECONDS": "0.5",
        },
    ) as running:
        yield running


@pytest.fixture
async def c(system: Stack) -> AsyncIterator[Clients]:
    async for clients in connect(system):
        yield clients


def seoul_today() -> date:
    return utcnow().astimezone(SEOUL).date()


def seconds(n: int) -> Duration:
    return Duration(seconds=n)


def a_series(**changes: Any) -> ypb.ClassSeries:
    spec: dict[str, Any] = {
        "title": f"Series {uuid.uuid4().hex[:6]}",
        "instructor": "Mina",
        "capacity": 3,
        "time_zone": "Asia/Seoul",
        "start_date": (seoul_today() + timedelta(days=1)).isoformat(),
        "start_time": "07:00",
        "duration": seconds(3600),
        "recurrence": "RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=6",
    }
    return ypb.ClassSeries(**{**spec, **changes})


async def listed(c: Clients, series_id: str) -> list[ypb.YogaClass]:
    answer = await c.classes.ListClasses(
        ypb.ListClassesRequest(series_id=series_id, page_size=100), metadata=c.stack.as_user("11")
    )
    return list(answer.yoga_classes)


async def reservation(c: Clients, reservation_id: str) -> rpb.Reservation:
    answer = await c.reservations.GetReservation(
        rpb.GetReservationRequest(reservation_id=reservation_id), metadata=c.stack.as_admin()
    )
    return answer.reservation


async def notes(c: Clients, user: str, kind: int) -> list[npb.Notification]:
    answer = await c.notifications.ListNotifications(
        npb.ListNotificationsRequest(user_id=c.stack.user_id(user), page_size=100),
        metadata=c.stack.as_admin(),
    )
    return [n for n in answer.notifications if n.kind == kind]


async def kinds(c: Clients, user: str) -> list[str]:
    answer = await c.notifications.ListNotifications(
        npb.ListNotificationsRequest(user_id=c.stack.user_id(user)), metadata=c.stack.as_admin()
    )
    return [npb.NotificationKind.Name(n.kind) for n in answer.notifications]


def republish(stack: Stack, kind: type[Message], new_ids: bool) -> int:
    """yogaclass_svc's published events of `kind` once more on its topic: under their own ids
    (a redelivery) or new ones (the same facts again)."""
    found = rows(
        stack,
        "yogaclass",
        "SELECT event_id, event_key, payload FROM outbox WHERE event_type = :t ORDER BY id",
        t=kind.DESCRIPTOR.full_name,
    )
    producer = Producer(stack.kafka.client_config())
    for event_id, key, payload in found:
        producer.produce(
            stack.kafka.name(YOGACLASS_EVENTS),
            key=str(key).encode(),
            value=bytes(payload),
            headers=headers(
                str(uuid.uuid4()) if new_ids else str(event_id),
                kind.DESCRIPTOR.full_name,
                "test",
                utcnow(),
                None,
            ),
        )
    assert producer.flush(10) == 0
    return len(found)


async def test_a_series_through_grpc_and_json_books_moves_and_cancels(c: Clients) -> None:
    staff = c.stack.as_admin()
    spec = a_series()
    created = await c.classes.CreateSeries(
        ypb.CreateSeriesRequest(series=spec, request_id=str(uuid.uuid4())), metadata=staff
    )
    s = created.series
    assert created.classes_created == 6
    assert s.status == ypb.SERIES_STATUS_ACTIVE
    assert s.recurrence == "RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=6"
    occurrences = await listed(c, s.series_id)
    assert len(occurrences) == 6
    assert [o.occurrence_date for o in occurrences] == sorted(
        o.occurrence_date for o in occurrences
    )
    for o in occurrences:
        start = from_timestamp(o.start_time).astimezone(SEOUL)
        assert start.strftime("%H:%M %a") in ("07:00 Mon", "07:00 Wed")
        assert start.date().isoformat() == o.occurrence_date
    # By instructor too, with the time range (AND-ed).
    third = from_timestamp(occurrences[2].start_time)
    mina = await c.classes.ListClasses(
        ypb.ListClassesRequest(
            instructor="Mina", start_time=occurrences[2].start_time, page_size=100
        ),
        metadata=c.stack.as_user("11"),
    )
    assert all(from_timestamp(o.start_time) >= third for o in mina.yoga_classes)
    assert {o.class_id for o in occurrences[2:]} <= {o.class_id for o in mina.yoga_classes}

    # The occurrences are real classes: a member books the fourth.
    booked = await c.reservations.CreateReservation(
        rpb.CreateReservationRequest(
            class_id=occurrences[3].class_id, request_id=str(uuid.uuid4())
        ),
        metadata=c.stack.as_user("series-1"),
        timeout=60,
    )
    assert booked.reservation.status == rpb.RESERVATION_STATUS_CONFIRMED

    # Staff edit the fifth on its own: it leaves the pattern.
    await c.classes.UpdateClass(
        ypb.UpdateClassRequest(
            yoga_class=ypb.YogaClass(class_id=occurrences[4].class_id, title="Candlelight"),
            update_mask=FieldMask(paths=["title"]),
        ),
        metadata=staff,
    )

    # This and following, from the third: it splits; the fourth moves to 09:30.
    edit = await c.classes.UpdateSeries(
        ypb.UpdateSeriesRequest(
            series=ypb.ClassSeries(series_id=s.series_id, start_time="09:30"),
            update_mask=FieldMask(paths=["start_time"]),
            from_date=occurrences[2].occurrence_date,
            request_id=str(uuid.uuid4()),
        ),
        metadata=staff,
    )
    assert edit.previous.series_id == s.series_id
    assert edit.previous.end_date < occurrences[2].occurrence_date
    assert edit.series.previous_series_id == s.series_id
    assert edit.classes_updated == 3
    moved = await listed(c, edit.series.series_id)
    assert [o.class_id for o in moved] == [o.class_id for o in occurrences[2:]]
    times = {o.class_id: from_timestamp(o.start_time).astimezone(SEOUL) for o in moved}
    assert times[occurrences[3].class_id].strftime("%H:%M") == "09:30"
    assert times[occurrences[4].class_id].strftime("%H:%M") == "07:00"  # detached

    new_start = moved[1].start_time

    async def rescheduled() -> bool:
        found = await reservation(c, booked.reservation.reservation_id)
        return found.class_start_time == new_start and "NOTIFICATION_KIND_RESCHEDULED" in (
            await kinds(c, "series-1")
        )

    await eventually(rescheduled, within=30)
    # The member was told once, in the studio's time: from 07:00 KST to 09:30 KST.
    told_of_move = await notes(c, "series-1", npb.NOTIFICATION_KIND_RESCHEDULED)
    assert len(told_of_move) == 1
    assert told_of_move[0].class_time_zone == "Asia/Seoul"
    assert "07:00 KST" in told_of_move[0].body and "09:30 KST" in told_of_move[0].body

    # Cancel the new series from the fourth, through JSON: the booked member's reservation is
    # cancelled by the studio and they are told once; the detached one is cancelled too.
    admin = c.stack.json("staff-1", ADMIN)
    path = f"/v1/series/{edit.series.series_id}:cancel"
    body = {"fromDate": occurrences[3].occurrence_date}
    answer = await asyncio.to_thread(admin.ok, "POST", path, body)
    assert answer["classesCancelled"] == 3
    assert answer["series"]["cancelledFrom"] == occurrences[3].occurrence_date
    again = await asyncio.to_thread(admin.ok, "POST", path, body)
    assert again.get("classesCancelled", 0) == 0
    assert again["series"] == answer["series"]
    statuses = [o.status for o in await listed(c, edit.series.series_id)]
    assert statuses == [ypb.CLASS_STATUS_SCHEDULED] + [ypb.CLASS_STATUS_CANCELLED] * 3

    async def told() -> bool:
        found = await reservation(c, booked.reservation.reservation_id)
        return (
            found.status == rpb.RESERVATION_STATUS_CANCELLED
            and found.reason == rpb.RESERVATION_REASON_CANCELLED_BY_STUDIO
            and (await kinds(c, "series-1")).count("NOTIFICATION_KIND_CLASS_CANCELLED") == 1
        )

    await eventually(told, within=30)
    await drained(c.stack, ["reservation", "notification", "mypage"], within=60)
    settled = (
        rows(c.stack, "reservation", "SELECT * FROM reservations ORDER BY reservation_id"),
        rows(c.stack, "notification", "SELECT * FROM notifications ORDER BY notification_id"),
    )
    # Redelivered, and the same facts under new ids: nothing changes anywhere.
    for new_ids in (False, True):
        for kind in (yev.ClassCancelled, yev.ClassUpdated, yev.ClassCreated):
            await asyncio.to_thread(republish, c.stack, kind, new_ids)
    await drained(c.stack, ["reservation", "notification", "mypage"], within=60)
    await asyncio.sleep(1.0)
    assert (
        rows(c.stack, "reservation", "SELECT * FROM reservations ORDER BY reservation_id"),
        rows(c.stack, "notification", "SELECT * FROM notifications ORDER BY notification_id"),
    ) == settled
    assert len(await notes(c, "series-1", npb.NOTIFICATION_KIND_RESCHEDULED)) == 1
    assert len(await notes(c, "series-1", npb.NOTIFICATION_KIND_CLASS_CANCELLED)) == 1

    # Both series are listed, the instructor's filter included.
    listed_series = await c.classes.ListSeries(
        ypb.ListSeriesRequest(instructor="Mina", page_size=100), metadata=c.stack.as_user("11")
    )
    ids = [x.series_id for x in listed_series.series]
    assert s.series_id in ids and edit.series.series_id in ids


async def test_a_series_made_through_json_is_made_once(c: Clients) -> None:
    admin = c.stack.json("staff-1", ADMIN)
    start = seoul_today() + timedelta(days=2)
    body = {
        "title": "Morning Flow",
        "instructor": "Jiwoo",
        "capacity": 4,
        "timeZone": "Asia/Seoul",
        "startDate": start.isoformat(),
        "startTime": "06:30",
        "duration": "4500s",
        "recurrence": f"FREQ=WEEKLY;UNTIL={(start + timedelta(days=20)).strftime('%Y%m%d')}",
    }
    path = f"/v1/series?requestId={uuid.uuid4()}"
    first = await asyncio.to_thread(admin.ok, "POST", path, body)
    retry = await asyncio.to_thread(admin.ok, "POST", path, body)
    assert retry["series"] == first["series"]
    assert first["classesCreated"] == 3
    series_id = first["series"]["seriesId"]
    got = await asyncio.to_thread(admin.ok, "GET", f"/v1/series/{series_id}")
    assert got["series"] == first["series"]
    assert got["series"]["endDate"] == (start + timedelta(days=14)).isoformat()
    member = c.stack.json("11")
    page = await asyncio.to_thread(member.ok, "GET", f"/v1/classes?seriesId={series_id}")
    assert [x["occurrenceDate"] for x in page["yogaClasses"]] == [
        (start + timedelta(days=7 * n)).isoformat() for n in range(3)
    ]
    assert all(x["seriesId"] == series_id for x in page["yogaClasses"])

    # This and following through JSON: the mask and the date in the query, as the README does.
    second = (start + timedelta(days=7)).isoformat()
    edit = await asyncio.to_thread(
        admin.ok,
        "PATCH",
        f"/v1/series/{series_id}?updateMask=startTime,title&fromDate={second}",
        {"startTime": "18:00", "title": "Evening Flow"},
    )
    assert edit["classesUpdated"] == 2
    assert edit["previous"]["seriesId"] == series_id
    assert edit["previous"]["endDate"] == start.isoformat()
    new_id = edit["series"]["seriesId"]
    assert edit["series"]["previousSeriesId"] == series_id
    moved = await asyncio.to_thread(member.ok, "GET", f"/v1/classes?seriesId={new_id}")
    assert [x["title"] for x in moved["yogaClasses"]] == ["Evening Flow"] * 2
    for x in moved["yogaClasses"]:
        at = datetime.fromisoformat(x["startTime"].replace("Z", "+00:00")).astimezone(SEOUL)
        assert at.strftime("%H:%M") == "18:00"
    listed_series = await asyncio.to_thread(
        member.ok, "GET", "/v1/series?instructor=Jiwoo&pageSize=100"
    )
    assert {series_id, new_id} <= {x["seriesId"] for x in listed_series["series"]}


async def test_the_reminder_lead_is_a_setting_its_event_carries(c: Clients) -> None:
    before = await c.classes.GetStudioSettings(
        ypb.GetStudioSettingsRequest(), metadata=c.stack.as_user("11")
    )
    assert before.settings.series_horizon.ToTimedelta() == timedelta(days=56)
    changed = await c.classes.UpdateStudioSettings(
        ypb.UpdateStudioSettingsRequest(
            settings=ypb.StudioSettings(reminder_lead=seconds(2 * 3600)),
            update_mask=FieldMask(paths=["reminder_lead"]),
        ),
        metadata=c.stack.as_admin(),
    )
    assert changed.settings.reminder_lead.ToTimedelta() == 2 * HOUR
    found = rows(
        c.stack,
        "yogaclass",
        "SELECT payload FROM outbox WHERE event_type = :t ORDER BY id DESC",
        t=yev.StudioSettingsChanged.DESCRIPTOR.full_name,
    )
    event = yev.StudioSettingsChanged.FromString(bytes(found[0][0]))
    assert list(event.changed_fields) == ["reminder_lead"]
    assert event.settings.reminder_lead.ToTimedelta() == 2 * HOUR
    assert event.settings.series_horizon.ToTimedelta() == timedelta(days=56)
    await c.classes.UpdateStudioSettings(
        ypb.UpdateStudioSettingsRequest(settings=ypb.StudioSettings(reminder_lead=seconds(86400))),
        metadata=c.stack.as_admin(),
    )


async def test_a_seoul_booking_gets_one_reminder_in_kst_and_a_cancelled_one_none(
    c: Clients, mailbox: Mailbox
) -> None:
    """The whole way: booked through reservation_svc, scheduled from its event, sent by the
    job and the mailer to the SMTP server, in Seoul time."""
    staff = c.stack.as_admin()
    now = utcnow()
    start = (now + timedelta(minutes=3)).replace(second=0, microsecond=0)
    title = f"Reminded {uuid.uuid4().hex[:6]}"
    created = await c.classes.CreateClass(
        ypb.CreateClassRequest(
            yoga_class=ypb.YogaClass(
                title=title,
                instructor="Mina",
                start_time=to_timestamp(start),
                end_time=to_timestamp(start + HOUR),
                time_zone="Asia/Seoul",
                capacity=5,
            )
        ),
        metadata=staff,
    )
    class_id = created.yoga_class.class_id
    # The reminder comes due about 25 s after these bookings are made.
    lead = int((start - now).total_seconds()) - 25
    await c.classes.UpdateStudioSettings(
        ypb.UpdateStudioSettingsRequest(
            settings=ypb.StudioSettings(reminder_lead=seconds(lead)),
            update_mask=FieldMask(paths=["reminder_lead"]),
        ),
        metadata=staff,
    )
    try:
        await eventually(
            lambda: asyncio.to_thread(
                lambda: (
                    rows(c.stack, "notification", "SELECT lead_seconds FROM studio_lead")
                    == [(lead,)]
                )
            ),
            within=30,
        )
        booked = {}
        for user in ("remind-1", "remind-2"):
            answer = await c.reservations.CreateReservation(
                rpb.CreateReservationRequest(class_id=class_id, request_id=str(uuid.uuid4())),
                metadata=c.stack.as_user(user),
                timeout=60,
            )
            assert answer.reservation.status == rpb.RESERVATION_STATUS_CONFIRMED
            booked[user] = answer.reservation.reservation_id
        await c.reservations.CancelReservation(
            rpb.CancelReservationRequest(reservation_id=booked["remind-2"]),
            metadata=c.stack.as_user("remind-2"),
        )

        def reminders_sent() -> list[str]:
            return [
                subject
                for _, subject, _ in list(mailbox.received)
                if subject.startswith("Reminder:") and title in subject
            ]

        async def reminded() -> bool:
            return bool(await asyncio.to_thread(reminders_sent))

        await eventually(reminded, within=60)
        local = start.astimezone(SEOUL)
        assert reminders_sent() == [
            f"Reminder: {title} on {local:%a} {local.day} {local:%b %H:%M} KST"
        ]
        states = await asyncio.to_thread(
            rows,
            c.stack,
            "notification",
            "SELECT reservation_id, state FROM reminders WHERE class_id = :c ORDER BY 1",
            c=class_id,
        )
        assert sorted(states) == sorted(
            [(booked["remind-1"], "SENT"), (booked["remind-2"], "CANCELLED")]
        )
        assert len(await notes(c, "remind-1", npb.NOTIFICATION_KIND_REMINDER)) == 1
        assert await notes(c, "remind-2", npb.NOTIFICATION_KIND_REMINDER) == []
    finally:
        await c.classes.UpdateStudioSettings(
            ypb.UpdateStudioSettingsRequest(
                settings=ypb.StudioSettings(reminder_lead=seconds(86400)),
                update_mask=FieldMask(paths=["reminder_lead"]),
            ),
            metadata=staff,
        )


def counts(stack: Stack) -> tuple[Any, ...]:
    return (
        rows(stack, "yogaclass", "SELECT count(*) FROM series")[0][0],
        rows(stack, "yogaclass", "SELECT count(*) FROM classes")[0][0],
        rows(stack, "yogaclass", "SELECT count(*) FROM outbox")[0][0],
        rows(stack, "yogaclass", "SELECT * FROM studio_settings"),
    )


BAD = [
    ({"time_zone": "Mars/Olympus"}, "series.time_zone"),
    ({"recurrence": "RRULE:FREQ=WEEKLY;BYDAY=MO"}, "series.recurrence"),
    ({"recurrence": "RRULE:FREQ=WEEKLY;UNTIL=20200101"}, "series.recurrence"),
    ({"duration": seconds(0)}, "series.duration"),
    ({"duration": seconds(-60)}, "series.duration"),
    ({"start_date": "1 March"}, "series.start_date"),
    ({"start_time": "7"}, "series.start_time"),
]


@pytest.mark.parametrize(("changes", "field"), BAD)
async def test_bad_input_names_the_field_and_writes_nothing(
    c: Clients, changes: dict[str, Any], field: str
) -> None:
    before = await asyncio.to_thread(counts, c.stack)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await c.classes.CreateSeries(
            ypb.CreateSeriesRequest(series=a_series(**changes)), metadata=c.stack.as_admin()
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(err.value)[1] == [field]

    admin = c.stack.json("staff-1", ADMIN)
    body = {
        "title": "Flow",
        "capacity": 3,
        "timeZone": "Asia/Seoul",
        "startDate": (seoul_today() + timedelta(days=1)).isoformat(),
        "startTime": "07:00",
        "duration": "3600s",
        "recurrence": "FREQ=WEEKLY;COUNT=2",
    }
    json_name = {
        "time_zone": "timeZone",
        "start_date": "startDate",
        "start_time": "startTime",
    }
    for name, value in changes.items():
        body[json_name.get(name, name)] = (
            f"{value.seconds}s" if isinstance(value, Duration) else value
        )
    answer = await asyncio.to_thread(admin.call, "POST", "/v1/series", body)
    assert answer.status == 400, answer
    assert answer.violations() == [field]
    assert await asyncio.to_thread(counts, c.stack) == before


async def test_bad_edits_cancels_and_settings_name_the_field_and_write_nothing(
    c: Clients,
) -> None:
    staff = c.stack.as_admin()
    created = await c.classes.CreateSeries(
        ypb.CreateSeriesRequest(series=a_series()), metadata=staff
    )
    series_id = created.series.series_id
    before = await asyncio.to_thread(counts, c.stack)

    async def refused(call: Any) -> grpc.aio.AioRpcError:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        return err.value

    err = await refused(
        c.classes.UpdateStudioSettings(
            ypb.UpdateStudioSettingsRequest(
                settings=ypb.StudioSettings(series_horizon=seconds(183 * 86400))
            ),
            metadata=staff,
        )
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(err)[1] == ["settings.series_horizon"]
    err = await refused(
        c.classes.UpdateSeries(
            ypb.UpdateSeriesRequest(
                series=ypb.ClassSeries(series_id=series_id, title="X"), from_date="2020-01-01"
            ),
            metadata=staff,
        )
    )
    assert (err.code(), error_details(err)[1]) == (grpc.StatusCode.INVALID_ARGUMENT, ["from_date"])
    err = await refused(
        c.classes.UpdateSeries(
            ypb.UpdateSeriesRequest(
                series=ypb.ClassSeries(series_id=series_id, time_zone="Europe/Berlin"),
                update_mask=FieldMask(paths=["time_zone"]),
            ),
            metadata=staff,
        )
    )
    assert error_details(err)[1] == ["series.time_zone"]
    err = await refused(
        c.classes.CancelSeries(
            ypb.CancelSeriesRequest(series_id=series_id, from_date="tomorrow"), metadata=staff
        )
    )
    assert error_details(err)[1] == ["from_date"]
    err = await refused(
        c.classes.CancelSeries(ypb.CancelSeriesRequest(series_id="nope"), metadata=staff)
    )
    assert err.code() == grpc.StatusCode.NOT_FOUND
    err = await refused(
        c.classes.CreateSeries(
            ypb.CreateSeriesRequest(series=a_series()), metadata=c.stack.as_user("11")
        )
    )
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED

    admin = c.stack.json("staff-1", ADMIN)
    bad = await asyncio.to_thread(
        admin.call, "PATCH", "/v1/studio/settings", {"seriesHorizon": "86399s"}
    )
    assert (bad.status, bad.violations()) == (400, ["settings.series_horizon"])
    bad = await asyncio.to_thread(
        admin.call, "POST", f"/v1/series/{series_id}:cancel", {"fromDate": "2020-01-01"}
    )
    assert (bad.status, bad.violations()) == (400, ["from_date"])
    missing = await asyncio.to_thread(admin.call, "GET", "/v1/series/no-such-series")
    assert missing.status == 404
    assert await asyncio.to_thread(counts, c.stack) == before
