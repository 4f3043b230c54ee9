"""Everything reservation_svc keeps: reservations and the outbox, behind `ReservationStore`.

One active (PENDING or CONFIRMED) reservation per user and class is a partial unique index;
an idempotency key is unique per user; every state change is one conditional UPDATE on the
expected state, written with its event in the same transaction."""

from __future__ import annotations

from datetime import datetime
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
    UniqueConstraint,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError

from reservation_svc import messages
from reservation_svc.domain import ACTIVE, ClassInfo, Reason, Reservation, Status, transition
from yoga_common.db import Database, UtcDateTime
from yoga_common.errors import already_exists, invalid_field, not_found
from yoga_common.outbox import add_event, inbox_table, outbox_table

metadata = MetaData()

_ACTIVE = text("status IN ('PENDING', 'CONFIRMED')")

reservations = Table(
    "reservations",
    metadata,
    Column("reservation_id", String(36), primary_key=True),
    Column("class_id", String(64), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("user_email", String(320), nullable=False, server_default=""),
    Column("status", String(16), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("request_id", String(128), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("class_title", String(200)),
    Column("class_start_time", UtcDateTime),
    Column("class_end_time", UtcDateTime),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("release_pending", Boolean, nullable=False, server_default="0"),
    UniqueConstraint("user_id", "request_id", name="uq_reservations_request"),
    CheckConstraint(
        "status IN ('PENDING', 'CONFIRMED', 'REJECTED', 'CANCELLED')", name="ck_reservations_status"
    ),
    CheckConstraint(
        "(status = 'REJECTED') = (reason IN "
        "('CLASS_FULL', 'CLASS_NOT_FOUND', 'CLASS_CANCELLED', 'CLASS_STARTED'))",
        name="ck_reservations_rejection_reason",
    ),
    Index(
        "uq_reservations_active",
        "class_id",
        "user_id",
        unique=True,
        sqlite_where=_ACTIVE,
        postgresql_where=_ACTIVE,
    ),
    Index("ix_reservations_user", "user_id", "create_time"),
    Index("ix_reservations_class", "class_id", "create_time"),
    Index("ix_reservations_status", "status", "update_time"),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

_EVENTS = {
    Status.CONFIRMED: messages.reservation_confirmed,
    Status.REJECTED: messages.reservation_rejected,
    Status.CANCELLED: messages.reservation_cancelled,
}


def _to_domain(row: Row[Any]) -> Reservation:
    m = row._mapping
    info = None
    if m["class_title"] is not None:
        info = ClassInfo(m["class_title"], m["class_start_time"], m["class_end_time"])
    return Reservation(
        reservation_id=m["reservation_id"],
        class_id=m["class_id"],
        user_id=m["user_id"],
        user_email=m["user_email"],
        status=Status(m["status"]),
        reason=Reason(m["reason"]),
        request_id=m["request_id"],
        request_hash=m["request_hash"],
        create_time=m["create_time"],
        update_time=m["update_time"],
        version=m["version"],
        class_info=info,
        release_pending=m["release_pending"],
    )


def _columns(r: Reservation) -> dict[str, Any]:
    info = r.class_info
    return {
        "status": r.status.value,
        "reason": r.reason.value,
        "class_title": info.title if info else None,
        "class_start_time": info.start_time if info else None,
        "class_end_time": info.end_time if info else None,
        "update_time": r.update_time,
        "version": r.version,
        "release_pending": r.release_pending,
    }


def _fetch(conn: Connection, reservation_id: str) -> Reservation | None:
    row = conn.execute(
        select(reservations).where(reservations.c.reservation_id == reservation_id)
    ).first()
    return _to_domain(row) if row else None


def _fetch_existing(conn: Connection, reservation_id: str) -> Reservation:
    found = _fetch(conn, reservation_id)
    if found is None:
        raise not_found("reservation", reservation_id)
    return found


def _by_request(conn: Connection, user_id: str, request_id: str) -> Reservation | None:
    row = conn.execute(
        select(reservations).where(
            reservations.c.user_id == user_id, reservations.c.request_id == request_id
        )
    ).first()
    return _to_domain(row) if row else None


def change_in(
    conn: Connection,
    topic: str,
    reservation_id: str,
    expected: frozenset[Status],
    to: Status,
    reason: Reason,
    now: datetime,
    class_info: ClassInfo | None = None,
) -> tuple[Reservation, bool]:
    """`ReservationStore.change` inside a transaction the caller holds."""
    current = _fetch_existing(conn, reservation_id)
    if current.status not in expected:
        return current, False
    target = transition(current, to, reason, now, class_info)
    changed = conn.execute(
        update(reservations)
        .where(
            reservations.c.reservation_id == reservation_id,
            reservations.c.version == current.version,
        )
        .values(**_columns(target))
    )
    if changed.rowcount != 1:  # changed under us (PostgreSQL): decide on fresh data
        return change_in(conn, topic, reservation_id, expected, to, reason, now, class_info)
    add_event(conn, outbox, topic, reservation_id, _EVENTS[to](target))
    return target, True


def active_of_class(conn: Connection, class_id: str) -> list[str]:
    c = reservations.c
    query = (
        select(c.reservation_id)
        .where(c.class_id == class_id, c.status.in_([s.value for s in ACTIVE]))
        .order_by(c.create_time)
    )
    return list(conn.execute(query).scalars())


class ReservationStore:
    def __init__(self, db: Database, topic: str) -> None:
        self._db = db
        self._topic = topic

    async def add_pending(self, r: Reservation) -> Reservation:
        """Stores a new PENDING reservation, or returns the one stored under its request_id."""

        def work(conn: Connection) -> Reservation:
            existing = _by_request(conn, r.user_id, r.request_id)
            if existing is None:
                try:
                    with conn.begin_nested():
                        conn.execute(
                            insert(reservations).values(
                                reservation_id=r.reservation_id,
                                class_id=r.class_id,
                                user_id=r.user_id,
                                user_email=r.user_email,
                                request_id=r.request_id,
                                request_hash=r.request_hash,
                                create_time=r.create_time,
                                **_columns(r),
                            )
                        )
                    return r
                except IntegrityError:
                    existing = _by_request(conn, r.user_id, r.request_id)
                    if existing is None:
                        raise already_exists(
                            "ALREADY_BOOKED",
                            "this member already holds a reservation for this class",
                            class_id=r.class_id,
                            user_id=r.user_id,
                        ) from None
            if existing.request_hash != r.request_hash:
                raise invalid_field("request_id", "was already used for a different reservation")
            return existing

        return await self._db.run(work)

    async def change(
        self,
        reservation_id: str,
        expected: frozenset[Status],
        to: Status,
        reason: Reason,
        now: datetime,
        class_info: ClassInfo | None = None,
    ) -> tuple[Reservation, bool]:
        """Moves the reservation to `to` if it is in one of the `expected` states, with its event.
        Returns the reservation as it now is, and whether this call changed it."""
        return await self._db.run(
            lambda conn: change_in(
                conn, self._topic, reservation_id, expected, to, reason, now, class_info
            )
        )

    async def set_release_pending(self, reservation_id: str, pending: bool) -> Reservation:
        """Records whether the reservation's seat is still owed back to the class."""

        def work(conn: Connection) -> Reservation:
            conn.execute(
                update(reservations)
                .where(reservations.c.reservation_id == reservation_id)
                .values(release_pending=pending)
            )
            return _fetch_existing(conn, reservation_id)

        return await self._db.run(work)

    async def get(self, reservation_id: str) -> Reservation:
        return await self._db.read(lambda conn: _fetch_existing(conn, reservation_id))

    async def page(
        self, class_id: str, user_id: str, limit: int, after: tuple[datetime, str] | None
    ) -> list[Reservation]:
        c = reservations.c
        query = select(reservations).order_by(c.create_time, c.reservation_id).limit(limit)
        if class_id:
            query = query.where(c.class_id == class_id)
        if user_id:
            query = query.where(c.user_id == user_id)
        if after is not None:
            at = after[0]
            query = query.where(
                (c.create_time > at) | ((c.create_time == at) & (c.reservation_id > after[1]))
            )
        return await self._db.read(lambda conn: [_to_domain(r) for r in conn.execute(query)])

    async def stale_pending(self, before: datetime, limit: int = 100) -> list[Reservation]:
        c = reservations.c
        query = (
            select(reservations)
            .where(c.status == Status.PENDING.value, c.update_time < before)
            .order_by(c.update_time)
            .limit(limit)
        )
        return await self._db.read(lambda conn: [_to_domain(r) for r in conn.execute(query)])

    async def unreleased(self, before: datetime, limit: int = 100) -> list[Reservation]:
        c = reservations.c
        query = (
            select(reservations)
            .where(c.release_pending.is_(True), c.update_time < before)
            .order_by(c.update_time)
            .limit(limit)
        )
        return await self._db.read(lambda conn: [_to_domain(r) for r in conn.execute(query)])
