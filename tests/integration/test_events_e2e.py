"""Events end to end over a real Kafka broker, a real SMTP server and all four services, on
SQLite and on PostgreSQL: notifications, emails and my page follow every booking; nothing is
lost in a broker outage or a consumer crash, and nothing is applied twice on redelivery."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import pytest
from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from tests.integration.conftest import BACKENDS, Clients, Stack, connect, crowd
from tests.integration.events_support import (
    CONSUMED,
    Mailbox,
    all_services,
    book,
    broker,
    drained,
    new_class,
    rows,
    snapshot,
)
from tests.integration.support import eventually, request_id, ts
from yoga.mypage.v1 import mypage_pb2 as mpb
from yoga.notification.v1 import notification_pb2 as npb
from yoga.reservation.v1 import events_pb2 as rev
from yoga.reservation.v1 import reservation_pb2 as rpb
from yoga.yogaclass.v1 import yogaclass_pb2 as ypb
from yoga_common.events import headers
from yoga_common.settings import AuthSettings
from yoga_common.timestamps import utcnow
from yoga_common.topics import RESERVATION_EVENTS, dead_letter_topic

KIND = npb.NotificationKind.Name


@pytest.fixture(scope="module", params=BACKENDS)
def system(
    request: pytest.FixtureRequest, auth: AuthSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Stack, Mailbox]]:
    with all_services(request.param, auth, tmp_path_factory.mktemp("events")) as running:
        yield running


@pytest.fixture
async def c(system: tuple[Stack, Mailbox]) -> AsyncIterator[Clients]:
    async for clients in connect(system[0]):
        yield clients


@pytest.fixture
def mailbox(system: tuple[Stack, Mailbox]) -> Mailbox:
    return system[1]


async def kinds(c: Clients, user: str) -> list[str]:
    answer = await c.notifications.ListNotifications(
        npb.ListNotificationsRequest(user_id="me", page_size=100), metadata=c.stack.as_user(user)
    )
    return sorted(KIND(n.kind) for n in answer.notifications)


async def page(c: Clients, user: str) -> list[mpb.MyPageEntry]:
    """A member's whole page (these members have a few entries: one page of the largest size)."""
    answer = await c.mypage.GetMyPage(
        mpb.GetMyPageRequest(user_id="me", page_size=100), metadata=c.stack.as_user(user)
    )
    assert not answer.next_page_token
    return list(answer.entries)


async def test_me_names_the_caller_everywhere_a_user_id_goes(c: Clients) -> None:
    """A member need not know the id the identity provider gave them (issue 13)."""
    yoga_class = await new_class(c, 5)
    me = c.stack.as_user("me-41")
    booked = await c.reservations.CreateReservation(
        rpb.CreateReservationRequest(
            class_id=yoga_class.class_id, request_id=request_id(), user_id="me"
        ),
        metadata=me,
    )
    assert booked.reservation.user_id == c.stack.user_id("me-41")
    listed = await c.reservations.ListReservations(
        rpb.ListReservationsRequest(user_id="me"), metadata=me
    )
    assert [r.reservation_id for r in listed.reservations] == [booked.reservation.reservation_id]

    async def arrived() -> bool:
        notes = await c.notifications.ListNotifications(
            npb.ListNotificationsRequest(user_id="me"), metadata=me
        )
        mine = await c.mypage.GetMyPage(mpb.GetMyPageRequest(user_id="me"), metadata=me)
        return (
            [n.user_id for n in notes.notifications] == [c.stack.user_id("me-41")]
            and mine.user_id == c.stack.user_id("me-41")
            and [e.reservation_id for e in mine.entries] == [booked.reservation.reservation_id]
        )

    await eventually(arrived, within=30)


async def test_seed_scenario_notifies_mails_and_fills_my_page(c: Clients, mailbox: Mailbox) -> None:
    yoga_class = await new_class(c, 2)
    r11 = await book(c, yoga_class.class_id, "11")
    await book(c, yoga_class.class_id, "12")
    r13 = await book(c, yoga_class.class_id, "13")
    assert r13.status == rpb.RESERVATION_STATUS_REJECTED
    await c.reservations.CancelReservation(
        rpb.CancelReservationRequest(reservation_id=r11.reservation_id),
        metadata=c.stack.as_user("11"),
    )

    async def everything_arrived() -> bool:
        entries = {u: await page(c, u) for u in ("11", "12", "13")}
        return (
            await kinds(c, "11") == ["NOTIFICATION_KIND_BOOKED", "NOTIFICATION_KIND_CANCELLED"]
            and await kinds(c, "12") == ["NOTIFICATION_KIND_BOOKED"]
            and await kinds(c, "13") == ["NOTIFICATION_KIND_REJECTED"]
            and len(mailbox.to("user11@example.com")) == 2
            and len(mailbox.to("user13@example.com")) == 1
            and [(e.status, e.class_title) for e in entries["11"]]
            == [(rpb.RESERVATION_STATUS_CANCELLED, yoga_class.title)]
            and [e.status for e in entries["12"]] == [rpb.RESERVATION_STATUS_CONFIRMED]
            and [(e.status, e.reason) for e in entries["13"]]
            == [(rpb.RESERVATION_STATUS_REJECTED, rpb.RESERVATION_REASON_CLASS_FULL)]
        )

    await eventually(everything_arrived, within=2.0)


