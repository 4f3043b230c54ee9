"""A load of members through the gateway while replicas restart, and the check afterwards that
no event was lost: every confirmed booking has its notification (exactly one, sent by email)
and its my-page row, no reservation is left PENDING, the dead-letter topics are empty."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import grpc
from confluent_kafka import Consumer, TopicPartition

from devtools.books import Books, Rows
from tests.containers.system import ContainerSystem
from tests.integration.conftest import accounts
from tests.integration.support import a_class
from yoga.mypage.v1 import mypage_pb2 as mpb
from yoga.mypage.v1 import mypage_pb2_grpc
from yoga.notification.v1 import notification_pb2 as npb
from yoga.notification.v1 import notification_pb2_grpc
from yoga.reservation.v1 import reservation_pb2 as rpb
from yoga.reservation.v1 import reservation_pb2_grpc
from yoga.yogaclass.v1 import yogaclass_pb2 as ypb
from yoga.yogaclass.v1 import yogaclass_pb2_grpc
from yoga_common import system
from yoga_common.auth import ADMIN

MEMBERS = [f"ct-member-{n}" for n in range(16)]
CLASSES = 60
WORKERS = 4
# Bookings per second, across the workers: steady through every restart (16 x 60 pairs last
# two minutes), not a flood (two cores run the whole system and the test).
BOOKINGS_PER_SECOND = 8.0
# Between two calls of one worker.
PAUSE = 0.05
CALL_TIMEOUT = 20.0


@dataclass
class Load:
    cluster: ContainerSystem
    class_ids: list[str]
    pairs: list[tuple[str, str]]  # (member, class id) not booked yet
    confirmed: dict[str, str] = field(default_factory=dict)  # reservation id -> class id
    booked_at: list[float] = field(default_factory=list)  # time.monotonic() of each answer
    other: Counter[str] = field(default_factory=Counter)  # answers other than CONFIRMED
    # Answered PENDING: accepted, its seat call met a replica going away; reservation_svc's
    # recovery finishes it (every class has a seat for it), so it must end CONFIRMED too.
    pending: dict[str, str] = field(default_factory=dict)  # reservation id -> class id
    reads: int = 0
    failures: list[str] = field(default_factory=list)
    began: float = field(default_factory=time.monotonic)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _next_booking: float = 0.0

    @classmethod
    async def prepared(cls, cluster: ContainerSystem) -> Load:
        """Classes with seats for every member, and the members signed in up front."""
        await asyncio.to_thread(accounts().sign_in, MEMBERS)
        async with cluster.channel() as channel:
            classes = yogaclass_pb2_grpc.YogaClassServiceStub(channel)
            made = await asyncio.gather(
                *(
                    classes.CreateClass(
                        ypb.CreateClassRequest(yoga_class=a_class(len(MEMBERS) + 5)),
                        metadata=cluster.metadata("staff-1", ADMIN),
                    )
                    for _ in range(CLASSES)
                )
            )
        class_ids = [m.yoga_class.class_id for m in made]
        pairs = list(itertools.product(MEMBERS, class_ids))
        random.Random(18).shuffle(pairs)
        return cls(cluster, class_ids, pairs)

    def stop(self) -> None:
        self._stop.set()

    def bookings_between(self, start: float, end: float) -> int:
        """Bookings confirmed between two moments (time.monotonic())."""
        return sum(1 for t in self.booked_at if start <= t <= end)

    def summary(self) -> dict[str, Any]:
        return {
            "seconds": round(time.monotonic() - self.began, 1),
            "confirmed": len(self.confirmed),
            "other_answers": dict(self.other),
            "reads": self.reads,
            "failures": len(self.failures),
        }

    async def run(self) -> None:
        self.began = time.monotonic()
        async with self.cluster.channel() as channel:
            await asyncio.gather(*(self._worker(i, channel) for i in range(WORKERS)))

    async def _worker(self, index: int, channel: grpc.aio.Channel) -> None:
        as_json = index % 2 == 1
        reads = itertools.cycle(("class", "notifications", "mypage"))
        while not self._stop.is_set():
            if self.pairs and time.monotonic() >= self._next_booking:
                # No await between the test and the update: one worker takes each slot.
                self._next_booking = time.monotonic() + 1 / BOOKINGS_PER_SECOND
                member, class_id = self.pairs.pop()
                await self._call(f"book {member}", self._book(channel, member, class_id, as_json))
            member = random.choice(MEMBERS)
            what = next(reads)
            await self._call(f"read {what}", self._read(channel, member, what, as_json))
            await asyncio.sleep(PAUSE)

    async def _call(self, label: str, call: Any) -> None:
        try:
            await call
        except Exception as err:  # every failed call is the finding, whatever it is
            at = round(time.monotonic() - self.began, 2)
            self.failures.append(f"{at}s {label}: {type(err).__name__}: {err}")

    async def _book(
        self, channel: grpc.aio.Channel, member: str, class_id: str, as_json: bool
    ) -> None:
        key = str(uuid.uuid4())
        if as_json:
            client = await asyncio.to_thread(self.cluster.json, member)
            answer = await asyncio.to_thread(
                client.call, "POST", "/v1/reservations", {"classId": class_id, "requestId": key}
            )
            if answer.status != 200:
                raise AssertionError(f"HTTP {answer.status}: {answer.text[:300]}")
            reservation = answer.json["reservation"]
            status, reservation_id = reservation["status"], reservation["reservationId"]
        else:
            stub = reservation_pb2_grpc.ReservationServiceStub(channel)
            got = await stub.CreateReservation(
                rpb.CreateReservationRequest(class_id=class_id, request_id=key),
                metadata=await asyncio.to_thread(self.cluster.metadata, member),
                timeout=CALL_TIMEOUT,
            )
            status = rpb.ReservationStatus.Name(got.reservation.status)
            reservation_id = got.reservation.reservation_id
        if status == "RESERVATION_STATUS_CONFIRMED":
            self.confirmed[reservation_id] = class_id
            self.booked_at.append(time.monotonic())
        else:
            self.other[status] += 1
            if status == "RESERVATION_STATUS_PENDING":
                self.pending[reservation_id] = class_id

    async def _read(self, channel: grpc.aio.Channel, member: str, what: str, as_json: bool) -> None:
        class_id = random.choice(self.class_ids)
        if as_json:
            paths = {
                "class": f"/v1/classes/{class_id}",
                "notifications": "/v1/users/me/notifications?pageSize=5",
                "mypage": "/v1/users/me/mypage?pageSize=5",
            }
            client = await asyncio.to_thread(self.cluster.json, member)
            answer = await asyncio.to_thread(client.call, "GET", paths[what])
            if answer.status != 200:
                raise AssertionError(f"HTTP {answer.status}: {answer.text[:300]}")
        else:
            metadata = await asyncio.to_thread(self.cluster.metadata, member)
            if what == "class":
                await yogaclass_pb2_grpc.YogaClassServiceStub(channel).GetClass(
                    ypb.GetClassRequest(class_id=class_id), metadata=metadata, timeout=CALL_TIMEOUT
                )
            elif what == "notifications":
                await notification_pb2_grpc.NotificationServiceStub(channel).ListNotifications(
                    npb.ListNotificationsRequest(user_id="me", page_size=5),
                    metadata=metadata,
                    timeout=CALL_TIMEOUT,
                )
            else:
                await mypage_pb2_grpc.MyPageServiceStub(channel).GetMyPage(
                    mpb.GetMyPageRequest(user_id="me", page_size=5),
                    metadata=metadata,
                    timeout=CALL_TIMEOUT,
                )
        self.reads += 1


def _lost(rows: Rows, confirmed: dict[str, str]) -> dict[str, Any]:
    """What is still missing or wrong, by kind (empty lists: nothing)."""
    wanted = set(confirmed)
    statuses = dict(rows("reservation", "SELECT reservation_id, status FROM reservations"))
    booked = Counter(
        r[0]
        for r in rows(
            "notification",
            "SELECT reservation_id FROM notifications WHERE kind = 'BOOKED'",
        )
    )
    mailed = {
        r[0]
        for r in rows(
            "notification",
            "SELECT reservation_id FROM notifications WHERE kind = 'BOOKED' "
            "AND email_state = 'SENT'",
        )
    }
    page = dict(rows("mypage", "SELECT reservation_id, status FROM reservations"))
    seats = dict(rows("yogaclass", "SELECT class_id, booked FROM classes"))
    per_class = Counter(confirmed.values())
    return {
        "not_confirmed": sorted(r for r in wanted if statuses.get(r) != "CONFIRMED"),
        "pending": sorted(r for r, s in statuses.items() if s == "PENDING"),
        "no_notification": sorted(r for r in wanted if booked[r] == 0),
        "two_notifications": sorted(r for r in booked if booked[r] > 1),
        "not_mailed": sorted(wanted - mailed),
        "no_my_page_row": sorted(r for r in wanted if page.get(r) != "CONFIRMED"),
        "seats_differ": sorted(c for c, n in per_class.items() if seats.get(c) != n),
    }


def _dead_letters(cluster: ContainerSystem) -> dict[str, int]:
    consumer = Consumer(
        {"bootstrap.servers": cluster.kafka.bootstrap_servers, "group.id": "ct-dlt-check"}
    )
    try:
        counts = {}
        for service in system.SERVICES.values():
            topic = cluster.kafka.name(service.dead_letter_topic)
            metadata = consumer.list_topics(topic, timeout=10).topics[topic]
            counts[topic] = sum(
                consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in metadata.partitions
            )
        return counts
    finally:
        consumer.close()


def check_no_event_lost(
    cluster: ContainerSystem, confirmed: dict[str, str], within: float = 60.0
) -> dict[str, Any]:
    """Waits (up to `within` seconds: consumers catch up after the restarts) until every
    confirmed booking has its notification, email and my-page row, each class's seat count
    equals its confirmed bookings and nothing is PENDING; fails with what is missing. Then
    the dead-letter topics must be empty. Returns the figures checked."""
    deadline = time.monotonic() + within
    books = Books(cluster.database_urls.__getitem__)
    try:
        while True:
            lost = _lost(books.rows, confirmed)
            if not any(lost.values()) or time.monotonic() > deadline:
                break
            time.sleep(1)
    finally:
        books.close()
    assert not any(lost.values()), {k: v[:5] for k, v in lost.items() if v}
    dead = _dead_letters(cluster)
    assert not any(dead.values()), dead
    return {"confirmed_checked": len(confirmed), "dead_letters": sum(dead.values())}
