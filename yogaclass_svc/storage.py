"""Everything yogaclass_svc keeps: classes, seat claims and the outbox, behind `ClassStore`.

The seat counter is changed by one conditional UPDATE (`booked < capacity`) with a CHECK
constraint behind it; a claim row per reservation makes ReserveSeat and ReleaseSeat idempotent,
and `booked` always equals the number of HELD claims of the class."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Row,
    String,
    Table,
    and_,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from yoga_common.db import Database, UtcDateTime
from yoga_common.errors import invalid_field, not_found
from yoga_common.outbox import add_event, outbox_table
from yogaclass_svc import messages
from yogaclass_svc.domain import (
    ClassDetails,
    ClassStatus,
    SeatResult,
    YogaClass,
    apply_changes,
    seat_refusal,
)

metadata = MetaData()

classes = Table(
    "classes",
    metadata,
    Column("class_id", String(36), primary_key=True),
    Column("title", String(200), nullable=False),
    Column("instructor", String(200), nullable=False),
    Column("start_time", UtcDateTime, nullable=False),
    Column("end_time", UtcDateTime, nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("booked", Integer, nullable=False, server_default="0"),
    Column("status", String(16), nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("request_id", String(128), unique=True),
    Column("request_hash", String(64)),
    CheckConstraint("booked >= 0 AND booked <= capacity", name="ck_classes_seats"),
    CheckConstraint("capacity > 0", name="ck_classes_capacity"),
    CheckConstraint("end_time > start_time", name="ck_classes_times"),
    CheckConstraint("status IN ('SCHEDULED', 'CANCELLED')", name="ck_classes_status"),
    Index("ix_classes_start", "start_time", "class_id"),
)

seat_claims = Table(
    "seat_claims",
    metadata,
    Column("reservation_id", String(64), primary_key=True),
    Column("class_id", String(36), ForeignKey("classes.class_id"), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("state", String(10), nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    CheckConstraint("state IN ('HELD', 'RELEASED')", name="ck_seat_claims_state"),
    Index("ix_seat_claims_class", "class_id", "state"),
)

outbox = outbox_table(metadata)

HELD = "HELD"
RELEASED = "RELEASED"


def _to_domain(row: Row[Any]) -> YogaClass:
    m = row._mapping
    return YogaClass(
        class_id=m["class_id"],
        details=ClassDetails(
            title=m["title"],
            instructor=m["instructor"],
            start_time=m["start_time"],
            end_time=m["end_time"],
            time_zone=m["time_zone"],
            capacity=m["capacity"],
        ),
        booked=m["booked"],
        status=ClassStatus(m["status"]),
        create_time=m["create_time"],
        update_time=m["update_time"],
        version=m["version"],
    )


def _details_columns(details: ClassDetails) -> dict[str, Any]:
    return {
        "title": details.title,
        "instructor": details.instructor,
        "start_time": details.start_time,
        "end_time": details.end_time,
        "time_zone": details.time_zone,
        "capacity": details.capacity,
    }


def _fetch(conn: Connection, class_id: str) -> YogaClass | None:
    row = conn.execute(select(classes).where(classes.c.class_id == class_id)).first()
    return _to_domain(row) if row else None


def _fetch_existing(conn: Connection, class_id: str) -> YogaClass:
    found = _fetch(conn, class_id)
    if found is None:
        raise not_found("class", class_id)
    return found


class ClassStore:
    def __init__(self, db: Database, topic: str) -> None:
        self._db = db
        self._topic = topic

    def _publish(self, conn: Connection, yoga_class: YogaClass, event: Any) -> None:
        add_event(conn, outbox, self._topic, yoga_class.class_id, event)

    async def create(
        self, details: ClassDetails, request_id: str, request_hash: str, now: datetime
    ) -> YogaClass:
        def work(conn: Connection) -> YogaClass:
            if request_id:
                row = conn.execute(
                    select(classes).where(classes.c.request_id == request_id)
                ).first()
                if row is not None:
                    if row._mapping["request_hash"] != request_hash:
                        raise invalid_field("request_id", "was already used for a different class")
                    return _to_domain(row)
            class_id = str(uuid.uuid4())
            conn.execute(
                insert(classes).values(
                    class_id=class_id,
                    **_details_columns(details),
                    booked=0,
                    status=ClassStatus.SCHEDULED.value,
                    create_time=now,
                    update_time=now,
                    version=1,
                    request_id=request_id or None,
                    request_hash=request_hash,
                )
            )
            created = _fetch_existing(conn, class_id)
            self._publish(conn, created, messages.class_created(created))
            return created

        return await self._db.run(work)

    async def get(self, class_id: str) -> YogaClass:
        return await self._db.read(lambda conn: _fetch_existing(conn, class_id))

    async def page(
        self,
        start: datetime | None,
        end: datetime | None,
        limit: int,
        after: tuple[datetime, str] | None,
    ) -> list[YogaClass]:
        query = select(classes).order_by(classes.c.start_time, classes.c.class_id).limit(limit)
        if start is not None:
            query = query.where(classes.c.start_time >= start)
        if end is not None:
            query = query.where(classes.c.start_time < end)
        if after is not None:
            at, last_id = after[0], after[1]
            query = query.where(
                or_(
                    classes.c.start_time > at,
                    and_(classes.c.start_time == at, classes.c.class_id > last_id),
                )
            )

        def work(conn: Connection) -> list[YogaClass]:
            return [_to_domain(row) for row in conn.execute(query)]

        return await self._db.read(work)

    async def update(
        self, class_id: str, changes: dict[str, Any], changed: list[str], now: datetime
    ) -> YogaClass:
        def work(conn: Connection) -> YogaClass:
            current = _fetch_existing(conn, class_id)
            target = apply_changes(current, changes, now)
            # `booked <= capacity` is re-checked here: a seat may have been taken since the read.
            result = conn.execute(
                update(classes)
                .where(
                    classes.c.class_id == class_id,
                    classes.c.version == current.version,
                    classes.c.booked <= target.details.capacity,
                )
                .values(
                    **_details_columns(target.details),
                    update_time=now,
                    version=target.version,
                )
            )
            if result.rowcount != 1:
                # Lost a race with another change: decide again on fresh data.
                return work(conn)
            updated = _fetch_existing(conn, class_id)
            self._publish(conn, updated, messages.class_updated(updated, changed))
            return updated

        return await self._db.run(work)

    async def cancel(self, class_id: str, now: datetime) -> YogaClass:
        def work(conn: Connection) -> YogaClass:
            result = conn.execute(
                update(classes)
                .where(
                    classes.c.class_id == class_id,
                    classes.c.status == ClassStatus.SCHEDULED.value,
                )
                .values(
                    status=ClassStatus.CANCELLED.value,
                    update_time=now,
                    version=classes.c.version + 1,
                )
            )
            cancelled = _fetch_existing(conn, class_id)
            if result.rowcount == 1:
                self._publish(conn, cancelled, messages.class_cancelled(cancelled))
            return cancelled

        return await self._db.run(work)

    async def reserve_seat(
        self, class_id: str, reservation_id: str, user_id: str, now: datetime
    ) -> tuple[SeatResult, YogaClass | None]:
        def work(conn: Connection) -> tuple[SeatResult, YogaClass | None]:
            claim = _claim_state(conn, reservation_id)
            if claim is not None:
                return (SeatResult.RESERVED if claim == HELD else SeatResult.RELEASED), _fetch(
                    conn, class_id
                )
            current = _fetch(conn, class_id)
            refusal = seat_refusal(current, now)
            if refusal is not None:
                return refusal, current
            taken = conn.execute(
                update(classes)
                .where(
                    classes.c.class_id == class_id,
                    classes.c.status == ClassStatus.SCHEDULED.value,
                    classes.c.booked < classes.c.capacity,
                )
                .values(booked=classes.c.booked + 1)
            )
            if taken.rowcount != 1:
                return SeatResult.CLASS_FULL, _fetch(conn, class_id)
            try:
                with conn.begin_nested():
                    conn.execute(
                        insert(seat_claims).values(
                            reservation_id=reservation_id,
                            class_id=class_id,
                            user_id=user_id,
                            state=HELD,
                            create_time=now,
                            update_time=now,
                        )
                    )
            except IntegrityError:
                # The same reservation claimed concurrently: give this seat back, report theirs.
                conn.execute(
                    update(classes)
                    .where(classes.c.class_id == class_id)
                    .values(booked=classes.c.booked - 1)
                )
                state = _claim_state(conn, reservation_id)
                return (SeatResult.RESERVED if state == HELD else SeatResult.RELEASED), _fetch(
                    conn, class_id
                )
            return SeatResult.RESERVED, _fetch(conn, class_id)

        return await self._db.run(work)

    async def release_seat(
        self, class_id: str, reservation_id: str, now: datetime
    ) -> tuple[bool, YogaClass | None]:
        def work(conn: Connection) -> tuple[bool, YogaClass | None]:
            current = _fetch(conn, class_id)
            if current is None:
                return False, None
            freed = conn.execute(
                update(seat_claims)
                .where(
                    seat_claims.c.reservation_id == reservation_id,
                    seat_claims.c.class_id == class_id,
                    seat_claims.c.state == HELD,
                )
                .values(state=RELEASED, update_time=now)
            )
            if freed.rowcount == 1:
                conn.execute(
                    update(classes)
                    .where(classes.c.class_id == class_id)
                    .values(booked=classes.c.booked - 1)
                )
                return True, _fetch(conn, class_id)
            if _claim_state(conn, reservation_id) is None:
                # A tombstone: a ReserveSeat for this reservation that arrives late takes nothing.
                try:
                    with conn.begin_nested():
                        conn.execute(
                            insert(seat_claims).values(
                                reservation_id=reservation_id,
                                class_id=class_id,
                                user_id="",
                                state=RELEASED,
                                create_time=now,
                                update_time=now,
                            )
                        )
                except IntegrityError:
                    return work(conn)
            return False, current

        return await self._db.run(work)


def _claim_state(conn: Connection, reservation_id: str) -> str | None:
    return conn.execute(
        select(seat_claims.c.state).where(seat_claims.c.reservation_id == reservation_id)
    ).scalar_one_or_none()
