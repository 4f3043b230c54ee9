"""The consumer runtime every consuming service runs: one consumer group per service, dispatch by
`ce_type`, the effect and the inbox row in one unit of work (the service's handler calls its
service layer inside it), the offset stored only after it and
committed by the client every `commit_interval_seconds` (and when partitions are revoked or the
consumer closes), bounded retries, then the dead-letter topic with the error. A stop finishes
the messages in hand. A crash redelivers at most the last interval's messages, which the inbox
drops; committing after every message instead cost the broker and the consumer a round trip
per event (bench/).

A poll's worth of messages (up to `batch_size`, what the client already holds) is applied in
one transaction, each event with its inbox row: a transaction per event was most of a
consumer's cost in a burst (BENCHMARKS.md, profile). The first event that fails undoes the
batch's transaction: the events before it are applied again and commit (once), it is retried
alone and dead-lettered as a single message always was, and the events after it follow in the
next transaction, so each partition's events are still applied in their order."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka import Message as KafkaMessage
from google.protobuf.message import DecodeError, Message
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from yoga_common.db import is_transient, is_unavailable
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

# Seconds between tries of an event while its database cannot be reached.
UNAVAILABLE_PAUSE = 1.0

M = TypeVar("M", bound=Message)
S = TypeVar("S")


class InvalidEvent(Exception):
    """The event can never be applied (undecodable, or missing what the handler needs)."""


Apply = Callable[[UnitOfWork[S], Envelope, M], None]


@dataclass(frozen=True)
class Handler(Generic[S, M]):
    message_type: type[M]
    apply: Apply[S, M]


class _EventFailed(Exception):
    """The event at `index` of a batch failed with `error`; the batch's transaction is undone."""

    def __init__(self, index: int, error: Exception) -> None:
        super().__init__(index, error)
        self.index = index
        self.error = error


