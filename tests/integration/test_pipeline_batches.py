"""Issue 17's batches behind the booking, on SQLite and PostgreSQL against the real broker: the
consumer applies a poll's worth of events per transaction, each in its own savepoint (a poison
event in the middle is retried and dead-lettered alone, its neighbours applied once; a batch
delivered again after a crash before its offsets were stored changes nothing), and the relay
marks exactly the rows the broker acknowledged, one transaction per batch."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer
from google.protobuf.message import Message
from sqlalchemy import func, select

from mypage_svc import storage as mypage
from mypage_svc.consumers import handlers
from mypage_svc.storage import MyPageStore
from reservation_svc.storage import outbox
from tests.integration.conftest import BACKENDS, kafka_bootstrap, migrated_database
from tests.integration.support import eventually
from tests.integration.test_mypage_service import reservation
from yoga.reservation.v1 import events_pb2 as rev
from yoga_common.consumer import EventConsumer, Handler, Handlers
from yoga_common.db import Database
from yoga_common.events import from_kafka, headers
from yoga_common.outbox import add_event
from yoga_common.relay import UNACKED, OutboxRelay
from yoga_common.settings import KafkaSettings
from yoga_common.timestamps import utcnow
from yoga_common.topics import RESERVATION_EVENTS, consumer_lag, dead_letter_topic, ensure_topics
from yoga_common.uow import Transactions, UnitOfWork

pytestmark = pytest.mark.integration

GROUP = "mypage_svc"
ATTEMPTS = 3


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def kafka() -> KafkaSettings:
    """Topics of this test alone; one partition, so a poll holds every message in order."""
    settings = KafkaSettings(
        bootstrap_servers=kafka_bootstrap(),
        prefix=f"t{uuid.uuid4().hex[:10]}.",
        partitions=1,
        max_attempts=ATTEMPTS,
        delivery_timeout_seconds=5.0,
    )
    ensure_topics(settings)
    return settings


@pytest.fixture
def db(backend: str, tmp_path: Path) -> Iterator[Database]:
    with migrated_database(backend, tmp_path, "mypage") as database:
        yield database


# --- the consumer ----------------------------------------------------------------------------


class CountedTransactions(Transactions[MyPageStore]):
    def __init__(self, db: Database) -> None:
        super().__init__(db, MyPageStore)
        self.opened = 0

    def run_sync(self, work: Callable[[UnitOfWork[MyPageStore]], Any], write: bool = True) -> Any:
        self.opened += 1
        return super().run_sync(work, write)


def counting_handlers(poison: set[str]) -> tuple[Handlers[MyPageStore], Counter[str]]:
    """mypage's own handlers, counting their calls per event; an event in `poison` writes its
    row, then fails every time (its savepoint must take the row back)."""
    calls: Counter[str] = Counter()
    found: Handlers[MyPageStore] = Handlers()
    for event_type, real in handlers().by_type.items():

        def apply(uow: Any, envelope: Any, message: Any, real: Handler[Any, Any] = real) -> None:
            calls[envelope.event_id] += 1
            real.apply(uow, envelope, message)
            if envelope.event_id in poison:
                raise RuntimeError("poison")

        found.by_type[event_type] = Handler(real.message_type, apply)
    return found, calls


def booked(reservation_id: str) -> rev.ReservationConfirmed:
    return rev.ReservationConfirmed(reservation=reservation(2, reservation_id=reservation_id))


def publish(settings: KafkaSettings, events: list[tuple[str, Message | bytes]]) -> None:
    """(event id, event or raw payload) in order, on the reservation topic."""
    producer = Producer(settings.client_config())
    for event_id, event in events:
        payload = event if isinstance(event, bytes) else event.SerializeToString()
        producer.produce(
            settings.name(RESERVATION_EVENTS),
            key=b"k",
            value=payload,
            headers=headers(
                event_id, rev.ReservationConfirmed.DESCRIPTOR.full_name, "test", utcnow(), None
            ),
        )
    assert producer.flush(10) == 0


def new_consumer(
    db: Database, settings: KafkaSettings, found: Handlers[MyPageStore]
) -> tuple[EventConsumer[MyPageStore], CountedTransactions]:
    tx = CountedTransactions(db)
    consumer = EventConsumer(GROUP, tx, mypage.inbox, [RESERVATION_EVENTS], found, settings)
    return consumer, tx


def count(db: Database, table: Any) -> int:
    query = select(func.count()).select_from(table)
    return int(db.run_sync(lambda conn: conn.execute(query).scalar_one(), write=False))


def reservation_ids(db: Database) -> set[str]:
    query = select(mypage.reservations.c.reservation_id)
    return set(db.run_sync(lambda conn: list(conn.execute(query).scalars()), write=False))


def dead_letters(settings: KafkaSettings, wanted: int) -> list[dict[str, str]]:
    reader = Consumer(
        {
            **settings.client_config(),
            "group.id": f"dlt-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
        }
    )
    reader.subscribe([settings.name(dead_letter_topic(GROUP))])
    found: list[dict[str, str]] = []
    try:
        for _ in range(100):
            msg = reader.poll(0.5)
            if msg is not None and not msg.error():
                letter = {k: (v or b"").decode() for k, v in msg.headers() or []}
                found.append({**letter, "event_id": from_kafka(msg).event_id})
                if len(found) == wanted:
                    break
    finally:
        reader.close()
    return found


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_poison_event_in_a_batch_is_handled_alone_and_its_neighbours_once(
    db: Database, kafka: KafkaSettings
) -> None:
    ids = [str(uuid.uuid4()) for _ in range(12)]
    failing, garbage = ids[5], ids[8]  # fails in its handler; cannot be decoded
    events: list[tuple[str, Message | bytes]] = [
        (i, b"\xff\xff\xff" if i == garbage else booked(f"r-{n}")) for n, i in enumerate(ids)
    ]
    publish(kafka, events)
    found, calls = counting_handlers({failing})
    consumer, tx = new_consumer(db, kafka, found)
    neighbours = [i for i in ids if i not in (failing, garbage)]

    async def handled() -> bool:
        return calls[failing] == ATTEMPTS and count(db, mypage.inbox) == len(neighbours)

    task = asyncio.create_task(consumer.run())
    try:
        await eventually(handled, within=30.0)
        letters = await asyncio.to_thread(dead_letters, kafka, 2)
    finally:
        await stop(task)
    # A neighbour before the failing event in its batch ran twice: its first run was undone
    # with the batch's transaction (no savepoint per event) and applied again on its own. The
    # ones after it ran once.
    after = ids.index(failing) + 1
    assert [calls[i] for i in ids[after:] if i != garbage] == [1] * (len(ids) - after - 1)
    assert all(calls[i] in (1, 2) for i in neighbours)
    assert calls[garbage] == 0
    # The failing event's own write went with its transaction; every neighbour's stayed, once.
    assert reservation_ids(db) == {f"r-{n}" for n, i in enumerate(ids) if i in neighbours}
    assert count(db, mypage.reservations) == len(neighbours)
    assert {letter["event_id"]: letter["dlt_error"].split(":")[0] for letter in letters} == {
        failing: "RuntimeError",
        garbage: "InvalidEvent",
    }
    # Far fewer transactions than events: the neighbours shared theirs.
    assert tx.opened < len(ids)
    # Every offset was stored and committed on close, the dead-lettered ones too.
    assert await asyncio.to_thread(consumer_lag, kafka, GROUP, [RESERVATION_EVENTS]) == 0


async def test_a_batch_delivered_again_after_a_crash_before_its_offsets_applies_nothing_twice(
    db: Database, kafka: KafkaSettings
) -> None:
    ids = [str(uuid.uuid4()) for _ in range(10)]
    publish(kafka, [(i, booked(f"r-{n}")) for n, i in enumerate(ids)])
    found, calls = counting_handlers(set())

    # The first consumer commits its transactions but dies before storing any offset.
    first, _ = new_consumer(db, kafka, found)
    first._store = lambda consumer, done: None  # type: ignore[method-assign]

    async def applied() -> bool:
        return count(db, mypage.inbox) == len(ids)

    task = asyncio.create_task(first.run())
    try:
        await eventually(applied, within=30.0)
    finally:
        await stop(task)
    assert await asyncio.to_thread(consumer_lag, kafka, GROUP, [RESERVATION_EVENTS]) == len(ids)
    before = reservation_ids(db)

    # The group's next member gets the whole batch again: the inbox drops every event.
    second, tx = new_consumer(db, kafka, found)
    stored: list[int] = []
    store = second._store

    def spy(consumer: Consumer, done: Any) -> None:
        stored.extend(msg.offset() for msg in done)
        store(consumer, done)

    second._store = spy  # type: ignore[method-assign]

    async def redelivered() -> bool:
        return len(stored) == len(ids)

    task = asyncio.create_task(second.run())
    try:
        await eventually(redelivered, within=30.0)
    finally:
        await stop(task)
    assert dict(calls) == dict.fromkeys(ids, 1)
    assert reservation_ids(db) == before == {f"r-{n}" for n in range(len(ids))}
    assert count(db, mypage.inbox) == len(ids)
    assert tx.opened < len(ids)
    assert await asyncio.to_thread(consumer_lag, kafka, GROUP, [RESERVATION_EVENTS]) == 0


# --- the relay -------------------------------------------------------------------------------


@pytest.fixture
def outbox_db(backend: str, tmp_path: Path) -> Iterator[Database]:
    with migrated_database(backend, tmp_path, "reservation") as database:
        yield database


def unsent(db: Database) -> set[str]:
    c = outbox.c
    query = select(c.event_id).where(c.sent_at.is_(None))
    return set(db.run_sync(lambda conn: list(conn.execute(query).scalars()), write=False))


def published(settings: KafkaSettings, wanted: int) -> list[str]:
    reader = Consumer(
        {
            **settings.client_config(),
            "group.id": f"read-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
        }
    )
    reader.subscribe([settings.name(RESERVATION_EVENTS)])
    found: list[str] = []
    try:
        for _ in range(40):
            msg = reader.poll(0.5)
            if msg is not None and not msg.error():
                found.append(from_kafka(msg).event_id)
            elif len(found) >= wanted:
                break
    finally:
        reader.close()
    return found


def test_the_relay_marks_exactly_the_rows_the_broker_acknowledged(
    outbox_db: Database, kafka: KafkaSettings
) -> None:
    db = outbox_db

    def write(conn: Any) -> list[str]:
        # Every third row names a topic the broker refuses (an invalid name).
        return [
            add_event(
                conn, outbox, "bad topic!" if n % 3 == 1 else RESERVATION_EVENTS, "k", booked("r")
            )
            for n in range(9)
        ]

    written = db.run_sync(write)
    refused = {written[n] for n in range(9) if n % 3 == 1}
    relay = OutboxRelay(db, outbox, "test", kafka)
    opened: list[int] = []
    transaction = db.transaction

    def counted(write: bool = True) -> Any:
        opened.append(1)
        return transaction(write)

    db.transaction = counted  # type: ignore[method-assign,assignment]
    assert relay.publish_batch() == 6
    assert len(opened) == 1  # read, and on PostgreSQL marked, in one transaction
    # The next pass marks what the last one published (SQLite: in the transaction that
    # reads), finds only the refused rows, and the broker refuses them again.
    assert relay.publish_batch() is UNACKED
    assert len(opened) == 2
    assert unsent(db) == refused
    ids = published(kafka, 6)
    assert sorted(ids) == sorted(set(written) - refused)  # each once
