"""mypage_svc on SQLite and PostgreSQL, without a broker: events are handed to the real
`EventConsumer.apply` (the inbox and the handlers in one transaction, as from Kafka), then the
page is read through a real `python -m mypage_svc` over gRPC."""

from __future__ import annotations

import functools
import random
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from google.protobuf.message import Message
from sqlalchemy import insert, select

import mypage_svc
from devtools.processes import ServiceProcess
from devtools.stack import Stack
from mypage_svc import messages, storage
from mypage_svc.consumers import handlers
from mypage_svc.domain import Status, position_of
from mypage_svc.service import MyPageService
from mypage_svc.storage import MyPageStore
from tests.integration.conftest import BACKENDS, accounts, migrated_database, new_database
from tests.integration.support import error_details
from yoga.mypage.v1 import mypage_pb2, mypage_pb2_grpc
from yoga.reservation.v1 import events_pb2 as rev
from yoga.reservation.v1 import reservation_pb2 as rpb
from yoga.yogaclass.v1 import events_pb2 as cev
from yoga.yogaclass.v1 import yogaclass_pb2 as ypb
from yoga_common import migrate, pagination
from yoga_common.auth import ADMIN, MEMBER, SERVICE
from yoga_common.consumer import EventConsumer, InvalidEvent
from yoga_common.db import Database
from yoga_common.events import Envelope
from yoga_common.settings import AuthSettings, KafkaSettings
from yoga_common.timestamps import to_timestamp
from yoga_common.topics import RESERVATION_EVENTS, YOGACLASS_EVENTS
from yoga_common.uow import Transactions