async def test_deleting_a_class_cancels_its_bookings_for_everyone(
    c: Clients, mailbox: Mailbox
) -> None:
    yoga_class = await new_class(c, 5)
    users = [f"studio-{n}" for n in range(5)]
    booked = [await book(c, yoga_class.class_id, u) for u in users]
    assert {r.status for r in booked} == {rpb.RESERVATION_STATUS_CONFIRMED}
    await c.classes.DeleteClass(
        ypb.DeleteClassRequest(class_id=yoga_class.class_id), metadata=c.stack.as_admin()
    )

    async def all_cancelled_by_studio() -> bool:
        listed = await c.reservations.ListReservations(
            rpb.ListReservationsRequest(class_id=yoga_class.class_id),
            metadata=c.stack.as_admin(),
        )
        seats = await c.classes.GetClass(
            ypb.GetClassRequest(class_id=yoga_class.class_id), metadata=c.stack.as_admin()
        )
        pages = [await page(c, u) for u in users]
        notified = [await kinds(c, u) for u in users]
        return (
            {(r.status, r.reason) for r in listed.reservations}
            == {(rpb.RESERVATION_STATUS_CANCELLED, rpb.RESERVATION_REASON_CANCELLED_BY_STUDIO)}
            and seats.yoga_class.booked == 0
            and all(
                n == ["NOTIFICATION_KIND_BOOKED", "NOTIFICATION_KIND_CLASS_CANCELLED"]
                for n in notified
            )
            and all(len(mailbox.to(f"user{u}@example.com")) == 2 for u in users)
            and all(
                [(e.status, e.reason) for e in p]
                == [(rpb.RESERVATION_STATUS_CANCELLED, rpb.RESERVATION_REASON_CANCELLED_BY_STUDIO)]
                for p in pages
            )
        )

    await eventually(all_cancelled_by_studio, within=20.0)


def read_dead_letters(stack: Stack, consumer: str, event_id: str) -> dict[str, str]:
    settings = stack.kafka
    reader = Consumer(
        {
            **settings.client_config(),
            "group.id": f"dlt-reader-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
        }
    )
    reader.subscribe([settings.name(dead_letter_topic(consumer))])
    try:
        for _ in range(300):
            msg = reader.poll(0.1)
            if msg is None or msg.error():
                continue
            found = {k: (v or b"").decode() for k, v in msg.headers() or []}  # type: ignore[union-attr]
            if found.get("ce_id") == event_id:
                return found
        raise AssertionError(f"no dead letter for {event_id} in {consumer}")
    finally:
        reader.close()


async def test_poison_message_goes_to_dead_letters_and_consumers_go_on(c: Clients) -> None:
    settings = c.stack.kafka
    poison_id = str(uuid.uuid4())
    producer = Producer(settings.client_config())
    producer.produce(
        settings.name(RESERVATION_EVENTS),
        key=b"poison",
        value=b"\xff\xfe\xfd this is not a protobuf",
        headers=headers(
            poison_id, "yoga.reservation.v1.ReservationConfirmed", "test", utcnow(), None
        ),
    )
    assert producer.flush(10) == 0
    for consumer in ("notification_svc", "mypage_svc"):
        letter = await asyncio.to_thread(read_dead_letters, c.stack, consumer, poison_id)
        assert "InvalidEvent" in letter["dlt_error"]
        assert letter["dlt_consumer"] == consumer
    # The consumers went on: a booking after the poison is applied.
    yoga_class = await new_class(c, 1)
    await book(c, yoga_class.class_id, "after-poison")

    async def applied() -> bool:
        return await kinds(c, "after-poison") == ["NOTIFICATION_KIND_BOOKED"] and bool(
            await page(c, "after-poison")
        )

    await eventually(applied, within=10.0)


def synthetic_confirmation(class_id: str, n: int) -> tuple[str, bytes]:
    reservation = rpb.Reservation(
        reservation_id=f"burst-{class_id}-{n}",
        class_id=class_id,
        user_id=f"burst-{n}",
        status=rpb.RESERVATION_STATUS_CONFIRMED,
        class_title="Burst",
        update_time=ts(utcnow()),
        version=2,
    )
    return reservation.reservation_id, rev.ReservationConfirmed(
        reservation=reservation
    ).SerializeToString()


