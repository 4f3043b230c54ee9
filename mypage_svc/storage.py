"""Everything mypage_svc keeps: one row per reservation and per class, as their latest events
told them, and the inbox of applied events. `MyPageStore` works inside the caller's
transaction (a unit of work): queries and atomic primitives, no rules. No outbox: it produces
nothing.

A fact is written by one conditional upsert that updates only when the incoming version is newer
(`domain.supersedes`), so redelivered, replayed or reordered events, even applied by concurrent
consumers, never turn a row back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    Index,
    MetaData,
    Row,
    String,
    Table,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from mypage_svc.domain import (
    ClassInfo,
    ClassView,
    PageEntry,
    Reason,
    ReservationView,
    Status,
    newest_class_first,
    page_entry,
)
from yoga_common.db import UtcDateTime
from yoga_common.outbox import inbox_table

metadata = MetaData()

reservations = Table(
    "reservations",
    metadata,
    Column("reservation_id", String(64), primary_key=True),
    Column("class_id", String(64), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", String(32), nullable=False),
    # The reservation's own snapshot of the class, shown until a class event is seen.
    Column("class_title", String(200), nullable=False),
    Column("class_start_time", UtcDateTime),
    Column("class_end_time", UtcDateTime),
    Column("update_time", UtcDateTime, nullable=False),
    Column("version", BigInteger, nullable=False),
    CheckConstraint(
        "status IN ('PENDING', 'CONFIRMED', 'REJECTED', 'CANCELLED')", name="ck_reservations_status"
    ),
    Index("ix_reservations_user", "user_id"),
)

classes = Table(
    "classes",
    metadata,
    Column("class_id", String(64), primary_key=True),
    Column("title", String(200), nullable=False),
    Column("start_time", UtcDateTime, nullable=False),
    Column("end_time", UtcDateTime, nullable=False),
    Column("cancelled", Boolean, nullable=False),
    Column("version", BigInteger, nullable=False),
)

inbox = inbox_table(metadata)


def _reservation_columns(r: ReservationView) -> dict[str, Any]:
    return {
        "reservation_id": r.reservation_id,
        "class_id": r.class_id,
        "user_id": r.user_id,
        "status": r.status.value,
        "reason": r.reason.value,
        "class_title": r.class_info.title,
        "class_start_time": r.class_info.start_time,
        "class_end_time": r.class_info.end_time,
        "update_time": r.update_time,
        "version": r.version,
    }


def _class_columns(c: ClassView) -> dict[str, Any]:
    return {
        "class_id": c.class_id,
        "title": c.title,
        "start_time": c.start_time,
        "end_time": c.end_time,
        "cancelled": c.cancelled,
        "version": c.version,
    }


_PAGE = select(
    reservations,
    classes.c.title.label("known_title"),
    classes.c.start_time.label("known_start_time"),
    classes.c.end_time.label("known_end_time"),
    classes.c.cancelled.label("known_cancelled"),
    classes.c.version.label("known_version"),
).select_from(reservations.outerjoin(classes, classes.c.class_id == reservations.c.class_id))


def _to_entry(row: Row[Any]) -> PageEntry:
    m = row._mapping
    reservation = ReservationView(
        reservation_id=m["reservation_id"],
        class_id=m["class_id"],
        user_id=m["user_id"],
        status=Status(m["status"]),
        reason=Reason(m["reason"]),
        class_info=ClassInfo(m["class_title"], m["class_start_time"], m["class_end_time"]),
        update_time=m["update_time"],
        version=m["version"],
    )
    known = None
    if m["known_version"] is not None:
        known = ClassView(
            class_id=m["class_id"],
            title=m["known_title"],
            start_time=m["known_start_time"],
            end_time=m["known_end_time"],
            cancelled=m["known_cancelled"],
            version=m["known_version"],
        )
    return page_entry(reservation, known)


class MyPageStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def save_reservation(self, r: ReservationView) -> bool:
        """Stores the reservation unless a newer version is held; True if it was written."""
        return _upsert(self._conn, reservations, _reservation_columns(r))

    def save_class(self, c: ClassView) -> bool:
        """Stores the class unless a newer version is held; True if it was written."""
        return _upsert(self._conn, classes, _class_columns(c))

    def page(self, user_id: str) -> list[PageEntry]:
        query = _PAGE.where(reservations.c.user_id == user_id)
        return newest_class_first(_to_entry(row) for row in self._conn.execute(query))


def _upsert(conn: Connection, table: Table, values: dict[str, Any]) -> bool:
    """Insert, or update only when the held version is older: one statement, no read first.
    RETURNING tells whether a row was written (the driver's rowcount of an INSERT is not kept)."""
    key = [column.name for column in table.primary_key]
    dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
    stmt = dialect.insert(table).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=key,
        set_={name: stmt.excluded[name] for name in values if name not in key},
        where=table.c.version < stmt.excluded.version,
    )
    return conn.execute(stmt.returning(table.c.version)).first() is not None
