"""A Kafka client that lost every broker is replaced (yoga_common/stall.py): the clock that
says when, and the consumer loop that acts on it (issue 12 §1)."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Column, MetaData, String, Table

from yoga_common.consumer import EventConsumer, Handlers
from yoga_common.settings import KafkaSettings
from yoga_common.stall import Stall


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_overdue_only_after_the_whole_interval_without_health() -> None:
    clock = Clock()
    stall = Stall(30.0, clock)
    assert not stall.overdue(healthy=False)
    clock.now = 29.0
    assert not stall.overdue(healthy=False)
    clock.now = 30.0
    assert stall.overdue(healthy=False)
    # The replacement gets the whole interval again.
    clock.now = 31.0
    assert not stall.overdue(healthy=False)
    clock.now = 60.0
    assert stall.overdue(healthy=False)


def test_health_in_between_starts_the_clock_again() -> None:
    clock = Clock()
    stall = Stall(30.0, clock)
    assert not stall.overdue(healthy=False)
    clock.now = 20.0
    assert not stall.overdue(healthy=True)
    clock.now = 45.0
    assert not stall.overdue(healthy=False)
    clock.now = 74.0
    assert not stall.overdue(healthy=False)
    clock.now = 75.0
    assert stall.overdue(healthy=False)


class FakeClient:
    """A consumer client that is, or is not, a member of its group and has no messages."""

    def __init__(self, member: str, made: list[FakeClient], enough: threading.Event) -> None:
        self.member = member
        self.closed = threading.Event()
        made.append(self)
        if len(made) >= 2:
            enough.set()

    def memberid(self) -> str:
        return self.member

    def poll(self, timeout: float) -> None:
        return None

    def assignment(self) -> list[Any]:
        return []

    def position(self, partitions: list[Any]) -> list[Any]:
        return []

    def close(self) -> None:
        self.closed.set()


def consumer_with(members: list[str]) -> tuple[EventConsumer[Any], list[FakeClient]]:
    settings = KafkaSettings(
        bootstrap_servers="127.0.0.1:1", reconnect_after_seconds=0.0, lag_interval_seconds=0.0
    )
    tx: Any = SimpleNamespace(db=SimpleNamespace(is_sqlite=True))
    inbox = Table("inbox", MetaData(), Column("event_id", String, primary_key=True))
    consumer: EventConsumer[Any] = EventConsumer("test", tx, inbox, ["t"], Handlers(), settings)
    made: list[FakeClient] = []
    enough = threading.Event()
    queue = list(members)

    def connect() -> FakeClient:
        client = FakeClient(queue.pop(0) if queue else "member-n", made, enough)
        if enough.is_set():
            consumer._stop.set()
        return client

    consumer._connect = connect  # type: ignore[method-assign,assignment]
    return consumer, made


def test_a_consumer_outside_its_group_too_long_gets_a_new_client() -> None:
    consumer, made = consumer_with(["", "member-2"])
    worker = threading.Thread(target=consumer._loop)
    worker.start()
    worker.join(5.0)
    assert not worker.is_alive()
    assert len(made) == 2
    assert made[0].closed.wait(5.0), "the stuck client is closed aside"
    assert made[1].closed.is_set(), "the new client is closed when the loop stops"


def test_a_member_of_its_group_keeps_its_client() -> None:
    consumer, made = consumer_with(["member-1"])
    worker = threading.Thread(target=consumer._loop)
    worker.start()
    threading.Event().wait(0.5)
    consumer._stop.set()
    worker.join(5.0)
    assert len(made) == 1
