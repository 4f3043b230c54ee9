"""The transactional outbox: an event is a row written in the same transaction as the change it
reports, so it exists exactly when the change does. The relay publishes the rows in id order."""

from __future__ import annotations

import functools
import uuid

from google.protobuf.message import Message
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Index,
    Insert,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    insert,
    text,
)

from yoga_common.db import UtcDateTime, events_written
from yoga_common.telemetry import current_traceparent
from yoga_common.timestamps import utcnow

_UNSENT = text("sent_at IS NULL")


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox",
        metadata,
        Column(
            "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("topic", String(200), nullable=False),
        Column("event_key", String(200), nullable=False),
        Column("event_type", String(200), nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("traceparent", String(100)),
        Column("created_at", UtcDateTime, nullable=False),
        Column("sent_at", UtcDateTime),
        Index("ix_outbox_unsent", "id", sqlite_where=_UNSENT, postgresql_where=_UNSENT),
    )


def add_event(conn: Connection, table: Table, topic: str, key: str, event: Message) -> str:
    event_id = str(uuid.uuid4())
    events_written(conn)
    conn.execute(
        _insert(table),
        {
            "event_id": event_id,
            "topic": topic,
            "event_key": key,
            "event_type": event.DESCRIPTOR.full_name,
            "payload": event.SerializeToString(),
            # The trace of the change: the event's consumers continue it.
            "traceparent": current_traceparent(),
            "created_at": utcnow(),
        },
    )
    return event_id


@functools.cache
def _insert(table: Table) -> Insert:
    """Built once per table, as the hot paths' statements are: a statement built per call
    has its compilation cache key computed anew each time."""
    return insert(table)


def inbox_table(metadata: MetaData) -> Table:
    """The events a consumer has applied, written in the same transaction as their effect."""
    return Table(
        "inbox",
        metadata,
        Column("consumer", String(64), primary_key=True),
        Column("event_id", String(64), primary_key=True),
        Column("event_type", String(200), nullable=False),
        Column("applied_at", UtcDateTime, nullable=False),
        # Retention deletes the oldest rows (yoga_common/retention.py).
        Index("ix_inbox_applied", "applied_at"),
    )
