"""The outbox relay: publishes outbox rows in id order with the idempotent producer
(`acks=all`) and marks a row sent only after the broker acknowledged it. While the broker is
away rows wait, and are sent when it is back; a row published twice (a crash between the
acknowledgement and the mark) is dropped by the consumers' inbox.

One transaction per batch: on PostgreSQL the batch is read, published and marked inside the
transaction that holds the turn; on SQLite, which must not hold its single write lock while
the broker answers, the rows acknowledged in one pass are marked in the transaction that reads
the next batch (a read and a separate mark transaction per batch were a third of the relay's
cost: BENCHMARKS.md, profile)."""

from __future__ import annotations

import asyncio
import logging
import zlib
from datetime import datetime
from enum import Enum
from functools import cached_property
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from sqlalchemy import Connection, Row, Select, Table, Update, bindparam, func, select, text, update

from yoga_common.db import Database
from yoga_common.events import headers
from yoga_common.metrics import (
    OUTBOX_PRODUCER_RECONNECTS,
    OUTBOX_PUBLISH_SECONDS,
    OUTBOX_PUBLISHED,
    OUTBOX_UNSENT,
)
from yoga_common.settings import KafkaSettings
from yoga_common.stall import Stall
from yoga_common.timestamps import utcnow
from yoga_common.wakeup import Wakeup

log = logging.getLogger(__name__)

# Replicas on PostgreSQL take turns: one relay at a time keeps the order of each key.
_TURN = text("SELECT pg_try_advisory_xact_lock(:key)")
# How long acknowledged rows may wait for their mark (SQLite) when no new rows come to share
# the next pass's transaction; a crash meanwhile publishes them again, and the inbox drops them.
MARK_DELAY_SECONDS = 0.1


def producer(settings: KafkaSettings, **extra: Any) -> Producer:
    return Producer(
        {
            **settings.client_config(),
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 2,
            "message.timeout.ms": int(settings.delivery_timeout_seconds * 1000),
            **extra,
        }
    )


class Outcome(Enum):
    BUSY = "another replica has the turn"
    UNACKED = "rows wait: the broker acknowledged none"


