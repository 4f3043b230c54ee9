"""Group commit on the booking path (issue 17), on SQLite and PostgreSQL: bookings that arrive
together share transactions and one ReserveSeats call, and every booking is still answered on
its own.

reservation_svc's service and yogaclass_svc's service and servicer run here in one process on
real databases, joined by the real SeatClient whose stub calls the servicer directly (the
protobuf mapping both ways, no network): calls started together with asyncio.gather queue
behind each other, so the batches form for certain (over a network they only may)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from reservation_svc import messages as rmessages
from reservation_svc.clients import SeatClient
from reservation_svc.domain import SeatReply, Status
from reservation_svc.service import ReservationService
from reservation_svc.storage import ReservationStore, reservations
from reservation_svc.storage import outbox as reservation_outbox
from tests.integration.conftest import BACKENDS, migrated_database
from yoga.yogaclass.v1 import yogaclass_pb2
from yoga_common.db import Database
from yoga_common.errors import Code, ServiceError
from yoga_common.uow import Outbox, Transactions
from yogaclass_svc import messages as ymessages
from yogaclass_svc.catalog import Catalog
from yogaclass_svc.domain import ClassDetails, SeatResult
from yogaclass_svc.series_service import SeriesService
from yogaclass_svc.service import ClassService, SeatRequest
from yogaclass_svc.servicer import YogaClassServicer
from yogaclass_svc.storage import ClassStore, classes, seat_claims
from yogaclass_svc.storage import outbox as yogaclass_outbox
from yogaclass_svc.studio_service import StudioService

START = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)


class DirectStub:
    """The yogaclass stub SeatClient calls, served by the servicer in this process; counts
    the calls so a test can see the batches."""

    def __init__(self, servicer: YogaClassServicer) -> None:
        self._servicer = servicer
        self.batches: list[int] = []

    async def ReserveSeats(
        self, request: yogaclass_pb2.ReserveSeatsRequest, **_: Any
    ) -> yogaclass_pb2.ReserveSeatsResponse:
        self.batches.append(len(request.items))
        return await self._servicer.ReserveSeats(request, None)

    async def ReleaseSeat(
        self, request: yogaclass_pb2.ReleaseSeatRequest, **_: Any
    ) -> yogaclass_pb2.ReleaseSeatResponse:
        return await self._servicer.ReleaseSeat(request, None)


class NoToken:
    async def authorized(self, call: Callable[[Any], Awaitable[Any]]) -> Any:
        return await call(())


def seat_client(stub: DirectStub) -> SeatClient:
    client = SeatClient.__new__(SeatClient)
    SeatClient.__init__(client, "127.0.0.1:1", NoToken(), 5.0)  # type: ignore[arg-type]
    client._stub = stub
    return client


@dataclass
class Studio:
    classes_db: Database
    reservations_db: Database
    classes: ClassService
    settings: StudioService
    servicer: YogaClassServicer
    stub: DirectStub
    seats: SeatClient

    def booking(self, seats: Any = None) -> ReservationService:
        """A reservation_svc process (a new one after a crash), on the same databases."""
        tx = Transactions(
            self.reservations_db,
            ReservationStore,
            Outbox(reservation_outbox, "t.reservation", rmessages.event),
        )
        return ReservationService(tx, seats or self.seats, lambda: datetime.now(UTC))

    async def new_class(self, capacity: int, hours: int = 0, waitlist: int = 0) -> str:
        start = START + timedelta(hours=hours)
        details = ClassDetails(
            "Flow", "Jiwoo", start, start + timedelta(hours=1), "Asia/Seoul", capacity, waitlist
        )
        created = await self.classes.create(details, "", "")
        return created.class_id

    def booked(self, class_id: str) -> tuple[int, int]:
        """The class's seat counter and its held claims, read from the database."""
        with self.classes_db.engine.connect() as conn:
            held = conn.execute(
                select(func.count())
                .select_from(seat_claims)
                .where(seat_claims.c.class_id == class_id, seat_claims.c.state == "HELD")
            ).scalar_one()
            seats = conn.execute(
                select(classes.c.booked).where(classes.c.class_id == class_id)
            ).scalar_one()
        return int(seats), int(held)

    def reservation_rows(self) -> dict[str, str]:
        with self.reservations_db.engine.connect() as conn:
            rows = conn.execute(select(reservations.c.reservation_id, reservations.c.status)).all()
        return {r[0]: r[1] for r in rows}

    def outbox_events(self) -> dict[str, int]:
        """Reservation events in the outbox, by reservation (the event key)."""
        with self.reservations_db.engine.connect() as conn:
            rows = conn.execute(select(reservation_outbox.c.event_key)).all()
        counted: dict[str, int] = {}
        for (key,) in rows:
            counted[key] = counted.get(key, 0) + 1
        return counted