@dataclass
class _Ready:
    """A message of a batch, decoded: `found` is its handler and message, None if the event
    is not this consumer's; `new` once applied, False if its inbox row was there before."""

    msg: KafkaMessage
    envelope: Envelope
    found: tuple[Handler[Any, Any], Message] | None
    new: bool = False


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
        batch_size: int = 200,
    ) -> None:
        self.name = name
        self._batch = batch_size
        self._tx = tx
        self._inbox = inbox
        self._topics = list(topics)
        self._handlers = handlers
        self._settings = settings
        self._stop = threading.Event()
        self._dead_letters = producer(settings)
        # Built once: the statement of every event's inbox row. RETURNING, not rowcount:
        # psycopg reports -1 rows for this INSERT.
        insert = (sqlite.insert if tx.db.is_sqlite else postgresql.insert)(inbox)
        self._insert = insert.on_conflict_do_nothing().returning(inbox.c.event_id)

    async def run(self) -> None:
        worker = asyncio.ensure_future(asyncio.to_thread(self._loop))
        try:
            await asyncio.shield(worker)
        except asyncio.CancelledError:
            self._stop.set()
            await worker  # the messages in hand are finished and their offsets stored first
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
                # What else the client already holds, without waiting: a batch never delays
                # the event that opened it (consume() with a timeout waits for a full batch).
                more = consumer.consume(self._batch - 1, 0) if self._batch > 1 else []
                batch = []
                for m in [msg, *more]:
                    if m.error():
                        log.warning("consumer error", extra={"error": str(m.error())})
                    else:
                        batch.append(m)
                self._handle_batch(consumer, batch)
        finally:
            consumer.close()  # commits what is stored

    def _connect(self) -> Consumer:
        consumer = Consumer(
            {
                **self._settings.client_config(),
                "group.id": self._settings.name(self.name),
                # At-least-once with the client's own committer: it commits only the offsets
                # this loop stores, after their transaction commits.
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

    def _store(self, consumer: Consumer, done: Sequence[KafkaMessage]) -> None:
        """Marks the messages `done` (handled, their transaction committed); the client
        commits them with the next interval. Refused when the partition is no longer this
        member's (the group rebalanced, or dropped it during an outage): the new owner gets the
        messages again and its inbox drops them."""
        if not done:
            return
        last: dict[tuple[str, int], int] = {}
        for msg in done:
            key = (msg.topic() or "", msg.partition() or 0)
            last[key] = max(last.get(key, -1), msg.offset() or 0)
        # The next offset to read, as store_offsets(message=...) would store it.
        offsets = [TopicPartition(t, p, o + 1) for (t, p), o in last.items()]
        try:
            consumer.store_offsets(offsets=offsets)
        except KafkaException as err:
            log.warning("offset not stored", extra={"error": str(err)})

    def _handle_batch(self, consumer: Consumer, batch: list[KafkaMessage]) -> None:
        """Handles the messages of one poll in their order and stores the offsets of each
        run of them once its transaction committed; returns early only when stopping."""
        rest = batch
        while rest:
            count, failed = self._apply_run(rest)
            self._store(consumer, rest[:count])
            rest = rest[count:]
            if failed is None:
                continue
            # The first message of `rest` failed (its first attempt): alone from here, as a
            # message always was, with its retries and its dead letter.
            if not self._handle(rest[0], failed):
                return  # stopping: it and the rest come again to the next member
            self._store(consumer, rest[:1])
            rest = rest[1:]
            if self._stop.is_set():
                return

    def _apply_run(self, batch: list[KafkaMessage]) -> tuple[int, Exception | None]:
        """Applies the longest run of `batch` it can in one transaction: returns how many
        messages from the start are handled (applied, applied before, or not ours) and the
        error of the one after them, None if all are handled."""
        ready: list[_Ready] = []
        error: Exception | None = None
        for msg in batch:
            envelope = from_kafka(msg)
            try:
                found = self._prepare(envelope)
            except InvalidEvent as err:
                error = err
                break
            # None: another consumer's type on a shared topic, handled with the run it is in
            # (its offset waits for that run's commit).
            ready.append(_Ready(msg, envelope, found))
        if all(r.found is None for r in ready):
            return len(ready), error
        applied, failure = len(ready), error
        try:
            self._tx.run_sync(lambda uow: self._apply_all(uow, ready))
        except _EventFailed as failed:
            # Undone with its transaction: the events before the failed one are applied again,
            # now alone in a transaction of their own.
            applied, failure = failed.index, failed.error
            try:
                if applied:
                    self._tx.run_sync(lambda uow: self._apply_all(uow, ready[:applied]))
            except Exception as err:  # the transaction itself failed: nothing of it stayed
                return 0, err
        except Exception as err:  # the transaction itself failed: nothing of it stayed
            return 0, err
        for r in ready[:applied]:
            if r.found is not None and r.new:
                CONSUMER_APPLIED.labels(self.name, r.envelope.event_type).inc()
        return applied, failure

    def _apply_all(self, uow: UnitOfWork[S], ready: list[_Ready]) -> None:
        """Inside one transaction, every event of `ready` with its inbox row. No savepoint
        per event (two statements each, two round trips on PostgreSQL): an event that fails
        raises _EventFailed, which undoes the transaction."""
        for index, r in enumerate(ready):
            if r.found is None:
                continue
            with self._span(r.envelope) as span:
                try:
                    r.new = self._apply_once(uow, r.envelope, *r.found)
                except Exception as err:
                    if isinstance(err, DBAPIError) and is_transient(err):
                        raise  # the database's, not the event's: the transaction runs again
                    span.set_status(Status(StatusCode.ERROR, str(err)))
                    raise _EventFailed(index, err) from err

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

    def _span(self, envelope: Envelope) -> Any:
        """One CONSUMER span per message, a child of the change that caused the event (the
        `traceparent` header), so the consumer joins the request's trace."""
        return tracer.start_as_current_span(
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
        )

    def _handle(self, msg: KafkaMessage, first: Exception) -> bool:
        """A message whose first attempt (in its batch) failed with `first`: True once it is
        applied, skipped or dead-lettered; False if stopping first."""
        envelope = from_kafka(msg)
        with self._span(envelope) as span:
            done = self._attempts(msg, envelope, first)
            if not done:
                span.set_status(Status(StatusCode.ERROR, "stopped before the event was handled"))
            return done

    def _attempts(self, msg: KafkaMessage, envelope: Envelope, first: Exception) -> bool:
        """Retries the event `max_attempts` times, then dead-letters it. While the database
        cannot be reached the event is not at fault: it waits for the database without
        spending an attempt (a PostgreSQL restart once sent every event in hand to the
        dead-letter topic, and their notifications were never made)."""
        last_error: Exception = first
        if isinstance(first, InvalidEvent):
            return self._dead_letter(msg, envelope, first)
        attempt = 1
        while True:
            if is_unavailable(last_error):
                log.warning(
                    "database unavailable; the event waits for it",
                    extra={"event_id": envelope.event_id, "error": str(last_error)},
                )
                if self._stop.wait(UNAVAILABLE_PAUSE):
                    return False
            else:
                CONSUMER_RETRIES.labels(self.name).inc()
                log.warning(
                    "event failed; retrying",
                    extra={
                        "event_id": envelope.event_id,
                        "attempt": attempt,
                        "error": str(last_error),
                    },
                )
                if self._stop.wait(min(0.1 * 2**attempt, 2.0)):
                    return False
                attempt += 1
                if attempt > self._settings.max_attempts:
                    break
            try:
                if self.apply(envelope):
                    CONSUMER_APPLIED.labels(self.name, envelope.event_type).inc()
                return True
            except InvalidEvent as err:
                last_error = err
                break
            except Exception as err:
                last_error = err
        return self._dead_letter(msg, envelope, last_error)

    def apply(self, envelope: Envelope) -> bool:
        """Applies one event once, in its own transaction; returns False when it was applied
        before (or is not ours)."""
        found = self._prepare(envelope)
        if found is None:
            return False
        return self._tx.run_sync(lambda uow: self._apply_once(uow, envelope, *found))

    def _prepare(self, envelope: Envelope) -> tuple[Handler[S, Any], Message] | None:
        """The event's handler and decoded message; None if the event is not ours."""
        handler = self._handlers.by_type.get(envelope.event_type)
        if handler is None:
            return None  # another consumer's event on a shared topic
        if not envelope.event_id:
            raise InvalidEvent("no ce_id header")
        try:
            message = handler.message_type.FromString(envelope.payload)
        except DecodeError as err:
            raise InvalidEvent(f"not a {envelope.event_type}: {err}") from err
        return handler, message

    def _apply_once(
        self, uow: UnitOfWork[S], envelope: Envelope, handler: Handler[S, Any], message: Message
    ) -> bool:
        """The inbox row, then the effect, in the caller's transaction: False (nothing done)
        if the inbox already had the event."""
        new = uow.conn.execute(
            self._insert,
            {
                "consumer": self.name,
                "event_id": envelope.event_id,
                "event_type": envelope.event_type,
                "applied_at": utcnow(),
            },
        ).first()
        if new is None:
            return False
        handler.apply(uow, envelope, message)
        return True

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