MIGRATIONS = Path(mypage_svc.__file__).parent / "migrations"
NO_BROKER = "127.0.0.1:1"  # nothing listens: the service's consumer only logs that
START = datetime(2031, 3, 1, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


# --- events ----------------------------------------------------------------------------------


def envelope(event: Message, key: str, event_id: str = "") -> Envelope:
    return Envelope(
        event_id=event_id or str(uuid.uuid4()),
        event_type=event.DESCRIPTOR.full_name,
        source="test",
        time=datetime.now(UTC).isoformat(),
        key=key,
        payload=event.SerializeToString(),
    )


def reservation(
    version: int,
    status: rpb.ReservationStatus = rpb.RESERVATION_STATUS_CONFIRMED,
    reason: rpb.ReservationReason = rpb.RESERVATION_REASON_UNSPECIFIED,
    reservation_id: str = "r-1",
    user_id: str = "11",
    class_id: str = "c-1",
    title: str = "Morning Flow",
    start: datetime = START,
) -> rpb.Reservation:
    return rpb.Reservation(
        reservation_id=reservation_id,
        class_id=class_id,
        user_id=user_id,
        status=status,
        reason=reason,
        class_title=title,
        class_start_time=to_timestamp(start),
        class_end_time=to_timestamp(start + HOUR),
        update_time=to_timestamp(START - timedelta(days=10) + timedelta(minutes=version)),
        version=version,
    )


def confirmed(**fields: Any) -> Envelope:
    r = reservation(2, **fields)
    return envelope(rev.ReservationConfirmed(reservation=r), r.reservation_id)


def cancelled(**fields: Any) -> Envelope:
    r = reservation(
        3, rpb.RESERVATION_STATUS_CANCELLED, rpb.RESERVATION_REASON_CANCELLED_BY_USER, **fields
    )
    return envelope(rev.ReservationCancelled(reservation=r), r.reservation_id)


def rejected(**fields: Any) -> Envelope:
    r = reservation(2, rpb.RESERVATION_STATUS_REJECTED, rpb.RESERVATION_REASON_CLASS_FULL, **fields)
    return envelope(rev.ReservationRejected(reservation=r), r.reservation_id)


def a_class(
    version: int,
    title: str,
    start: datetime = START,
    class_id: str = "c-1",
    cancelled: bool = False,
) -> ypb.YogaClass:
    return ypb.YogaClass(
        class_id=class_id,
        title=title,
        start_time=to_timestamp(start),
        end_time=to_timestamp(start + HOUR),
        status=ypb.CLASS_STATUS_CANCELLED if cancelled else ypb.CLASS_STATUS_SCHEDULED,
        version=version,
    )


def class_event(event: cev.ClassCreated | cev.ClassUpdated | cev.ClassCancelled) -> Envelope:
    return envelope(event, event.yoga_class.class_id)


# --- the consumer on a real database ---------------------------------------------------------


def new_consumer(db: Database) -> EventConsumer[MyPageStore]:
    return EventConsumer(
        "mypage_svc",
        Transactions(db, MyPageStore),
        storage.inbox,
        [RESERVATION_EVENTS, YOGACLASS_EVENTS],
        handlers(),
        KafkaSettings(bootstrap_servers=NO_BROKER),
    )


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with migrated_database(request.param, tmp_path, "mypage") as database:
        yield database


@pytest.fixture
def consumer(db: Database) -> EventConsumer:
    return new_consumer(db)


def contents(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the service."""

    def work(conn: Any) -> dict[str, list[tuple[Any, ...]]]:
        return {
            t.name: sorted(tuple(row) for row in conn.execute(select(t)))
            for t in storage.metadata.sorted_tables
        }

    return db.run_sync(work, write=False)


def stored(db: Database, reservation_id: str) -> dict[str, Any]:
    t = storage.reservations
    query = select(t).where(t.c.reservation_id == reservation_id)
    row = db.run_sync(lambda conn: conn.execute(query).one(), write=False)
    return dict(row._mapping)


def test_migrations_build_exactly_the_declared_tables(tmp_path: Path) -> None:
    for backend in BACKENDS:
        url = new_database(backend, tmp_path, "mypage")
        migrate.upgrade(url, MIGRATIONS)
        migrate.upgrade(url, MIGRATIONS)  # a second start changes nothing
        database = Database(url, threads=1)
        with database.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), storage.metadata)
        database.close()
        assert diff == [], backend


def test_the_page_migration_brings_stored_rows_to_the_class_held(tmp_path: Path) -> None:
    """Rows stored before the page's index held the reservation's snapshot of its class; the
    migration that orders pages by the class's time shows the class as last told instead."""
    moved = START + 5 * HOUR
    known = messages.reservation_view(reservation(2, reservation_id="r-1", class_id="c-1"))
    alone = messages.reservation_view(reservation(2, reservation_id="r-2", class_id="c-2"))
    moved_class = messages.class_view(a_class(3, "Moved Flow", moved, "c-1"))

    def write(conn: Any) -> None:
        # Rows as that revision's table holds them: the columns that came later are left out.
        later = {"promoted", "check_in_time", "class_time_zone", "waitlist_ticket"}
        for view in (known, alone):
            columns = storage._reservation_columns(view)
            conn.execute(
                insert(storage.reservations).values(
                    {k: v for k, v in columns.items() if k not in later}
                )
            )
        MyPageStore(conn).save_class(moved_class)

    for backend in BACKENDS:
        url = new_database(backend, tmp_path, "mypage")
        before = Config()
        before.set_main_option("script_location", str(MIGRATIONS))
        before.attributes["database_url"] = url
        command.upgrade(before, "ea630a5cd539")  # 0002, the revision before the page's index
        database = Database(url, threads=1)
        database.run_sync(write)
        database.close()
        migrate.upgrade(url, MIGRATIONS)
        database = Database(url, threads=1)
        rows = {
            r: (row["class_title"], row["class_start_time"], row["class_end_time"])
            for r in ("r-1", "r-2")
            for row in [stored(database, r)]
        }
        database.close()
        assert rows == {
            "r-1": ("Moved Flow", moved, moved + HOUR),
            "r-2": ("Morning Flow", START, START + HOUR),
        }, backend


def test_confirmed_then_cancelled_ends_cancelled(db: Database, consumer: EventConsumer) -> None:
    assert consumer.apply(confirmed())
    assert stored(db, "r-1")["status"] == Status.CONFIRMED.value
    assert consumer.apply(cancelled())
    row = stored(db, "r-1")
    assert (row["status"], row["reason"], row["version"]) == ("CANCELLED", "CANCELLED_BY_USER", 3)
    assert (row["user_id"], row["class_id"], row["class_title"]) == ("11", "c-1", "Morning Flow")
    assert row["class_start_time"] == START
    assert row["update_time"] == START - timedelta(days=10) + timedelta(minutes=3)


def test_reverse_order_ends_in_the_same_state(db: Database, consumer: EventConsumer) -> None:
    consumer.apply(confirmed(reservation_id="r-forward"))
    consumer.apply(cancelled(reservation_id="r-forward"))

    assert consumer.apply(cancelled(reservation_id="r-reverse"))
    before = contents(db)["reservations"]
    # The older event is new to the inbox, so it is recorded, but it changes nothing.
    assert consumer.apply(confirmed(reservation_id="r-reverse"))
    assert contents(db)["reservations"] == before

    forward = stored(db, "r-forward")
    reverse = stored(db, "r-reverse")
    assert {**forward, "reservation_id": ""} == {**reverse, "reservation_id": ""}
    assert reverse["status"] == "CANCELLED"


def test_the_store_writes_only_newer_versions(db: Database) -> None:
    view = messages.reservation_view(reservation(2))

    def save(version: int) -> bool:
        return db.run_sync(
            lambda conn: MyPageStore(conn).save_reservation(replace(view, version=version))
        )

    assert save(2) is True  # nothing held
    assert save(2) is False  # the same version again
    assert save(1) is False  # older
    assert save(5) is True  # newer
    assert stored(db, "r-1")["version"] == 5


def test_a_redelivered_event_changes_nothing(db: Database, consumer: EventConsumer) -> None:
    event = confirmed()
    assert consumer.apply(event) is True
    after_first = contents(db)
    assert consumer.apply(event) is False
    assert consumer.apply(event) is False
    assert contents(db) == after_first
    assert len(after_first["inbox"]) == 1


async def test_a_renamed_or_moved_class_shows_on_every_page(
    db: Database, consumer: EventConsumer
) -> None:
    store = MyPageService(Transactions(db, MyPageStore), lambda: datetime.now(UTC))
    consumer.apply(confirmed(reservation_id="r-1", user_id="11"))
    consumer.apply(confirmed(reservation_id="r-2", user_id="12"))

    async def titles() -> list[tuple[str, datetime | None]]:
        pages = [(await store.page(user, 100, None))[0] for user in ("11", "12")]
        return [(e.class_info.title, e.class_info.start_time) for page in pages for e in page]

    # No class event yet: the reservation's own snapshot of the class.
    assert await titles() == [("Morning Flow", START)] * 2

    moved = START + 2 * HOUR
    created = class_event(cev.ClassCreated(yoga_class=a_class(1, "Morning Flow")))
    assert consumer.apply(created)
    assert consumer.apply(
        class_event(
            cev.ClassUpdated(yoga_class=a_class(2, "Sunrise Flow", moved), changed_fields=["title"])
        )
    )
    assert await titles() == [("Sunrise Flow", moved)] * 2
    # Each reservation row holds the class as shown: the page reads and orders it alone.
    assert (stored(db, "r-1")["class_title"], stored(db, "r-2")["class_start_time"]) == (
        "Sunrise Flow",
        moved,
    )
    # A later event of a reservation, with its older snapshot, keeps the class as last told.
    assert consumer.apply(cancelled(reservation_id="r-1", user_id="11"))
    assert (stored(db, "r-1")["status"], stored(db, "r-1")["class_start_time"]) == (
        "CANCELLED",
        moved,
    )

    # The create again (a replay, new delivery id): older than what is held, dropped.
    replayed = class_event(cev.ClassCreated(yoga_class=a_class(1, "Morning Flow")))
    assert consumer.apply(replayed)
    assert await titles() == [("Sunrise Flow", moved)] * 2
    assert stored(db, "r-2")["class_start_time"] == moved

    assert consumer.apply(
        class_event(
            cev.ClassCancelled(yoga_class=a_class(3, "Sunrise Flow", moved, cancelled=True))
        )
    )
    t = storage.classes
    row = db.run_sync(lambda conn: conn.execute(select(t)).one(), write=False)
    assert (row.title, row.start_time, row.cancelled, row.version) == (
        "Sunrise Flow",
        moved,
        True,
        3,
    )


def test_a_garbage_payload_is_invalid_and_writes_nothing(
    db: Database, consumer: EventConsumer
) -> None:
    before = contents(db)
    garbage = Envelope(
        event_id=str(uuid.uuid4()),
        event_type=rev.ReservationConfirmed.DESCRIPTOR.full_name,
        source="test",
        time="",
        key="r-1",
        payload=b"\xff\xffnot a protobuf",
    )
    with pytest.raises(InvalidEvent):
        consumer.apply(garbage)
    # Well-formed but without what the page needs: the inbox row is rolled back with it.
    with pytest.raises(InvalidEvent):
        consumer.apply(envelope(rev.ReservationCancelled(), "r-1"))
    with pytest.raises(InvalidEvent):
        consumer.apply(envelope(cev.ClassUpdated(yoga_class=ypb.YogaClass(title="x")), "c-1"))
    assert contents(db) == before


def test_concurrent_consumers_end_on_the_newest_version(db: Database) -> None:
    """Several replicas applying every version of one reservation in their own random order."""
    versions = list(range(1, 13))
    failures: list[BaseException] = []

    def replica(seed: int) -> None:
        consumer = new_consumer(db)
        order = random.Random(seed).sample(versions, len(versions))
        try:
            for version in order:
                r = reservation(version)
                consumer.apply(envelope(rev.ReservationConfirmed(reservation=r), "r-1"))
        except BaseException as err:
            failures.append(err)

    threads = [threading.Thread(target=replica, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert stored(db, "r-1")["version"] == 12
    assert len(contents(db)["inbox"]) == 4 * len(versions)


def test_a_class_moved_while_its_reservations_arrive_ends_moved_on_each(db: Database) -> None:
    """One replica applies class events while another applies reservations of the same
    classes, each pair at the same moment: neither may miss the other's row (the page is
    ordered by the class time each reservation row holds)."""
    moved = START - timedelta(days=30)
    classes = [f"c-{i}" for i in range(40)]
    together = threading.Barrier(2)
    failures: list[BaseException] = []

    def run(events: list[Envelope]) -> None:
        consumer = new_consumer(db)
        try:
            for event in events:
                together.wait(timeout=30)
                consumer.apply(event)
        except BaseException as err:
            failures.append(err)
            together.abort()

    # The class's first event already tells the moved time; the reservation's snapshot does not.
    class_events = [
        class_event(cev.ClassCreated(yoga_class=a_class(1, "Moved Flow", moved, c)))
        for c in classes
    ]
    bookings = [confirmed(reservation_id=f"r-{c}", class_id=c) for c in classes]
    threads = [
        threading.Thread(target=run, args=(class_events,)),
        threading.Thread(target=run, args=(bookings,)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    for c in classes:
        row = stored(db, f"r-{c}")
        assert (row["class_title"], row["class_start_time"]) == ("Moved Flow", moved), c


# --- the page through a real server ----------------------------------------------------------


def uid(name: str) -> str:
    """The member's id in the system: the provider's id of development user `name`, the `sub`
    of the tokens `Served.as_user(name)` presents."""
    return accounts().user_id(name)


@dataclass
class History:
    """A member's long history: the events that build it and the class start each of its
    reservations ends with (None: the class was never found)."""

    events: list[Envelope]
    starts: dict[str, datetime | None]

    def expected(self, now: datetime) -> list[str]:
        """Upcoming classes soonest first, then past ones most recent first, then undated;
        entries of one class time by reservation id (ascending upcoming, descending after)."""
        dated = {r: s for r, s in self.starts.items() if s is not None}
        upcoming = sorted((s, r) for r, s in dated.items() if s >= now)
        past = sorted(((s, r) for r, s in dated.items() if s < now), reverse=True)
        undated = sorted((r for r, s in self.starts.items() if s is None), reverse=True)
        return [r for _, r in upcoming] + [r for _, r in past] + undated


def long_history(name: str, now: datetime) -> History:
    """Development user `name`'s history: 45 upcoming, 50 past and 6 never-found classes,
    several at one time; five of them moved by staff after they were booked (three into the
    past, two into the future). Every time is at least an hour from `now`, so the listing's own
    now splits them the same way."""
    user_id = uid(name)
    events: list[Envelope] = []
    starts: dict[str, datetime | None] = {}
    day = timedelta(days=1)
    for i in range(101):
        rid, cid = f"{name}-r{i:03d}", f"{name}-c{i:03d}"
        if i < 45:
            start: datetime | None = now + (1 + i % 15) * day  # three reservations a day
        elif i < 95:
            start = now - (1 + i % 20) * day - 2 * HOUR
        else:
            start = None
        if start is None:
            r = reservation(2, rpb.RESERVATION_STATUS_REJECTED, user_id=user_id)
            r.reservation_id, r.class_id = rid, cid
            r.reason = rpb.RESERVATION_REASON_CLASS_NOT_FOUND
            r.class_title = ""
            r.ClearField("class_start_time")
            r.ClearField("class_end_time")
            events.append(envelope(rev.ReservationRejected(reservation=r), rid))
        else:
            events.append(confirmed(reservation_id=rid, class_id=cid, user_id=user_id, start=start))
        if i in (3, 17, 30):
            start = now - (40 + i) * day
        elif i in (50, 77):
            start = now + (20 + i) * day
        else:
            starts[rid] = start
            continue
        starts[rid] = start
        events.append(class_event(cev.ClassUpdated(yoga_class=a_class(4, "Moved", start, cid))))
    return History(events, starts)


@functools.cache
def long_history_of_20() -> History:
    """Member 20's long history, made once (at test time: it asks the provider for the id)."""
    return long_history("20", datetime.now(UTC).replace(microsecond=0))


@dataclass
class Served:
    process: ServiceProcess
    consumer: EventConsumer
    auth: AuthSettings

    def as_user(self, user: str, role: str = MEMBER) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {accounts().token(user, role)}"),)


@pytest.fixture(scope="module", params=BACKENDS)
def served(
    request: pytest.FixtureRequest, auth: AuthSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp(f"mypage-{request.param}")
    url = new_database(request.param, folder, "mypage")
    migrate.upgrade(url, MIGRATIONS)
    db = Database(url, threads=2)
    consumer = new_consumer(db)
    # Member 11: an early class booked then cancelled, a later one confirmed (and renamed by
    # staff after it was booked). Member 12: rejected from the early class.
    later = START + timedelta(days=2)
    m11, m12 = uid("11"), uid("12")
    for event in [
        confirmed(reservation_id="r-a", class_id="c-a", user_id=m11),
        cancelled(reservation_id="r-a", class_id="c-a", user_id=m11),
        confirmed(
            reservation_id="r-b", class_id="c-b", user_id=m11, title="Evening Yin", start=later
        ),
        class_event(cev.ClassCreated(yoga_class=a_class(1, "Evening Yin", later, "c-b"))),
        class_event(cev.ClassUpdated(yoga_class=a_class(2, "Deep Yin", later, "c-b"))),
        rejected(reservation_id="r-c", class_id="c-a", user_id=m12),
        *long_history_of_20().events,
    ]:
        consumer.apply(event)
    stack = Stack(
        folder,
        auth,
        KafkaSettings(bootstrap_servers=NO_BROKER),
        ("mypage",),
        database_urls={"mypage": url},
        topics=False,
    )
    stack.start()
    try:
        yield Served(stack.services["mypage"], consumer, auth)
    finally:
        code = stack.stop()["mypage"]
        db.close()
    assert code == 0, f"mypage_svc did not stop cleanly:\n{stack.tail('mypage')}"


@pytest.fixture
async def mypage(served: Served) -> AsyncIterator[mypage_pb2_grpc.MyPageServiceStub]:
    async with grpc.aio.insecure_channel(served.process.target) as channel:
        yield mypage_pb2_grpc.MyPageServiceStub(channel)


def _summary(page: mypage_pb2.GetMyPageResponse) -> list[tuple[Any, ...]]:
    return [
        (
            e.reservation_id,
            e.class_id,
            e.class_title,
            e.class_start_time.ToDatetime(tzinfo=UTC),
            e.class_end_time.ToDatetime(tzinfo=UTC),
            e.status,
            e.reason,
        )
        for e in page.entries
    ]


# Both classes are still to come: the sooner first.
MEMBER_11 = [
    (
        "r-a",
        "c-a",
        "Morning Flow",
        START,
        START + HOUR,
        rpb.RESERVATION_STATUS_CANCELLED,
        rpb.RESERVATION_REASON_CANCELLED_BY_USER,
    ),
    (
        "r-b",
        "c-b",
        "Deep Yin",
        START + timedelta(days=2),
        START + timedelta(days=2) + HOUR,
        rpb.RESERVATION_STATUS_CONFIRMED,
        rpb.RESERVATION_REASON_UNSPECIFIED,
    ),
]


async def test_a_member_reads_their_own_page_upcoming_soonest_first(
    served: Served, mypage: mypage_pb2_grpc.MyPageServiceStub
) -> None:
    page = await mypage.GetMyPage(
        mypage_pb2.GetMyPageRequest(user_id=uid("11")), metadata=served.as_user("11")
    )
    assert page.user_id == uid("11")
    assert _summary(page) == MEMBER_11
    assert page.next_page_token == ""
    cancelled_entry = page.entries[0]
    assert cancelled_entry.update_time.ToDatetime(tzinfo=UTC) == (
        START - timedelta(days=10) + timedelta(minutes=3)
    )


async def test_a_member_cannot_read_another_members_page(
    served: Served, mypage: mypage_pb2_grpc.MyPageServiceStub
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await mypage.GetMyPage(
            mypage_pb2.GetMyPageRequest(user_id=uid("11")), metadata=served.as_user("12")
        )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_details(caught.value)[0] == "PERMISSION_DENIED"


async def test_staff_read_anyones_page(
    served: Served, mypage: mypage_pb2_grpc.MyPageServiceStub
) -> None:
    admin = served.as_user("staff-1", ADMIN)
    page = await mypage.GetMyPage(mypage_pb2.GetMyPageRequest(user_id=uid("11")), metadata=admin)
    assert _summary(page) == MEMBER_11
    other = await mypage.GetMyPage(mypage_pb2.GetMyPageRequest(user_id=uid("12")), metadata=admin)
    assert [(e.reservation_id, e.status, e.reason) for e in other.entries] == [
        ("r-c", rpb.RESERVATION_STATUS_REJECTED, rpb.RESERVATION_REASON_CLASS_FULL)
    ]


async def test_a_member_without_reservations_has_an_empty_page(
    served: Served, mypage: mypage_pb2_grpc.MyPageServiceStub
) -> None:
    page = await mypage.GetMyPage(
        mypage_pb2.GetMyPageRequest(user_id=uid("99")), metadata=served.as_user("99")
    )
    assert (page.user_id, list(page.entries)) == (uid("99"), [])


@pytest.mark.parametrize("user_id", ["", "x" * 65, " 11"])
async def test_a_bad_user_id_is_invalid_argument(
    served: Served, mypage: mypage_pb2_grpc.MyPageServiceStub, user_id: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await mypage.GetMyPage(
            mypage_pb2.GetMyPageRequest(user_id=user_id),
            metadata=served.as_user("staff-1", ADMIN),
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(caught.value) == ("INVALID_ARGUMENT", ["user_id"])


async def test_callers_without_a_token_or_a_reader_role_are_refused(
    served: Served, mypage: mypage_pb2_grpc.MyPageServiceStub
) -> None:
    request = mypage_pb2.GetMyPageRequest(user_id=uid("11"))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await mypage.GetMyPage(request)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await mypage.GetMyPage(request, metadata=served.as_user("reservation_svc", SERVICE))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_the_page_follows_events_applied_while_serving(
    served: Served, mypage: mypage_pb2_grpc.MyPageServiceStub
) -> None:
    member = served.as_user("13")
    request = mypage_pb2.GetMyPageRequest(user_id=uid("13"))
    served.consumer.apply(confirmed(reservation_id="r-live", class_id="c-live", user_id=uid("13")))
    page = await mypage.GetMyPage(request, metadata=member)
    assert [(e.class_title, e.status) for e in page.entries] == [
        ("Morning Flow", rpb.RESERVATION_STATUS_CONFIRMED)
    ]
    served.consumer.apply(
        class_event(cev.ClassUpdated(yoga_class=a_class(5, "Noon Flow", class_id="c-live")))
    )
    served.consumer.apply(cancelled(reservation_id="r-live", class_id="c-live", user_id=uid("13")))
    page = await mypage.GetMyPage(request, metadata=member)
    assert [(e.class_title, e.status) for e in page.entries] == [
        ("Noon Flow", rpb.RESERVATION_STATUS_CANCELLED)
    ]


async def read_every_page(
    mypage: mypage_pb2_grpc.MyPageServiceStub,
    metadata: tuple[tuple[str, str], ...],
    user_id: str,
    page_size: int,
) -> list[mypage_pb2.GetMyPageResponse]:
    pages = []
    token = ""
    while True:
        page = await mypage.GetMyPage(
            mypage_pb2.GetMyPageRequest(user_id=user_id, page_size=page_size, page_token=token),
            metadata=metadata,
        )
        pages.append(page)
        token = page.next_page_token
        if not token:
            return pages
        assert len(pages) <= 200, "the pages never end"


@pytest.mark.parametrize("page_size", [1, 7, 0, 100])
async def test_paging_lists_every_entry_once_upcoming_soonest_then_past_most_recent(
    served: Served, mypage: mypage_pb2_grpc.MyPageServiceStub, page_size: int
) -> None:
    pages = await read_every_page(mypage, served.as_user("20"), uid("20"), page_size)
    listed = [e.reservation_id for page in pages for e in page.entries]
    tokens = [position_of(page.next_page_token) for page in pages[:-1]]
    assert tokens, "a history of 101 entries fits no page"
    now = tokens[0].now if tokens[0] else None
    assert now is not None
    assert listed == long_history_of_20().expected(now)
    size = page_size or pagination.DEFAULT_PAGE_SIZE
    assert [len(page.entries) for page in pages[:-1]] == [size] * (len(pages) - 1)
    assert 0 < len(pages[-1].entries) <= size
    # One listing, one now: every page split upcoming from past at the same moment.
    assert {t.now for t in tokens if t is not None} == {now}
    undated = pages[-1].entries[-1]
    assert (undated.class_title, undated.HasField("class_start_time")) == ("", False)


async def test_the_page_size_is_bounded(
    served: Served, mypage: mypage_pb2_grpc.MyPageServiceStub
) -> None:
    metadata = served.as_user("20")
    page = await mypage.GetMyPage(
        mypage_pb2.GetMyPageRequest(user_id=uid("20"), page_size=10_000), metadata=metadata
    )
    assert len(page.entries) == pagination.MAX_PAGE_SIZE
    assert page.next_page_token
    rest = await mypage.GetMyPage(
        mypage_pb2.GetMyPageRequest(user_id=uid("20"), page_token=page.next_page_token),
        metadata=metadata,
    )
    assert (len(rest.entries), rest.next_page_token) == (1, "")
    default = await mypage.GetMyPage(
        mypage_pb2.GetMyPageRequest(user_id=uid("20")), metadata=metadata
    )
    assert len(default.entries) == pagination.DEFAULT_PAGE_SIZE


def _token(position: list[Any]) -> str:
    return pagination.encode(position)


@pytest.mark.parametrize(
    ("page_size", "page_token", "field"),
    [
        (-1, "", "page_size"),
        (0, "not a token!", "page_token"),
        (0, pagination.encode_after(START, "20-r001"), "page_token"),  # ListReservations'
        (0, _token(["past", START.isoformat(), (START + HOUR).isoformat(), "r"]), "page_token"),
        (0, _token(["upcoming", START.isoformat(), None, "r"]), "page_token"),
    ],
)
async def test_a_bad_page_size_or_token_is_invalid_argument(
    served: Served,
    mypage: mypage_pb2_grpc.MyPageServiceStub,
    page_size: int,
    page_token: str,
    field: str,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await mypage.GetMyPage(
            mypage_pb2.GetMyPageRequest(
                user_id=uid("20"), page_size=page_size, page_token=page_token
            ),
            metadata=served.as_user("20"),
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(caught.value) == ("INVALID_ARGUMENT", [field])


async def test_every_bad_field_is_named_at_once(
    served: Served, mypage: mypage_pb2_grpc.MyPageServiceStub
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await mypage.GetMyPage(
            mypage_pb2.GetMyPageRequest(user_id="", page_size=-5, page_token="nope!"),
            metadata=served.as_user("staff-1", ADMIN),
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(caught.value) == (
        "INVALID_ARGUMENT",
        ["user_id", "page_size", "page_token"],
    )