async def test_consumer_killed_mid_burst_applies_every_event_once(c: Clients) -> None:
    settings = c.stack.kafka
    class_id = f"burst-{uuid.uuid4().hex[:8]}"
    producer = Producer(settings.client_config())
    for n in range(1000):
        key, value = synthetic_confirmation(class_id, n)
        producer.produce(
            settings.name(RESERVATION_EVENTS),
            key=key.encode(),
            value=value,
            headers=headers(
                str(uuid.uuid4()),
                "yoga.reservation.v1.ReservationConfirmed",
                "test",
                utcnow(),
                None,
            ),
        )
    assert producer.flush(30) == 0

    count = "SELECT count(*), count(DISTINCT event_id) FROM notifications WHERE class_id = :c"

    async def under_way() -> bool:
        return bool(rows(c.stack, "notification", count, c=class_id)[0][0] >= 50)

    await eventually(under_way, within=30)
    for name in ("notification", "mypage"):
        c.stack.services[name].stop(signal.SIGKILL)
    assert rows(c.stack, "notification", count, c=class_id)[0][0] < 1000, "burst ended too soon"
    for name in ("notification", "mypage"):
        c.stack.services[name].start()
        c.stack.services[name].wait_healthy()
    await drained(c.stack, ["notification", "mypage"], within=120)
    assert rows(c.stack, "notification", count, c=class_id) == [(1000, 1000)]
    pages = "SELECT count(*) FROM reservations WHERE class_id = :c"
    assert rows(c.stack, "mypage", pages, c=class_id) == [(1000,)]


async def test_broker_outage_loses_nothing(c: Clients, mailbox: Mailbox) -> None:
    yoga_class = await new_class(c, 100)
    users = crowd(200)
    c.stack.sign_in(users)
    sent_before = len(mailbox.message_ids())
    broker("stop")
    try:
        results = await asyncio.gather(*(book(c, yoga_class.class_id, u) for u in users))
    finally:
        broker("start")
    assert Counter(rpb.ReservationStatus.Name(r.status) for r in results) == {
        "RESERVATION_STATUS_CONFIRMED": 100,
        "RESERVATION_STATUS_REJECTED": 100,
    }

    async def published() -> bool:
        unsent = "SELECT count(*) FROM outbox WHERE sent_at IS NULL"
        return all(rows(c.stack, s, unsent) == [(0,)] for s in ("yogaclass", "reservation"))

    await eventually(published, within=120)
    await drained(c.stack, ["reservation", "notification", "mypage"], within=120)

    async def complete() -> bool:
        return len(mailbox.message_ids()) - sent_before >= 200

    await eventually(complete, within=60)
    per_user = rows(
        c.stack,
        "notification",
        "SELECT user_id, count(*) FROM notifications WHERE class_id = :c GROUP BY user_id",
        c=yoga_class.class_id,
    )
    assert sorted(per_user) == sorted((c.stack.user_id(u), 1) for u in users)
    entries = rows(
        c.stack,
        "mypage",
        "SELECT user_id, count(*) FROM reservations WHERE class_id = :c GROUP BY user_id",
        c=yoga_class.class_id,
    )
    assert sorted(entries) == sorted((c.stack.user_id(u), 1) for u in users)
    ids = mailbox.message_ids()
    assert len(ids) == len(set(ids)), "an email was sent twice"


def rewind(stack: Stack, service: str) -> None:
    settings = stack.kafka
    admin = AdminClient(settings.client_config())
    metadata = admin.list_topics(timeout=10)
    partitions = [
        TopicPartition(settings.name(t), p, 0)
        for t in CONSUMED[service]
        for p in metadata.topics[settings.name(t)].partitions
    ]
    group = ConsumerGroupTopicPartitions(settings.name(f"{service}_svc"), partitions)
    for future in admin.alter_consumer_group_offsets([group]).values():
        future.result()


async def test_replaying_every_event_three_times_changes_nothing(
    c: Clients, mailbox: Mailbox
) -> None:
    await drained(c.stack, ["notification", "mypage"])

    async def mail_settled() -> bool:
        waiting = "SELECT count(*) FROM notifications WHERE email_state = 'PENDING'"
        return rows(c.stack, "notification", waiting) == [(0,)]

    await eventually(mail_settled, within=60)
    tables = {
        "notification": snapshot(c.stack, "notification", "notifications", "notification_id"),
        "mypage": snapshot(c.stack, "mypage", "reservations", "reservation_id"),
    }
    emails = len(mailbox.message_ids())
    for _ in range(3):
        for service in ("notification", "mypage"):
            c.stack.services[service].stop()
            await asyncio.to_thread(rewind, c.stack, service)
            c.stack.services[service].start()
            c.stack.services[service].wait_healthy()
        await drained(c.stack, ["notification", "mypage"], within=120)
    await asyncio.sleep(1.0)  # room for a mailer that would (wrongly) send again
    assert (
        snapshot(c.stack, "notification", "notifications", "notification_id")
        == tables["notification"]
    )
    assert snapshot(c.stack, "mypage", "reservations", "reservation_id") == tables["mypage"]
    assert len(mailbox.message_ids()) == emails
