"""The outbox relay: publishes outbox rows in id order with the idempotent producer
(`acks=all`) and marks a row sent only after the broker acknowledged it. While the broker is
away rows wait, and are sent when it is back; a row published twice (a crash between the
acknowledgement and the mark) is dropped by the consumers' inbox."""

from __future__ import annotations

import asyncio
import logging
import zlib
from datetime import datetime
from enum import Enum
from typing import Any

from confluent_kafka import KafkaError, Message, Producer
from sqlalchemy import Connection, Row, Table, func, select, text, update

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
        # Replicas on PostgreSQL take turns: one relay at a time keeps the order of each key.
        self._lock_key = zlib.crc32(f"outbox:{source}".encode())

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
                if sent == 0:
                    await self._wakeup.wait(self._idle)

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
        if self._db.is_sqlite:
            # Never hold SQLite's single write lock while waiting on the broker.
            rows = self._db.run_sync(self._unsent, write=False)
            acked = self._send(rows)
            self._db.run_sync(lambda conn: self._mark(conn, acked))
            self._measure(rows, acked)
            return UNACKED if rows and not acked else len(acked)
        with self._db.transaction() as conn:
            lock = text("SELECT pg_try_advisory_xact_lock(:key)")
            if not conn.execute(lock, {"key": self._lock_key}).scalar():
                return BUSY
            rows = self._unsent(conn)
            acked = self._send(rows)
            self._mark(conn, acked)
        self._measure(rows, acked)
        return UNACKED if rows and not acked else len(acked)

    def _measure(self, rows: list[Row[Any]], acked: list[int]) -> None:
        """The backlog gauge: what this pass found minus what it sent (counted when the batch
        was full, since more rows may be waiting behind it)."""
        if len(rows) < self._batch:
            OUTBOX_UNSENT.set(len(rows) - len(acked))
        else:
            t = self._table
            query = select(func.count()).select_from(t).where(t.c.sent_at.is_(None))
            OUTBOX_UNSENT.set(self._db.run_sync(lambda c: c.execute(query).scalar_one(), False))

    def _unsent(self, conn: Connection) -> list[Row[Any]]:
        t = self._table
        query = select(t).where(t.c.sent_at.is_(None)).order_by(t.c.id).limit(self._batch)
        return list(conn.execute(query))

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
            self._producer.produce(
                self._settings.name(m["topic"]),
                key=m["event_key"].encode(),
                value=m["payload"],
                headers=headers(
                    m["event_id"], m["event_type"], self._source, m["created_at"], m["traceparent"]
                ),
                on_delivery=report(m["id"], m["topic"], m["created_at"]),
            )
            self._producer.poll(0)
        self._producer.flush(self._settings.delivery_timeout_seconds + 5)
        if errors:
            log.warning(
                "broker did not acknowledge every event",
                extra={"acked": len(acked), "failed": len(errors), "error": str(errors[0])},
            )
        return acked

    def _mark(self, conn: Connection, acked: list[int]) -> None:
        if acked:
            t = self._table
            conn.execute(update(t).where(t.c.id.in_(acked)).values(sent_at=utcnow()))
