"""Helpers for the event tests: a real SMTP server, reading service tables, consumer lag."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from confluent_kafka import Consumer, KafkaException
from sqlalchemy import create_engine, text

from devtools import servers
from devtools.processes import free_port
from tests.integration.conftest import ALL, Clients, Stack, system_under_test
from tests.integration.support import a_class, request_id
from yoga.reservation.v1 import events_pb2 as rev
from yoga.reservation.v1 import reservation_pb2 as rpb
from yoga.yogaclass.v1 import yogaclass_pb2 as ypb
from yoga_common.settings import AuthSettings
from yoga_common.topics import CONSUMED, RESERVATION_EVENTS, consumer_lag

# A reservation event: each carries the reservation it is about.
ReservationEvent = rev.ReservationNoShow | rev.ReservationRescheduled | rev.ReservationConfirmed


class Mailbox:
    """A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.received: list[tuple[list[str], str, str]] = []  # (to, subject, message id)
        self._lock = threading.Lock()
        self._controller = Controller(self, hostname="127.0.0.1", port=port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content)
        with self._lock:
            self.received.append(
                (list(envelope.rcpt_tos), str(parsed["Subject"]), str(parsed["Message-ID"]))
            )
        return "250 OK"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def to(self, address: str) -> list[str]:
        with self._lock:
            return [subject for rcpt, subject, _ in self.received if address in rcpt]

    def message_ids(self) -> list[str]:
        with self._lock:
            return [mid for _, _, mid in self.received]


def rows(stack: Stack, service: str, query: str, **params: Any) -> list[tuple[Any, ...]]:
    engine = create_engine(stack.database_url(service))
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(query), params)]
    finally:
        engine.dispose()


def snapshot(stack: Stack, service: str, table: str, order: str) -> list[tuple[Any, ...]]:
    return rows(stack, service, f"SELECT * FROM {table} ORDER BY {order}")


def lag(stack: Stack, service: str) -> int:
    return consumer_lag(stack.kafka, f"{service}_svc", CONSUMED[service])


async def drained(stack: Stack, services: list[str], within: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        lags: dict[str, object]
        try:
            lags = {s: await asyncio.to_thread(lag, stack, s) for s in services}
            if not any(lags.values()):
                return
        except KafkaException as err:  # a broker just back may not coordinate groups yet
            lags = {"broker": str(err)}
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"consumers still behind: {lags}")
        await asyncio.sleep(0.2)


def events_of(
    stack: Stack,
    kind: type[ReservationEvent],
    ids: set[str],
    settle: float = 2.0,
    expected: set[str] | None = None,
) -> Counter[str]:
    """How many events of `kind` the reservation topic holds for each of `ids`: read until
    every one of `expected` (all of `ids` unless told) was seen, then `settle` seconds more,
    so a second event, or one for an id that should have none, would show."""
    settings = stack.kafka
    reader = Consumer(
        {
            **settings.client_config(),
            "group.id": f"events-reader-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
        }
    )
    reader.subscribe([settings.name(RESERVATION_EVENTS)])
    awaited = ids if expected is None else expected
    found: Counter[str] = Counter()
    deadline = time.monotonic() + 30.0
    settled_at: float | None = None
    try:
        while time.monotonic() < deadline:
            msg = reader.poll(0.2)
            if msg is not None and not msg.error():
                headers = {k: (v or b"").decode() for k, v in msg.headers() or []}  # type: ignore[union-attr]
                if headers.get("ce_type") == kind.DESCRIPTOR.full_name:
                    event = kind.FromString(msg.value())  # type: ignore[arg-type]
                    if event.reservation.reservation_id in ids:
                        found[event.reservation.reservation_id] += 1
            if settled_at is None and set(found) >= awaited:
                settled_at = time.monotonic() + settle
            if settled_at is not None and time.monotonic() > settled_at:
                break
        return found
    finally:
        reader.close()


def broker(command: str) -> None:
    """Stops or starts the broker the tests use (scripts/kafka.sh: KAFKA_PORT, KAFKA_DIR)."""
    servers.kafka(command)


async def new_class(c: Clients, capacity: int) -> ypb.YogaClass:
    title = f"Flow {uuid.uuid4().hex[:6]}"
    answer = await c.classes.CreateClass(
        ypb.CreateClassRequest(yoga_class=a_class(capacity, title=title)),
        metadata=c.stack.as_admin(),
    )
    return answer.yoga_class


async def book(c: Clients, class_id: str, user: str) -> rpb.Reservation:
    answer = await c.reservations.CreateReservation(
        rpb.CreateReservationRequest(class_id=class_id, request_id=request_id()),
        metadata=c.stack.as_user(user),
        timeout=60,
    )
    return answer.reservation


@contextmanager
def all_services(backend: str, auth: AuthSettings, folder: Path) -> Iterator[tuple[Stack, Mailbox]]:
    """The four services on `backend` with a real SMTP server that keeps what they send."""
    mailbox = Mailbox(free_port())
    mailbox.start()
    try:
        with system_under_test(
            backend, auth, folder, ALL, pending_grace=1.0, smtp_port=mailbox.port
        ) as stack:
            yield stack, mailbox
    finally:
        mailbox.stop()