@pytest.fixture(params=BACKENDS)
async def studio(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Studio]:
    name = uuid.uuid4().hex[:8]
    with (
        migrated_database(request.param, tmp_path, "yogaclass", f"gc_y_{name}") as ydb,
        migrated_database(request.param, tmp_path, "reservation", f"gc_r_{name}") as rdb,
    ):
        clock = lambda: datetime.now(UTC)  # noqa: E731
        tx = Transactions(
            ydb, ClassStore, Outbox(yogaclass_outbox, "t.yogaclass", ymessages.outbox_event)
        )
        classes = ClassService(tx, clock)
        settings = StudioService(tx, clock)
        servicer = YogaClassServicer(
            classes, settings, SeriesService(tx, clock), Catalog(max_age=3600)
        )
        stub = DirectStub(servicer)
        yield Studio(ydb, rdb, classes, settings, servicer, stub, seat_client(stub))


async def outcome(call: Awaitable[tuple[Any, int]]) -> Any:
    try:
        return (await call)[0]
    except ServiceError as err:
        return err


async def test_a_batch_answers_each_booking_on_its_own(studio: Studio) -> None:
    svc = studio.booking()
    await studio.settings.update_settings({"booking_limit": 1})
    full = await studio.new_class(capacity=1)
    roomy = await studio.new_class(capacity=10, hours=2)
    other = await studio.new_class(capacity=10, hours=4)
    # Before the batch: the class's one seat goes to "taken"; "limited" holds their one
    # allowed booking; "again" booked earlier under request r-again.
    taken, _ = await svc.book(full, "taken", "t@x", "r-taken", "h")
    await svc.book(other, "limited", "l@x", "r-limited", "h")
    earlier, _ = await svc.book(roomy, "again", "a@x", "r-again", "h")
    studio.stub.batches.clear()

    calls = {
        "full": svc.book(full, "m-full", "f@x", "r-full", "h"),
        "unknown": svc.book(str(uuid.uuid4()), "m-unknown", "u@x", "r-unknown", "h"),
        "retried": svc.book(roomy, "again", "a@x", "r-again", "h"),
        "misused key": svc.book(other, "again", "a@x", "r-again", "other-hash"),
        "twice 1": svc.book(roomy, "twice", "w@x", "r-twice", "h"),
        "twice 2": svc.book(roomy, "twice", "w@x", "r-twice", "h"),
        "second active": svc.book(roomy, "taken2", "t2@x", "r-1", "h"),
        "second active 2": svc.book(roomy, "taken2", "t2@x", "r-2", "h"),
        "limit": svc.book(roomy, "limited", "l@x", "r-limit", "h"),
        "ok 1": svc.book(roomy, "ok1", "o1@x", "r-ok1", "h"),
        "ok 2": svc.book(roomy, "ok2", "o2@x", "r-ok2", "h"),
    }
    results = dict(
        zip(calls, await asyncio.gather(*(outcome(c) for c in calls.values())), strict=True)
    )

    # Everything after the first call arrived while it ran: one batch of seats for the rest.
    assert len(studio.stub.batches) <= 2 and sum(studio.stub.batches) >= 8
    assert results["full"].status is Status.REJECTED
    assert results["full"].reason.value == "CLASS_FULL"
    assert (results["unknown"].status, results["unknown"].reason.value) == (
        Status.REJECTED,
        "CLASS_NOT_FOUND",
    )
    assert results["retried"] == earlier  # the same key: the stored answer again
    assert isinstance(results["misused key"], ServiceError)
    assert results["misused key"].code is Code.INVALID_ARGUMENT
    one, two = results["twice 1"], results["twice 2"]
    assert one.reservation_id == two.reservation_id and one.status is Status.CONFIRMED
    second = [results["second active"], results["second active 2"]]
    refused = [r for r in second if isinstance(r, ServiceError)]
    assert len(refused) == 1 and refused[0].code is Code.ALREADY_EXISTS
    assert isinstance(results["limit"], ServiceError)
    assert results["limit"].code is Code.FAILED_PRECONDITION
    assert results["limit"].reason == "BOOKING_LIMIT"
    assert results["ok 1"].status is Status.CONFIRMED
    assert results["ok 2"].status is Status.CONFIRMED

    # The books balance: seats == claims == confirmed, one event per settled reservation.
    rows = studio.reservation_rows()
    confirmed_roomy = 1 + 1 + 1 + 2  # again, twice, taken2, ok1 + ok2
    assert studio.booked(roomy) == (confirmed_roomy, confirmed_roomy)
    assert studio.booked(full) == (1, 1)
    assert Status.PENDING.value not in rows.values()
    events = studio.outbox_events()
    assert all(n == 1 for n in events.values())
    assert set(events) == set(rows)
    assert taken.status is Status.CONFIRMED


class Crash(Exception):
    pass


