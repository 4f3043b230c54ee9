"""Everything yogaclass_svc keeps: classes, seat claims and the outbox. `ClassStore` works
inside the caller's transaction (a unit of work): queries and atomic primitives, no rules.

The seat counter is changed by one conditional UPDATE (`booked < capacity`) with a CHECK
constraint behind it; a claim row per reservation (its primary key) keeps one claim each."""

from __future__ import annotations

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
    bindparam,
    insert,
    select,
    tuple_,
    update,
)

from yoga_common.db import UtcDateTime, insert_new
from yoga_common.outbox import outbox_table
from yogaclass_svc.domain import Claim, ClaimState, ClassDetails, ClassStatus, YogaClass

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


_BY_ID = select(classes).where(classes.c.class_id == bindparam("class_id"))
_CLAIM = select(seat_claims.c.class_id, seat_claims.c.state).where(
    seat_claims.c.reservation_id == bindparam("reservation_id")
)


class ClassStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, class_id: str) -> YogaClass | None:
        row = self._conn.execute(_BY_ID, {"class_id": class_id}).first()
        return _to_domain(row) if row else None

    def by_request(self, request_id: str) -> tuple[YogaClass, str] | None:
        """The class created under `request_id`, with the fingerprint of its request."""
        row = self._conn.execute(select(classes).where(classes.c.request_id == request_id)).first()
        return (_to_domain(row), row._mapping["request_hash"]) if row else None

    def add(self, c: YogaClass, request_id: str, request_hash: str) -> None:
        self._conn.execute(
            insert(classes).values(
                class_id=c.class_id,
                **_details_columns(c.details),
                booked=c.booked,
                status=c.status.value,
                create_time=c.create_time,
                update_time=c.update_time,
                version=c.version,
                request_id=request_id or None,
                request_hash=request_hash,
            )
        )

    def replace(self, target: YogaClass, expected_version: int) -> bool:
        """Writes `target` if the class is still at `expected_version` and its seats taken
        fit the new capacity (a seat may have been taken since the read); False if not."""
        c = classes.c
        result = self._conn.execute(
            update(classes)
            .where(
                c.class_id == target.class_id,
                c.version == expected_version,
                c.booked <= target.details.capacity,
            )
            .values(
                **_details_columns(target.details),
                status=target.status.value,
                update_time=target.update_time,
                version=target.version,
            )
        )
        return result.rowcount == 1

    def page(
        self,
        start: datetime | None,
        end: datetime | None,
        limit: int,
        after: tuple[datetime, str] | None,
    ) -> list[YogaClass]:
        c = classes.c
        query = select(classes).order_by(c.start_time, c.class_id).limit(limit)
        if start is not None:
            query = query.where(c.start_time >= start)
        if end is not None:
            query = query.where(c.start_time < end)
        if after is not None:
            # A row value, not `a > x OR (a = x AND b > y)`: both databases seek the index to
            # it, so a page near the end costs what the first does.
            query = query.where(tuple_(c.start_time, c.class_id) > after)
        return [_to_domain(row) for row in self._conn.execute(query)]

    # --- seats ---------------------------------------------------------------------------

    def try_take_seat(self, class_id: str) -> bool:
        """One seat of a scheduled class, if one is free: the guard against overbooking."""
        c = classes.c
        taken = self._conn.execute(
            update(classes)
            .where(
                c.class_id == class_id,
                c.status == ClassStatus.SCHEDULED.value,
                c.booked < c.capacity,
            )
            .values(booked=c.booked + 1)
        )
        return taken.rowcount == 1

    def give_back_seat(self, class_id: str) -> None:
        c = classes.c
        self._conn.execute(
            update(classes).where(c.class_id == class_id).values(booked=c.booked - 1)
        )

    def claim(self, reservation_id: str) -> Claim | None:
        row = self._conn.execute(_CLAIM, {"reservation_id": reservation_id}).first()
        return Claim(row.class_id, ClaimState(row.state)) if row else None

    def add_claim(
        self, reservation_id: str, class_id: str, user_id: str, state: ClaimState, now: datetime
    ) -> bool:
        """False if the reservation has a claim already (a concurrent call recorded it)."""
        return insert_new(
            self._conn,
            insert(seat_claims).values(
                reservation_id=reservation_id,
                class_id=class_id,
                user_id=user_id,
                state=state.value,
                create_time=now,
                update_time=now,
            ),
        )

    def release_claim(self, reservation_id: str, class_id: str, now: datetime) -> bool:
        """HELD -> RELEASED; False if the claim was not HELD (any more)."""
        s = seat_claims.c
        freed = self._conn.execute(
            update(seat_claims)
            .where(
                s.reservation_id == reservation_id,
                s.class_id == class_id,
                s.state == ClaimState.HELD.value,
            )
            .values(state=ClaimState.RELEASED.value, update_time=now)
        )
        return freed.rowcount == 1
