"""The outbox relay at rest costs nothing: it publishes when a commit of its process wrote
events, not by asking the database 20 times a second (issue 12 §3: yogaclass_svc and
reservation_svc each used about 4 % of a CPU doing nothing). A replica that finds the turn
taken asks again soon; rows the broker did not take are retried with backoff."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from yoga_common.relay import BUSY, UNACKED, OutboxRelay, Outcome
from yoga_common.settings import KafkaSettings


class FakeDatabase:
    is_sqlite = True

    def __init__(self) -> None:
        self.on_commit: list[Callable[[], None]] = []

    def on_events_committed(self, callback: Callable[[], None]) -> None:
        self.on_commit.append(callback)


def relay_answering(
    *answers: int | Outcome, reconnect_after: float = 30.0
) -> tuple[OutboxRelay, FakeDatabase, list[int]]:
    db = FakeDatabase()
    settings = KafkaSettings(
        bootstrap_servers="127.0.0.1:1", reconnect_after_seconds=reconnect_after
    )
    relay = OutboxRelay(db, None, "test", settings)  # type: ignore[arg-type]
    calls: list[int] = []
    queue = list(answers)

    def publish_batch() -> Any:
        calls.append(1)
        return queue.pop(0) if queue else 0

    relay.publish_batch = publish_batch  # type: ignore[method-assign]
    return relay, db, calls


async def until(check: Callable[[], bool], within: float) -> bool:
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def test_an_idle_relay_waits_for_a_commit_that_wrote_events() -> None:
    relay, db, calls = relay_answering()
    task = asyncio.create_task(relay.run())
    try:
        await asyncio.sleep(0.5)
        assert len(calls) == 1  # the first pass only: nothing was committed since
        db.on_commit[0]()
        # Woken at once, well before the idle poll (5 s) would have come.
        assert await until(lambda: len(calls) == 2, within=3.0)
    finally:
        task.cancel()


async def test_a_busy_turn_is_asked_again_soon() -> None:
    relay, _db, calls = relay_answering(BUSY, BUSY)
    task = asyncio.create_task(relay.run())
    try:
        assert await until(lambda: len(calls) == 3, within=3.0)
    finally:
        task.cancel()


async def test_a_producer_that_acknowledges_nothing_for_too_long_is_replaced() -> None:
    """A client that lost every broker never finds one again by itself (librdkafka#5301)."""
    relay, _db, calls = relay_answering(UNACKED, UNACKED, UNACKED, reconnect_after=0.3)
    stuck = relay._producer
    task = asyncio.create_task(relay.run())
    try:
        assert await until(lambda: len(calls) == 4, within=5.0)
        assert relay._producer is not stuck
    finally:
        task.cancel()


async def test_a_producer_that_only_waits_briefly_is_kept() -> None:
    relay, _db, calls = relay_answering(UNACKED, 1, UNACKED, 1, reconnect_after=30.0)
    kept = relay._producer
    task = asyncio.create_task(relay.run())
    try:
        assert await until(lambda: len(calls) == 5, within=5.0)
        assert relay._producer is kept
    finally:
        task.cancel()