class CrashingSeats:
    """The process dies on the seat step: `before` the call reaches yogaclass_svc, or `after`
    yogaclass_svc took the seats but before the answer is settled."""

    def __init__(self, real: SeatClient, when: str, expected: int) -> None:
        self._real = real
        self._when = when
        self._expected = expected
        self.reached = 0
        self.all_reached = asyncio.Event()

    async def reserve(self, *args: Any, **kwargs: Any) -> SeatReply:
        if self._when == "after":
            await self._real.reserve(*args, **kwargs)
        self.reached += 1
        if self.reached == self._expected:
            self.all_reached.set()
        await asyncio.Event().wait()  # the process is gone: nothing more happens here
        raise AssertionError("unreachable")

    async def release(self, class_id: str, reservation_id: str) -> None:
        await self._real.release(class_id, reservation_id)


@pytest.mark.parametrize("when", ["before", "after"])
async def test_a_crash_between_the_batch_steps_is_recovered(studio: Studio, when: str) -> None:
    capacity, bookers = 4, 10
    class_id = await studio.new_class(capacity=capacity)
    crashing = CrashingSeats(studio.seats, when, bookers)
    dying = studio.booking(crashing)
    tasks = [
        asyncio.ensure_future(dying.book(class_id, f"c{n}", f"c{n}@x", f"r-c{n}", "h"))
        for n in range(bookers)
    ]
    await asyncio.wait_for(crashing.all_reached.wait(), 30)  # every PENDING row stored
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    rows = studio.reservation_rows()
    assert sorted(rows.values()) == [Status.PENDING.value] * bookers
    taken = capacity if when == "after" else 0
    assert studio.booked(class_id) == (taken, taken)

    # A new process: its recovery loop finishes every PENDING reservation.
    recovered = studio.booking()
    await recovered.recover(timedelta(0))
    rows = studio.reservation_rows()
    statuses = sorted(rows.values())
    assert statuses.count(Status.CONFIRMED.value) == capacity
    assert statuses.count(Status.REJECTED.value) == bookers - capacity
    # No seat leaked, none counted twice; each settled reservation has its one event.
    assert studio.booked(class_id) == (capacity, capacity)
    events = studio.outbox_events()
    assert set(events) == set(rows) and all(n == 1 for n in events.values())


async def test_concurrent_seat_batches_take_exactly_the_last_seats(studio: Studio) -> None:
    """Batches racing for the same classes, items in every order: each class gives exactly its
    seats, no batch deadlocks (classes are locked in one order), no item fails."""
    seats = 3
    class_ids = [await studio.new_class(capacity=seats, hours=2 * n) for n in range(3)]
    batches = [
        [
            SeatRequest(class_ids[(b + i) % 3], f"res-{b}-{i}", f"user-{b}-{i}", False, True)
            for i in range(12)
        ][:: 1 if b % 2 else -1]
        for b in range(6)
    ]
    answers = await asyncio.gather(*(studio.classes.reserve_seats(b) for b in batches))
    flat = [a for batch in answers for a in batch]
    assert not [a for a in flat if isinstance(a, Exception)]
    for class_id in class_ids:
        mine = [
            a
            for a in flat
            if not isinstance(a, Exception)
            and a.yoga_class is not None
            and a.yoga_class.class_id == class_id
        ]
        results = [a.result for a in mine]
        assert results.count(SeatResult.RESERVED) == seats
        assert results.count(SeatResult.CLASS_FULL) == len(mine) - seats
        assert studio.booked(class_id) == (seats, seats)

    # The same batches again: idempotent per reservation, nothing taken twice.
    again = await asyncio.gather(*(studio.classes.reserve_seats(b) for b in batches))
    for first, second in zip(answers, again, strict=True):
        assert [a.result for a in second] == [a.result for a in first]  # type: ignore[union-attr]
    for class_id in class_ids:
        assert studio.booked(class_id) == (seats, seats)


async def test_reserve_seats_refuses_a_bad_item_alone(studio: Studio) -> None:
    class_id = await studio.new_class(capacity=2)
    # The servicer answers GetClass from its cache: ReserveSeats must make it forget the count.
    get = yogaclass_pb2.GetClassRequest(class_id=class_id)
    assert (await studio.servicer.GetClass(get, None)).yoga_class.booked == 0
    good = yogaclass_pb2.ReserveSeatRequest(
        class_id=class_id, reservation_id=str(uuid.uuid4()), user_id="m1"
    )
    bad = yogaclass_pb2.ReserveSeatRequest(class_id=class_id, reservation_id="", user_id="m2")
    answer = await studio.stub.ReserveSeats(yogaclass_pb2.ReserveSeatsRequest(items=[bad, good]))
    first, second = answer.results
    assert first.WhichOneof("result") == "error"
    assert first.error.code == Code.INVALID_ARGUMENT.value
    assert "items[0].reservation_id" in str(first.error)
    assert second.seat.result == yogaclass_pb2.SEAT_RESULT_RESERVED
    assert studio.booked(class_id) == (1, 1)
    assert (await studio.servicer.GetClass(get, None)).yoga_class.booked == 1

    too_many = yogaclass_pb2.ReserveSeatsRequest(items=[good] * 1001)
    with pytest.raises(ServiceError) as refused:
        await studio.stub.ReserveSeats(too_many)
    assert refused.value.code is Code.INVALID_ARGUMENT
