"""Contract tests: the fakes the unit tests stand on behave like the real things. Each test runs
against the fake and the real part: the reservation store and unit of work on SQLite and
PostgreSQL (tests/fakes/reservations.py, tests/fakes/uow.py), and the seat keeper
(tests/fakes/seats.py) next to `SeatClient` calling a real yogaclass_svc."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import func, select

from reservation_svc import domain, messages
from reservation_svc.clients import SeatClient
from reservation_svc.domain import ClassInfo, Reason, Reservation, SeatAnswer, Status
from reservation_svc.service import Seats
from reservation_svc.storage import ReservationStore, outbox
from tests.fakes.reservations import FakeReservationStore
from tests.fakes.seats import FakeSeats
from tests.fakes.uow import FakeTransactions
from tests.integration.conftest import BACKENDS, Stack, new_database, system_under_test
from tests.integration.support import a_class, request_id
from yoga.yogaclass.v1 import yogaclass_pb2, yogaclass_pb2_grpc
from yoga_common import migrate
from yoga_common.db import Database
from yoga_common.service_token import ServiceToken
from yoga_common.settings import AuthSettings
from yoga_common.uow import Outbox, Transactions

MIGRATIONS = Path(__file__).resolve().parents[2] / "reservation_svc" / "migrations"
T0 = datetime(2030, 5, 1, 9, 0, tzinfo=UTC)

# --- the reservation store and its unit of work ---------------------------------------------


@dataclass
class Backend:
    """A unit-of-work factory over a reservation store, with a way to count what committed."""

    tx: Any  # Transactions[ReservationStore] or FakeTransactions[FakeReservationStore]
    committed_events: Callable[[], int]


@pytest.fixture(params=["fake", *BACKENDS])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "fake":
        fake = FakeTransactions(FakeReservationStore())
        yield Backend(fake, lambda: len(fake.events))
        return
    url = new_database(request.param, tmp_path, "reservation")
    migrate.upgrade(url, MIGRATIONS)
    db = Database(url, threads=2)
    tx = Transactions(db, ReservationStore, Outbox(outbox, "contract", messages.event))
    count = select(func.count()).select_from(outbox)
    yield Backend(tx, lambda: int(db.run_sync(lambda c: c.execute(count).scalar_one(), False)))
    db.close()


def pending(
    user: str = "11", request: str = "req-1", class_id: str = "c-1", at: int = 0
) -> Reservation:
    return domain.new_reservation(
        class_id, user, f"{user}@example.com", request, "hash", T0 + timedelta(seconds=at)
    )


async def add(b: Backend, r: Reservation) -> bool:
    return bool(await b.tx.run(lambda uow: uow.store.add(r)))


async def get(b: Backend, reservation_id: str) -> Reservation | None:
    found: Reservation | None = await b.tx.read(lambda store: store.get(reservation_id))
    return found


async def test_added_reservation_reads_back_the_same(backend: Backend) -> None:
    r = pending()
    assert await add(backend, r)
    assert await get(backend, r.reservation_id) == r
    assert await backend.tx.read(lambda s: s.by_request("11", "req-1")) == r
    assert await backend.tx.read(lambda s: s.by_request("12", "req-1")) is None
    assert await get(backend, "nope") is None


async def test_a_request_id_is_unique_per_user(backend: Backend) -> None:
    assert await add(backend, pending(request="req-1", class_id="c-1"))
    assert not await add(backend, pending(request="req-1", class_id="c-2"))
    assert await add(backend, pending(user="12", request="req-1", class_id="c-1"))


async def test_one_active_reservation_per_user_and_class(backend: Backend) -> None:
    first = pending(request="req-1")
    assert await add(backend, first)
    assert not await add(backend, pending(request="req-2"))
    cancelled, _ = domain.change(first, Status.CANCELLED, Reason.CANCELLED_BY_USER, T0)
    assert await backend.tx.run(lambda uow: uow.store.replace(cancelled, first.version))
    assert await add(backend, pending(request="req-3"))


async def test_replace_is_conditional_on_the_version(backend: Backend) -> None:
    r = pending()
    await add(backend, r)
    info = ClassInfo("Flow", T0, T0 + timedelta(hours=1), "Asia/Seoul")
    confirmed, _ = domain.change(r, Status.CONFIRMED, Reason.NONE, T0, info)
    assert await backend.tx.run(lambda uow: uow.store.replace(confirmed, r.version))
    assert not await backend.tx.run(lambda uow: uow.store.replace(confirmed, r.version))
    assert await get(backend, r.reservation_id) == confirmed


async def test_release_pending_and_the_recovery_queries(backend: Backend) -> None:
    old, fresh = pending(request="a", class_id="c-1"), pending(request="b", class_id="c-2", at=60)
    await add(backend, old)
    await add(backend, fresh)
    before = T0 + timedelta(seconds=30)
    stale = await backend.tx.read(lambda s: s.stale_pending(before))
    assert [r.reservation_id for r in stale] == [old.reservation_id]
    assert await backend.tx.read(lambda s: s.unreleased(before)) == []
    await backend.tx.run(lambda uow: uow.store.set_release_pending(old.reservation_id, True))
    unreleased = await backend.tx.read(lambda s: s.unreleased(before))
    assert [r.reservation_id for r in unreleased] == [old.reservation_id]
    assert unreleased[0] == replace(old, release_pending=True)


async def test_active_of_class_in_booking_order(backend: Backend) -> None:
    later, earlier = pending(user="12", at=5), pending(user="11", at=1)
    await add(backend, later)
    await add(backend, earlier)
    await add(backend, pending(user="13", class_id="c-other"))
    ids = await backend.tx.run(lambda uow: uow.store.active_of_class("c-1"))
    assert ids == [earlier.reservation_id, later.reservation_id]


async def test_pages_in_creation_order_after_a_keyset_position(backend: Backend) -> None:
    rows = [pending(user=str(10 + i), request=f"r{i}", at=i) for i in range(5)]
    for r in reversed(rows):
        await add(backend, r)
    first = await backend.tx.read(lambda s: s.page("c-1", "", 2, None))
    assert first == rows[:2]
    after = (first[-1].create_time, first[-1].reservation_id)
    assert await backend.tx.read(lambda s: s.page("c-1", "", 10, after)) == rows[2:]
    assert await backend.tx.read(lambda s: s.page("", "12", 10, None)) == [rows[2]]


async def test_a_failed_unit_of_work_leaves_nothing(backend: Backend) -> None:
    r = pending()

    def fails(uow: Any) -> None:
        uow.store.add(r)
        uow.emit(domain.ReservationConfirmed(r))
        raise RuntimeError("the use case failed")

    with pytest.raises(RuntimeError):
        await backend.tx.run(fails)
    assert await get(backend, r.reservation_id) is None
    assert backend.committed_events() == 0


async def test_events_and_after_commit_actions_come_with_the_commit(backend: Backend) -> None:
    r = pending()
    done: list[str] = []

    def works(uow: Any) -> str:
        uow.store.add(r)
        uow.emit(domain.ReservationConfirmed(r), domain.ReservationCancelled(r))
        uow.after_commit(lambda: done.append("after"))
        assert done == []
        return "result"

    assert await backend.tx.run(works) == "result"
    assert done == ["after"]
    assert backend.committed_events() == 2


async def test_a_savepoint_undoes_one_command_of_several(backend: Backend) -> None:
    kept, undone = pending(user="11"), pending(user="12")

    def two_commands(uow: Any) -> None:
        uow.store.add(kept)
        uow.emit(domain.ReservationConfirmed(kept))
        with pytest.raises(RuntimeError), uow.savepoint():
            uow.store.add(undone)
            uow.emit(domain.ReservationConfirmed(undone))
            raise RuntimeError("this command fails alone")

    await backend.tx.run(two_commands)
    assert await get(backend, kept.reservation_id) == kept
    assert await get(backend, undone.reservation_id) is None
    assert backend.committed_events() == 1


# --- the seat keeper: FakeSeats next to SeatClient and a real yogaclass_svc -----------------


@dataclass
class SeatKeeper:
    seats: Seats
    make_class: Callable[[int], Any]  # capacity -> awaitable class id
    held: Callable[[str], Any]  # class id -> awaitable number of seats taken


@pytest.fixture(scope="module")
def yogaclass(auth: AuthSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with system_under_test(
        "sqlite", auth, tmp_path_factory.mktemp("seats"), ("yogaclass",)
    ) as running:
        yield running


@pytest.fixture(params=["fake", "yogaclass_svc"])
async def keeper(
    request: pytest.FixtureRequest, auth: AuthSettings, yogaclass: Stack
) -> AsyncIterator[SeatKeeper]:
    info = ClassInfo("Flow", T0, T0 + timedelta(hours=1))
    if request.param == "fake":
        fake = FakeSeats({}, info)

        async def fake_class(capacity: int) -> str:
            class_id = str(uuid.uuid4())
            fake.capacity[class_id] = capacity
            return class_id

        async def fake_held(class_id: str) -> int:
            return len(fake.held(class_id))

        yield SeatKeeper(fake, fake_class, fake_held)
        return
    target = yogaclass.services["yogaclass"].target
    client = SeatClient(target, ServiceToken(auth), timeout=10.0)
    channel = grpc.aio.insecure_channel(target)
    stub = yogaclass_pb2_grpc.YogaClassServiceStub(channel)

    async def real_class(capacity: int) -> str:
        made = await stub.CreateClass(
            yogaclass_pb2.CreateClassRequest(
                yoga_class=a_class(capacity=capacity), request_id=request_id()
            ),
            metadata=yogaclass.as_admin(),
        )
        return str(made.yoga_class.class_id)

    async def real_held(class_id: str) -> int:
        got = await stub.GetClass(
            yogaclass_pb2.GetClassRequest(class_id=class_id), metadata=yogaclass.as_admin()
        )
        return int(got.yoga_class.booked)

    yield SeatKeeper(client, real_class, real_held)
    await client.close()
    await channel.close()


def fresh_ids() -> dict[str, str]:
    """Reservation ids of one test: the real seat keeper lives for the whole module, and a
    claim is keyed by reservation id alone."""

    class Ids(dict[str, str]):
        def __missing__(self, key: str) -> str:
            self[key] = f"{key}-{uuid.uuid4().hex[:8]}"
            return self[key]

    return Ids()


async def test_a_reserve_is_idempotent_per_reservation(keeper: SeatKeeper) -> None:
    ids = fresh_ids()
    class_id = await keeper.make_class(2)
    reply = await keeper.seats.reserve(class_id, ids["r-1"], "11")
    assert reply.answer is SeatAnswer.RESERVED and reply.class_info is not None
    assert (await keeper.seats.reserve(class_id, ids["r-1"], "11")).answer is SeatAnswer.RESERVED
    assert await keeper.held(class_id) == 1


async def test_a_full_class_answers_class_full(keeper: SeatKeeper) -> None:
    ids = fresh_ids()
    class_id = await keeper.make_class(1)
    assert (await keeper.seats.reserve(class_id, ids["r-a"], "11")).answer is SeatAnswer.RESERVED
    assert (await keeper.seats.reserve(class_id, ids["r-b"], "12")).answer is SeatAnswer.CLASS_FULL
    assert await keeper.held(class_id) == 1


async def test_an_unknown_class_answers_not_found(keeper: SeatKeeper) -> None:
    ids = fresh_ids()
    reply = await keeper.seats.reserve(str(uuid.uuid4()), ids["r-x"], "11")
    assert (reply.answer, reply.class_info) == (SeatAnswer.CLASS_NOT_FOUND, None)


async def test_a_release_frees_the_seat_once(keeper: SeatKeeper) -> None:
    ids = fresh_ids()
    class_id = await keeper.make_class(1)
    await keeper.seats.reserve(class_id, ids["r-1"], "11")
    await keeper.seats.release(class_id, ids["r-1"])
    await keeper.seats.release(class_id, ids["r-1"])
    assert await keeper.held(class_id) == 0
    # The reservation's seat was given back: asking again takes nothing.
    assert (await keeper.seats.reserve(class_id, ids["r-1"], "11")).answer is SeatAnswer.RELEASED
    assert (await keeper.seats.reserve(class_id, ids["r-2"], "12")).answer is SeatAnswer.RESERVED
    assert await keeper.held(class_id) == 1


async def test_a_release_before_its_reserve_leaves_a_tombstone(keeper: SeatKeeper) -> None:
    ids = fresh_ids()
    class_id = await keeper.make_class(1)
    await keeper.seats.release(class_id, ids["r-late"])
    assert (await keeper.seats.reserve(class_id, ids["r-late"], "11")).answer is SeatAnswer.RELEASED
    assert await keeper.held(class_id) == 0
