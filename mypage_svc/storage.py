"""Everything mypage_svc keeps: one row per reservation and per class, as their latest events
told them, and the inbox of applied events. `MyPageStore` works inside the caller's
transaction (a unit of work): queries and atomic primitives, no rules. No outbox: it produces
nothing.

A fact is written by one conditional upsert that updates only when the incoming version is newer
(`domain.supersedes`), so redelivered, replayed or reordered events, even applied by concurrent
consumers, never turn a row back.

A reservation row holds its class as the page shows it (`domain.with_class`): written with the
reservation, and rewritten on every row of the class when the class changes. So a page is read
from the reservations alone, in its order, from one index: (user, class start, reservation).

A WAITLISTED row keeps its ticket; its place in the queue is counted when the page is read
(`waiting_ahead`, on the index (class, status, ticket)), so it stays right as people ahead
leave."""

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
    bindparam,
    false,
    func,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from mypage_svc.domain import (
    ClassInfo,
    ClassView,
    PageEntry,
    PagePosition,
    Phase,
    Reason,
    ReservationView,
    Status,
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
    # The class as the page shows it: as its own latest event told it once one was seen, the
    # reservation's snapshot until then. No time when the class was never found.
    Column("class_title", String(200), nullable=False),
    Column("class_start_time", UtcDateTime),
    Column("class_end_time", UtcDateTime),
    Column("update_time", UtcDateTime, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("promoted", Boolean, nullable=False, server_default=false()),
    Column("check_in_time", UtcDateTime),
    Column("class_time_zone", String(64), nullable=False, server_default=""),
    # The queue's running number of a reservation that waited (NULL if it never did).
    Column("waitlist_ticket", BigInteger),
    CheckConstraint(
        "status IN ('PENDING', 'CONFIRMED', 'REJECTED', 'CANCELLED', 'WAITLISTED', 'EXPIRED',"
        " 'ATTENDED', 'NO_SHOW')",
        name="ck_reservations_status",
    ),
    # GetMyPage's keyset orders (domain.Phase): every page seeks this index.
    Index("ix_reservations_page", "user_id", "class_start_time", "reservation_id"),
    # A class's change rewrites the class on each of its reservations (its prefix), and a
    # waiting reservation's place counts the class's WAITLISTED rows with a smaller ticket.
    Index("ix_reservations_class_queue", "class_id", "status", "waitlist_ticket"),
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
        "promoted": r.promoted,
        "check_in_time": r.check_in_time,
        "class_time_zone": r.class_time_zone,
        "waitlist_ticket": r.waitlist_ticket,
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


def _to_entry(row: Row[Any]) -> PageEntry:
    m = row._mapping
    return PageEntry(
        reservation_id=m["reservation_id"],
        class_id=m["class_id"],
        class_info=ClassInfo(m["class_title"], m["class_start_time"], m["class_end_time"]),
        status=Status(m["status"]),
        reason=Reason(m["reason"]),
        update_time=m["update_time"],
        promoted=m["promoted"],
        check_in_time=m["check_in_time"],
        class_time_zone=m["class_time_zone"],
        waitlist_ticket=m["waitlist_ticket"],
    )


def _to_class(row: Row[Any]) -> ClassView:
    m = row._mapping
    return ClassView(
        class_id=m["class_id"],
        title=m["title"],
        start_time=m["start_time"],
        end_time=m["end_time"],
        cancelled=m["cancelled"],
        version=m["version"],
    )


# pg_advisory_xact_lock(space, key): the two-key space, apart from the single keys that
# migrations, the relay and retention take.
_CLASS_LOCK_SPACE = 7404


class MyPageStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def lock_class(self, class_id: str) -> None:
        """Until the transaction ends, another transaction applying an event of this class (of
        the class or of a reservation of it) waits here: two replicas applying both at once
        cannot each miss the other's row. SQLite needs none: a write transaction holds the
        database's write lock from its BEGIN."""
        if self._conn.dialect.name == "postgresql":
            self._conn.execute(_LOCK_CLASS, {"space": _CLASS_LOCK_SPACE, "key": class_id})

    def get_class(self, class_id: str) -> ClassView | None:
        row = self._conn.execute(_GET_CLASS, {"class_id": class_id}).first()
        return _to_class(row) if row is not None else None

    def save_reservation(self, r: ReservationView) -> bool:
        """Stores the reservation unless a newer version is held; True if it was written."""
        return _write(self._conn, _UPSERT_RESERVATION, _reservation_columns(r))

    def save_class(self, c: ClassView) -> bool:
        """Stores the class unless a newer version is held; True if it was written."""
        return _write(self._conn, _UPSERT_CLASS, _class_columns(c))

    def show_class(self, class_id: str, info: ClassInfo) -> None:
        """Every reservation of the class shows it as `info` from now on."""
        c = reservations.c
        self._conn.execute(
            update(reservations)
            .where(c.class_id == class_id)
            .values(
                class_title=info.title,
                class_start_time=info.start_time,
                class_end_time=info.end_time,
            )
        )

    def waiting_ahead(self, class_id: str, ticket: int) -> int:
        """How many reservations of the class are WAITLISTED with a smaller ticket: one count
        over a range of the (class, status, ticket) index."""
        c = reservations.c
        query = select(func.count()).where(
            c.class_id == class_id,
            c.status == Status.WAITLISTED.value,
            c.waitlist_ticket < ticket,
        )
        return int(self._conn.execute(query).scalar_one())

    def page(self, user_id: str, at: PagePosition, limit: int) -> list[PageEntry]:
        """Up to `limit` entries of one part of a member's page (`at.phase`), in its order,
        from `at` on. Each part's bound is a row value on the index, so a page deep in a long
        history costs what the first does."""
        c = reservations.c
        key = tuple_(c.class_start_time, c.reservation_id)
        query = select(reservations).where(c.user_id == user_id).limit(limit)
        if at.phase is Phase.UPCOMING:
            query = query.order_by(c.class_start_time, c.reservation_id)
            query = query.where(key > at.after if at.after else c.class_start_time >= at.now)
        elif at.phase is Phase.PAST:
            query = query.order_by(c.class_start_time.desc(), c.reservation_id.desc())
            query = query.where(key < at.after if at.after else c.class_start_time < at.now)
        else:
            # Every start is NULL here. Ordering by it too is the index's own order: PostgreSQL
            # does not take `IS NULL` for an equality that would let it order by id alone.
            query = query.where(c.class_start_time.is_(None))
            query = query.order_by(c.class_start_time.desc(), c.reservation_id.desc())
            if at.after:
                query = query.where(c.reservation_id < at.after[1])
        return [_to_entry(row) for row in self._conn.execute(query)]


def _upsert(table: Table, columns: list[str]) -> dict[str, Any]:
    """Insert, or update only when the held version is older: one statement, no read first,
    for each dialect. RETURNING tells whether a row was written (the driver's rowcount of an
    INSERT is not kept). Built once: building and compiling it for every event was most of
    the consumer's CPU (BENCHMARKS.md, profile)."""
    key = [column.name for column in table.primary_key]
    built: dict[str, Any] = {}
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql)):
        stmt = dialect.insert(table).values(
            {c: bindparam(c, type_=table.c[c].type) for c in columns}
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=key,
            set_={c: stmt.excluded[c] for c in columns if c not in key},
            where=table.c.version < stmt.excluded.version,
        )
        built[name] = stmt.returning(table.c.version)
    return built


def _write(conn: Connection, statements: dict[str, Any], values: dict[str, Any]) -> bool:
    return conn.execute(statements[conn.dialect.name], values).first() is not None


_LOCK_CLASS = text("SELECT pg_advisory_xact_lock(:space, hashtext(:key))")
_GET_CLASS = select(classes).where(classes.c.class_id == bindparam("class_id"))
_UPSERT_RESERVATION = _upsert(reservations, [c.name for c in reservations.c])
_UPSERT_CLASS = _upsert(classes, [c.name for c in classes.c])
