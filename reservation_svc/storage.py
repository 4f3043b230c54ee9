"""Everything reservation_svc keeps: reservations, the outbox and the inbox. `ReservationStore`
works inside the caller's transaction (a unit of work): queries and atomic primitives, no rules.

One active (PENDING, CONFIRMED or WAITLISTED) reservation per user and class is a partial
unique index; an idempotency key is unique per user; every state change is one UPDATE
conditional on the version it was decided from."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    Row,
    String,
    Table,
    UniqueConstraint,
    bindparam,
    func,
    select,
    text,
    tuple_,
    update,
)

from reservation_svc.domain import (
    ACTIVE,
    REJECTIONS,
    ROSTER_STATUSES,
    ClassInfo,
    Reason,
    Reservation,
    RosterPart,
    RosterPosition,
    Status,
)
from yoga_common.db import UtcDateTime, insert_new
from yoga_common.outbox import inbox_table, outbox_table

metadata = MetaData()

_ACTIVE = text("status IN ('PENDING', 'CONFIRMED', 'WAITLISTED')")
_WAITLISTED = text("status = 'WAITLISTED'")
_STATUSES = ", ".join(f"'{s.value}'" for s in Status)
_REJECTIONS = ", ".join(f"'{r.value}'" for r in sorted(REJECTIONS))
_RELEASE_PENDING = text("release_pending")
_CONFIRMED = text("status = 'CONFIRMED'")

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
    Column("class_time_zone", String(64), nullable=False, server_default=""),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("release_pending", Boolean, nullable=False, server_default="0"),
    Column("waitlist_ticket", BigInteger),
    Column("promoted", Boolean, nullable=False, server_default="0"),
    Column("limit_overridden", Boolean, nullable=False, server_default="0"),
    Column("cancellation_window_s", Integer),
    Column("check_in_time", UtcDateTime),
    Column("join_waitlist", Boolean, nullable=False, server_default="1"),
    # The class's version the class_* columns describe (NULL: before versions were kept).
    Column("class_version", BigInteger),
    UniqueConstraint("user_id", "request_id", name="uq_reservations_request"),
    CheckConstraint(f"status IN ({_STATUSES})", name="ck_reservations_status"),
    CheckConstraint(
        f"(status = 'REJECTED') = (reason IN ({_REJECTIONS}))",
        name="ck_reservations_rejection_reason",
    ),
    CheckConstraint(
        "status <> 'WAITLISTED' OR waitlist_ticket IS NOT NULL", name="ck_reservations_ticket"
    ),
    Index(
        "uq_reservations_active",
        "class_id",
        "user_id",
        unique=True,
        sqlite_where=_ACTIVE,
        postgresql_where=_ACTIVE,
    ),
    # The keyset order of ListReservations is (create_time, reservation_id): every list seeks.
    Index("ix_reservations_user", "user_id", "create_time", "reservation_id"),
    Index("ix_reservations_class", "class_id", "create_time", "reservation_id"),
    Index("ix_reservations_created", "create_time", "reservation_id"),
    Index("ix_reservations_status", "status", "update_time"),
    # A waiting reservation's place: the class's waiting ones with a smaller ticket.
    Index(
        "ix_reservations_queue",
        "class_id",
        "waitlist_ticket",
        sqlite_where=_WAITLISTED,
        postgresql_where=_WAITLISTED,
    ),
    # The recovery loop's seats owed back: a few rows among every reservation ever made.
    Index(
        "ix_reservations_release_pending",
        "update_time",
        sqlite_where=_RELEASE_PENDING,
        postgresql_where=_RELEASE_PENDING,
    ),
    # The no-show sweep's due bookings: the confirmed ones of classes that ended, oldest
    # first (status leads: SQLite's planner, without statistics, would otherwise take
    # ix_reservations_status and sort).
    Index("ix_reservations_no_show_due", "status", "class_end_time"),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)


def _to_domain(row: Row[Any]) -> Reservation:
    m = row._mapping
    info = None
    if m["class_title"] is not None:
        info = ClassInfo(
            m["class_title"],
            m["class_start_time"],
            m["class_end_time"],
            m["class_time_zone"],
            m["class_version"] or 0,
        )
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
        waitlist_ticket=m["waitlist_ticket"],
        promoted=m["promoted"],
        limit_overridden=m["limit_overridden"],
        cancellation_window=None
        if m["cancellation_window_s"] is None
        else timedelta(seconds=m["cancellation_window_s"]),
        check_in_time=m["check_in_time"],
        join_waitlist=m["join_waitlist"],
    )


def _columns(r: Reservation) -> dict[str, Any]:
    info = r.class_info
    return {
        "status": r.status.value,
        "reason": r.reason.value,
        "class_title": info.title if info else None,
        "class_start_time": info.start_time if info else None,
        "class_end_time": info.end_time if info else None,
        "class_time_zone": info.time_zone if info else "",
        "class_version": info.version if info is not None and info.version else None,
        "update_time": r.update_time,
        "version": r.version,
        "release_pending": r.release_pending,
        "waitlist_ticket": r.waitlist_ticket,
        "promoted": r.promoted,
        "limit_overridden": r.limit_overridden,
        "cancellation_window_s": None
        if r.cancellation_window is None
        else int(r.cancellation_window.total_seconds()),
        "check_in_time": r.check_in_time,
    }


_BY_ID = select(reservations).where(reservations.c.reservation_id == bindparam("id"))
_BY_REQUEST = select(reservations).where(
    reservations.c.user_id == bindparam("user_id"),
    reservations.c.request_id == bindparam("request_id"),
)
# The SET clause comes from the parameters given (every column of `_columns`); the WHERE's own
# parameters are named apart from the columns.
_REPLACE = update(reservations).where(
    reservations.c.reservation_id == bindparam("where_id"),
    reservations.c.version == bindparam("where_version"),
)
_RELEASE_PENDING_SET = (
    update(reservations)
    .where(reservations.c.reservation_id == bindparam("where_id"))
    .values(release_pending=bindparam("pending"))
)


class ReservationStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, reservation_id: str) -> Reservation | None:
        row = self._conn.execute(_BY_ID, {"id": reservation_id}).first()
        return _to_domain(row) if row else None

    def by_request(self, user_id: str, request_id: str) -> Reservation | None:
        row = self._conn.execute(
            _BY_REQUEST, {"user_id": user_id, "request_id": request_id}
        ).first()
        return _to_domain(row) if row else None

    def add(self, r: Reservation) -> bool:
        """False if a unique constraint refused it: the request_id was used by this user, or
        the user holds an active reservation of the class."""
        return insert_new(
            self._conn,
            reservations,
            dict(
                reservation_id=r.reservation_id,
                class_id=r.class_id,
                user_id=r.user_id,
                user_email=r.user_email,
                request_id=r.request_id,
                request_hash=r.request_hash,
                create_time=r.create_time,
                join_waitlist=r.join_waitlist,
                **_columns(r),
            ),
        )

    def replace(self, target: Reservation, expected_version: int) -> bool:
        """Writes `target` if the reservation is still at `expected_version`."""
        changed = self._conn.execute(
            _REPLACE,
            {
                **_columns(target),
                "where_id": target.reservation_id,
                "where_version": expected_version,
            },
        )
        return changed.rowcount == 1

    def position(self, class_id: str, ticket: int) -> int:
        """1 + the class's waiting reservations ahead of `ticket`."""
        c = reservations.c
        ahead = self._conn.execute(
            select(func.count())
            .select_from(reservations)
            .where(_WAITLISTED, c.class_id == class_id, c.waitlist_ticket < ticket)
        ).scalar_one()
        return 1 + int(ahead)

    def set_release_pending(self, reservation_id: str, pending: bool) -> None:
        self._conn.execute(_RELEASE_PENDING_SET, {"where_id": reservation_id, "pending": pending})

    def active_of_class(self, class_id: str) -> list[str]:
        c = reservations.c
        query = (
            select(c.reservation_id)
            .where(c.class_id == class_id, c.status.in_([s.value for s in ACTIVE]))
            .order_by(c.create_time)
        )
        return list(self._conn.execute(query).scalars())

    def page(
        self, class_id: str, user_id: str, limit: int, after: tuple[datetime, str] | None
    ) -> list[Reservation]:
        c = reservations.c
        query = select(reservations).order_by(c.create_time, c.reservation_id).limit(limit)
        if class_id:
            query = query.where(c.class_id == class_id)
        if user_id:
            query = query.where(c.user_id == user_id)
        if after is not None:
            query = query.where(tuple_(c.create_time, c.reservation_id) > after)
        return [_to_domain(r) for r in self._conn.execute(query)]

    def stale_pending(self, before: datetime, limit: int = 100) -> list[Reservation]:
        c = reservations.c
        query = (
            select(reservations)
            .where(c.status == Status.PENDING.value, c.update_time < before)
            .order_by(c.update_time)
            .limit(limit)
        )
        return [_to_domain(r) for r in self._conn.execute(query)]

    def unreleased(self, before: datetime, limit: int = 100) -> list[Reservation]:
        c = reservations.c
        query = (
            select(reservations)
            .where(_RELEASE_PENDING, c.update_time < before)
            .order_by(c.update_time)
            .limit(limit)
        )
        return [_to_domain(r) for r in self._conn.execute(query)]

    def roster(self, class_id: str, position: RosterPosition, limit: int) -> list[Reservation]:
        """Up to `limit` reservations of one part of a class's roster after `position`: the
        waitlist seeks its queue index by ticket, the other parts the class's index by
        booking time."""
        c = reservations.c
        query = select(reservations).where(c.class_id == class_id).limit(limit)
        if position.part is RosterPart.WAITING:
            query = query.where(_WAITLISTED).order_by(c.waitlist_ticket)
            if position.after is not None:
                query = query.where(c.waitlist_ticket > position.after[0])
        else:
            statuses = sorted(s.value for s in ROSTER_STATUSES[position.part])
            query = query.where(c.status.in_(statuses)).order_by(c.create_time, c.reservation_id)
            if position.after is not None:
                query = query.where(tuple_(c.create_time, c.reservation_id) > position.after)
        return [_to_domain(r) for r in self._conn.execute(query)]

    def due_no_shows(self, ended_by: datetime, limit: int) -> list[str]:
        """Confirmed reservations of classes that ended at or before `ended_by`, oldest class
        first, locked for this transaction; on PostgreSQL rows another transaction (another
        replica's sweep) holds are skipped, not waited for. SQLite has one writer anyway."""
        c = reservations.c
        query = (
            select(c.reservation_id)
            .where(_CONFIRMED, c.class_end_time <= ended_by)
            .order_by(c.class_end_time)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(self._conn.execute(query).scalars())

    def describe_class(self, class_id: str, info: ClassInfo) -> int:
        """Every reservation of the class takes its newer description (one UPDATE); a
        reservation holding an equal or newer version keeps its own. Each changed row's
        version grows, so a transition decided from the old times loses its race and
        decides again. Returns how many changed."""
        c = reservations.c
        changed = self._conn.execute(
            update(reservations)
            .where(
                c.class_id == class_id,
                (c.class_version.is_(None)) | (c.class_version < info.version),
            )
            .values(
                class_title=info.title,
                class_start_time=info.start_time,
                class_end_time=info.end_time,
                class_time_zone=info.time_zone,
                class_version=info.version,
                version=c.version + 1,
            )
        )
        return int(changed.rowcount)
