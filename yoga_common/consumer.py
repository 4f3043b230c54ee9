"""The consumer runtime every consuming service runs: one consumer group per service, dispatch by
`ce_type`, the effect and the inbox row in one unit of work (the service's handler calls its
service layer inside it), the offset stored only after it and
committed by the client every `commit_interval_seconds` (and when partitions are revoked or the
consumer closes), bounded retries, then the dead-letter topic with the error. A stop finishes
the message in hand. A crash redelivers at most the last interval's messages, which the inbox
drops; committing after every message instead cost the broker and the consumer a round trip
per event (bench/)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from confluent_kafka import Consumer, KafkaException
from confluent_kafka import Message as KafkaMessage
from google.protobuf.message import DecodeError, Message
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite

from yoga_common.events import Envelope, from_kafka
from yoga_common.metrics import (
    CONSUMER_APPLIED,
    CONSUMER_DEAD_LETTERS,
    CONSUMER_LAG,
    CONSUMER_RECONNECTS,
    CONSUMER_RETRIES,
)
from yoga_common.relay import producer
from yoga_common.settings import KafkaSettings
from yoga_common.stall import Stall
from yoga_common.telemetry import context_from
from yoga_common.timestamps import utcnow
from yoga_common.topics import dead_letter_topic
from yoga_common.uow import Transactions, UnitOfWork

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

M = TypeVar("M", bound=Message)
S = TypeVar("S")


class InvalidEvent(Exception):
    """The event can never be applied (undecodable, or missing what the handler needs)."""


Apply = Callable[[UnitOfWork[S], Envelope, M], None]


@dataclass(frozen=True)
class Handler(Generic[S, M]):
    message_type: type[M]
    apply: Apply[S, M]


class Handlers(Generic[S]):
    """Event type (protobuf full name) -> what to do with it, inside the consumer's unit of
    work: a handler maps the message to the domain and calls the service layer, as a servicer
    does for a command."""

    def __init__(self) -> None:
        self.by_type: dict[str, Handler[S, Any]] = {}

    def on(self, message_type: type[M]) -> Callable[[Apply[S, M]], Apply[S, M]]:
        def register(apply: Apply[S, M]) -> Apply[S, M]:
            self.by_type[message_type.DESCRIPTOR.full_name] = Handler(message_type, apply)
            return apply

        return register


class EventConsumer(Generic[S]):
    def __init__(
        self,
        name: str,
        tx: Transactions[S],
        inbox: Table,
        topics: Sequence[str],
        handlers: Handlers[S],
        settings: KafkaSettings,
    ) -> None:
        self.name = name
        self._tx = tx
        self._inbox = inbox
        self._topics = list(topics)
        self._handlers = handlers
        self._settings = settings
        self._stop = threading.Event()
        self._dead_letters = producer(settings)
        self._insert = (sqlite.insert if tx.db.is_sqlite else postgresql.insert)(inbox)

    async def run(self) -> None:
        worker = asyncio.ensure_future(asyncio.to_thread(self._loop))
        try:
            await asyncio.shield(worker)
        except asyncio.CancelledError:
            self._stop.set()
            await worker  # the message in hand is finished and its offset committed first
            raise

    def _loop(self) -> None:
        consumer = self._connect()
        outside = Stall(self._settings.reconnect_after_seconds)
        measured = 0.0
        try:
            while not self._stop.is_set():
                if time.monotonic() - measured >= self._settings.lag_interval_seconds:
                    self._measure_lag(consumer)
                    measured = time.monotonic()
                    if outside.overdue(healthy=bool(consumer.memberid())):
                        consumer = self._reconnect(consumer)
                msg = consumer.poll(0.2)
                if msg is None:
                    continue
                if msg.error():
                    log.warning("consumer error", extra={"error": str(msg.error())})
                    continue
                if self._handle(msg):
                    self._store(consumer, msg)
        finally:
            consumer.close()  # commits what is stored

    def _connect(self) -> Consumer:
        consumer = Consumer(
            {
                **self._settings.client_config(),
                "group.id": self._settings.name(self.name),
                # At-least-once with the client's own committer: it commits only the offsets
                # this loop stores, after each message's transaction.
                "enable.auto.commit": True,
                "enable.auto.offset.store": False,
                "auto.commit.interval.ms": int(self._settings.commit_interval_seconds * 1000),
                "auto.offset.reset": "earliest",
                "session.timeout.ms": 10_000,
            }
        )
        consumer.subscribe([self._settings.name(t) for t in self._topics])
        return consumer

    def _reconnect(self, stuck: Consumer) -> Consumer:
        """A new client in place of one that has been outside its group too long (a broker
        outage, or the client lost every broker: yoga_common/stall.py). The new member starts
        from the group's committed offsets; what the old one applied since comes again and the
        inbox drops it. The old client is closed aside: a client with no broker can wait on its
        pending commit for minutes."""
        CONSUMER_RECONNECTS.labels(self.name).inc()
        log.warning(
            "consumer outside its group too long; a new client bootstraps again",
            extra={"after_seconds": self._settings.reconnect_after_seconds},
        )
        threading.Thread(target=stuck.close, name=f"close-{self.name}", daemon=True).start()
        return self._connect()

    def _store(self, consumer: Consumer, msg: KafkaMessage) -> None:
        """Marks `msg` done; the client commits it with the next interval. Refused when the
        partition is no longer this member's (the group rebalanced, or dropped it during an
        outage): the new owner gets the message again and its inbox drops it."""
        try:
            consumer.store_offsets(message=msg)
        except KafkaException as err:
            log.warning("offset not stored", extra={"error": str(err)})

    def _measure_lag(self, consumer: Consumer) -> None:
        """Sets the lag gauge of each topic: on the partitions assigned to this consumer, the
        messages between its position and the high watermark. Both are what the client already
        holds (the watermark comes with every fetch), so measuring asks the broker nothing:
        asking it (committed offsets, watermarks) blocked this loop for about 100 ms a
        partition, and every event arriving meanwhile waited (bench/, event latency).
        A partition the client knows no watermark of yet is left out."""
        names = {self._settings.name(t): t for t in self._topics}
        try:
            lag = dict.fromkeys(self._topics, 0)
            for tp in consumer.position(consumer.assignment()):
                marks = consumer.get_watermark_offsets(tp, cached=True)
                if marks is None or marks[1] < 0 or tp.offset < 0:
                    continue
                lag[names.get(tp.topic, tp.topic)] += max(marks[1] - tp.offset, 0)
        except KafkaException as err:
            log.debug("lag not measured", extra={"error": str(err)})
            return
        for topic, value in lag.items():
            CONSUMER_LAG.labels(self.name, topic).set(value)

    def _handle(self, msg: KafkaMessage) -> bool:
        """True once the message is applied, skipped or dead-lettered; False if stopping first.
        One CONSUMER span per message, a child of the change that caused the event (the
        `traceparent` header), so the consumer joins the request's trace."""
        envelope = from_kafka(msg)
        with tracer.start_as_current_span(
            f"process {envelope.topic}",
            context=context_from(envelope.traceparent),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.destination.name": envelope.topic,
                "messaging.destination.partition.id": str(envelope.partition),
                "messaging.kafka.offset": envelope.offset,
                "messaging.consumer.group.name": self._settings.name(self.name),
                "messaging.message.id": envelope.event_id,
                "cloudevents.event_type": envelope.event_type,
            },
        ) as span:
            done = self._attempts(msg, envelope)
            if not done:
                span.set_status(Status(StatusCode.ERROR, "stopped before the event was handled"))
            return done

    def _attempts(self, msg: KafkaMessage, envelope: Envelope) -> bool:
        last_error: Exception | None = None
        for attempt in range(1, self._settings.max_attempts + 1):
            try:
                if self.apply(envelope):
                    CONSUMER_APPLIED.labels(self.name, envelope.event_type).inc()
                return True
            except InvalidEvent as err:
                last_error = err
                break
            except Exception as err:
                last_error = err
                CONSUMER_RETRIES.labels(self.name).inc()
                log.warning(
                    "event failed; retrying",
                    extra={"event_id": envelope.event_id, "attempt": attempt, "error": str(err)},
                )
                if self._stop.wait(min(0.1 * 2**attempt, 2.0)):
                    return False
        assert last_error is not None
        return self._dead_letter(msg, envelope, last_error)

    def apply(self, envelope: Envelope) -> bool:
        """Applies one event once; returns False when it was applied before (or is not ours)."""
        handler = self._handlers.by_type.get(envelope.event_type)
        if handler is None:
            return False  # another consumer's event on a shared topic
        if not envelope.event_id:
            raise InvalidEvent("no ce_id header")
        try:
            message = handler.message_type.FromString(envelope.payload)
        except DecodeError as err:
            raise InvalidEvent(f"not a {envelope.event_type}: {err}") from err

        def work(uow: UnitOfWork[S]) -> bool:
            new = uow.conn.execute(
                self._insert.values(
                    consumer=self.name,
                    event_id=envelope.event_id,
                    event_type=envelope.event_type,
                    applied_at=utcnow(),
                )
                .on_conflict_do_nothing()
                # RETURNING, not rowcount: psycopg reports -1 rows for this INSERT.
                .returning(self._inbox.c.event_id)
            ).first()
            if new is None:
                return False
            handler.apply(uow, envelope, message)
            return True

        return self._tx.run_sync(work)

    def _dead_letter(self, msg: KafkaMessage, envelope: Envelope, error: Exception) -> bool:
        topic = self._settings.name(dead_letter_topic(self.name))
        original = msg.headers()
        kept = list(original.items()) if isinstance(original, dict) else list(original or [])
        extra: list[tuple[str, str | bytes | None]] = [
            ("dlt_error", f"{type(error).__name__}: {error}".encode()),
            ("dlt_consumer", self.name.encode()),
            ("dlt_topic", envelope.topic.encode()),
            ("dlt_partition", str(envelope.partition).encode()),
            ("dlt_offset", str(envelope.offset).encode()),
        ]
        while not self._stop.is_set():
            try:
                self._dead_letters.produce(
                    topic, key=msg.key(), value=msg.value(), headers=kept + extra
                )
                if self._dead_letters.flush(self._settings.delivery_timeout_seconds) == 0:
                    CONSUMER_DEAD_LETTERS.labels(self.name).inc()
                    trace.get_current_span().set_status(Status(StatusCode.ERROR, str(error)))
                    log.error(
                        "event dead-lettered",
                        extra={"event_id": envelope.event_id, "topic": topic, "error": str(error)},
                    )
                    return True
            except KafkaException as err:
                log.warning("dead-letter publish failed", extra={"error": str(err)})
            time.sleep(1.0)
        return False