BUSY, UNACKED = Outcome.BUSY, Outcome.UNACKED


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        table: Table,
        source: str,
        settings: KafkaSettings,
        batch_size: int = 500,
        idle_seconds: float = 5.0,
        busy_seconds: float = 0.05,
    ) -> None:
        self._db = db
        self._table = table
        self._source = source
        self._settings = settings
        self._batch = batch_size
        # A commit of this process that wrote events wakes the relay; the idle poll only finds
        # rows a crashed process left. It polled 20 times a second once: 4 % of a CPU idle.
        self._idle = idle_seconds
        # Another replica holds the turn (PostgreSQL): ask again soon, its batch may have been
        # read before this process's rows were committed.
        self._busy = busy_seconds
        self._producer = producer(settings)
        self._wakeup = Wakeup()
        db.on_events_committed(self._wakeup.set)
        self._lock_key = zlib.crc32(f"outbox:{source}".encode())
        # SQLite: ids the broker acknowledged, marked by the next pass's transaction.
        self._acked: list[int] = []
        # The last pass found fewer rows than a batch: what is committed later wakes the relay,
        # so it waits instead of reading an empty table again.
        self._drained = False

    @cached_property
    def _statements(self) -> tuple[Select[Any], Update, Select[Any]]:
        """Built once: the next unsent rows, the mark of acknowledged ones, the backlog."""
        t = self._table
        unsent = select(t).where(t.c.sent_at.is_(None)).order_by(t.c.id).limit(self._batch)
        mark = (
            update(t)
            .where(t.c.id.in_(bindparam("ids", expanding=True)))
            .values(sent_at=bindparam("sent_at", type_=t.c.sent_at.type))
        )
        backlog = select(func.count()).select_from(t).where(t.c.sent_at.is_(None))
        return unsent, mark, backlog

    async def run(self) -> None:
        failures = 0
        unacked = Stall(self._settings.reconnect_after_seconds)
        while True:
            try:
                sent = await asyncio.to_thread(self.publish_batch)
            except asyncio.CancelledError:
                raise
            except Exception as err:
                log.warning("outbox publish failed; rows wait", extra={"error": str(err)})
                sent = UNACKED
            if sent is BUSY:
                await asyncio.sleep(self._busy)
            elif sent is UNACKED:
                failures += 1  # the broker or the database is away: rows wait, with backoff
                if unacked.overdue(healthy=False):
                    self._reconnect()
                await asyncio.sleep(min(0.2 * 2**failures, 5.0))
            else:
                unacked.overdue(healthy=True)
                failures = 0
                if sent == 0 or self._drained:
                    try:
                        await self._wakeup.wait(MARK_DELAY_SECONDS if self._acked else self._idle)
                    except asyncio.CancelledError:
                        self._mark_acked()
                        raise

    def _mark_acked(self) -> None:
        """On stop (SQLite): the acknowledged rows no pass has marked yet, so a restart does not
        publish them again. Best effort: if it fails they are published again, which is safe."""
        if not self._acked:
            return
        try:
            self._db.run_sync(lambda conn: self._mark(conn, self._acked))
            self._acked = []
        except Exception as err:
            log.warning("acknowledged rows not marked", extra={"error": str(err)})

    def _reconnect(self) -> None:
        """A new producer in place of one that has acknowledged nothing for too long: a client
        that lost every broker never finds one again by itself (yoga_common/stall.py)."""
        OUTBOX_PRODUCER_RECONNECTS.inc()
        log.warning(
            "no acknowledgement for too long; a new producer bootstraps again",
            extra={"after_seconds": self._settings.reconnect_after_seconds},
        )
        self._producer = producer(self._settings)

    def publish_batch(self) -> int | Outcome:
        """Publishes the oldest unsent rows; returns how many the broker acknowledged, BUSY if
        another replica has the turn, UNACKED if rows wait and the broker took none."""
        self._drained = False
        if self._db.is_sqlite:
            # Never hold SQLite's single write lock while waiting on the broker: the rows
            # acknowledged last pass are marked in the transaction that reads this batch.
            marks = self._acked

            def mark_and_read(conn: Connection) -> list[Row[Any]]:
                self._mark(conn, marks)
                return self._unsent(conn)

            rows = self._db.run_sync(mark_and_read, write=bool(marks))
            self._acked = []
            acked = self._send(rows)
            self._acked = acked
        else:
            with self._db.transaction() as conn:
                if not conn.execute(_TURN, {"key": self._lock_key}).scalar():
                    return BUSY
                rows = self._unsent(conn)
                acked = self._send(rows)
                self._mark(conn, acked)
        self._measure(rows, acked)
        if rows and not acked:
            return UNACKED
        # Rows the broker refused are tried again at once (then with backoff), not at the idle
        # poll.
        self._drained = len(rows) < self._batch and len(acked) == len(rows)
        return len(acked)

    def _measure(self, rows: list[Row[Any]], acked: list[int]) -> None:
        """The backlog gauge: what this pass found minus what it sent (counted when the batch
        was full, since more rows may be waiting behind it)."""
        if len(rows) < self._batch:
            OUTBOX_UNSENT.set(len(rows) - len(acked))
        else:
            query = self._statements[2]
            backlog = self._db.run_sync(lambda c: c.execute(query).scalar_one(), False)
            # Rows acknowledged but not marked yet (SQLite) are not waiting.
            OUTBOX_UNSENT.set(max(backlog - len(self._acked), 0))

    def _unsent(self, conn: Connection) -> list[Row[Any]]:
        return list(conn.execute(self._statements[0]))

    def _send(self, rows: list[Row[Any]]) -> list[int]:
        if not rows:
            return []
        acked: list[int] = []
        errors: list[KafkaError] = []

        def report(row_id: int, topic: str, created: datetime) -> Any:
            def on_delivery(err: KafkaError | None, _msg: Message) -> None:
                if err is None:
                    acked.append(row_id)
                    OUTBOX_PUBLISHED.labels(topic).inc()
                    OUTBOX_PUBLISH_SECONDS.observe((utcnow() - created).total_seconds())
                else:
                    errors.append(err)

            return on_delivery

        for row in rows:
            m = row._mapping
            try:
                self._produce(m, report(m["id"], m["topic"], m["created_at"]))
            except BufferError as err:
                # The client's queue is full: this row and the rest wait for the next pass, in
                # their order (a later row of the same key must not overtake this one).
                errors.append(KafkaError(KafkaError._QUEUE_FULL, str(err)))
                break
            except KafkaException as err:
                # Refused for this row alone (a topic the broker does not know, a message too
                # large): it stays unsent, and its neighbours go on.
                errors.append(err.args[0])
            self._producer.poll(0)
        self._producer.flush(self._settings.delivery_timeout_seconds + 5)
        if errors:
            log.warning(
                "broker did not acknowledge every event",
                extra={"acked": len(acked), "failed": len(errors), "error": str(errors[0])},
            )
        return acked

    def _produce(self, m: Any, on_delivery: Any) -> None:
        self._producer.produce(
            self._settings.name(m["topic"]),
            key=m["event_key"].encode(),
            value=m["payload"],
            headers=headers(
                m["event_id"], m["event_type"], self._source, m["created_at"], m["traceparent"]
            ),
            on_delivery=on_delivery,
        )

    def _mark(self, conn: Connection, acked: list[int]) -> None:
        if acked:
            conn.execute(self._statements[1], {"ids": acked, "sent_at": utcnow()})
