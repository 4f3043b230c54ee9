"""Everything yogaclass_svc keeps: classes, seat claims and the outbox. `ClassStore` works
inside the caller's transaction (a unit of work): queries and atomic primitives, no rules.

The seat counter is changed by one conditional UPDATE (`booked < capacity AND waiting = 0`:
nobody takes a seat past the queue) with a CHECK constraint behind it; so is the queue's length
(`waiting < waitlist_capacity`), which also hands out the queue's tickets. A claim row per
reservation (its primary key) keeps one claim each. On PostgreSQL the UPDATE of the class row
also serialises everything done to one class's seats and queue: a promotion reads the queue
after it, so two concurrent releases can never promote the same member."""

from __future__ import annotations

from datetime import datetime, timedelta
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
    func,
    insert,
    select,
    tuple_,
    update,
)

from yoga_common.db import UtcDateTime, insert_new
from yoga_common.outbox import inbox_table, outbox_table
from yogaclass_svc.domain import Claim, ClaimState, ClassDetails, ClassStatus, YogaClass
from yogaclass_svc.studio import Standing, StrikeKind, StudioRules, StudioSettings
from yogaclass_svc.waitlist import Waiting

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
    Column("waitlist_capacity", Integer, nullable=False, server_default="0"),
    Column("waiting", Integer, nullable=False, server_default="0"),
    # The last ticket handed out: the queue's running number (first in, first out).
    Column("next_ticket", BigInteger, nullable=False, server_default="0"),
    Column("cancellation_window_s", Integer),
    Column("status", String(16), nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("request_id", String(128), unique=True),
    Column("request_hash", String(64)),
    CheckConstraint("booked >= 0 AND booked <= capacity", name="ck_classes_seats"),
    CheckConstraint("capacity > 0", name="ck_classes_capacity"),
    CheckConstraint("waiting >= 0 AND waiting <= waitlist_capacity", name="ck_classes_waitlist"),
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
    # Its place in the class's queue (set when it joined; kept after, for the record).
    Column("ticket", BigInteger),
    # Why it left the queue without a seat (a skip at promotion time).
    Column("reason", String(32)),
    CheckConstraint(
        "state IN ('HELD', 'RELEASED', 'WAITING', 'EXPIRED')", name="ck_seat_claims_state"
    ),
    CheckConstraint("state <> 'WAITING' OR ticket IS NOT NULL", name="ck_seat_claims_ticket"),
    # The queue in ticket order, and positions, are read from this index.
    Index("ix_seat_claims_queue", "class_id", "state", "ticket"),
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
            waitlist_capacity=m["waitlist_capacity"],
            cancellation_window=None
            if m["cancellation_window_s"] is None
            else timedelta(seconds=m["cancellation_window_s"]),
        ),
        booked=m["booked"],
        waiting=m["waiting"],
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
        "waitlist_capacity": details.waitlist_capacity,
        "cancellation_window_s": None
        if details.cancellation_window is None
        else int(details.cancellation_window.total_seconds()),
    }


_BY_ID = select(classes).where(classes.c.class_id == bindparam("class_id"))
_CLAIM = select(seat_claims.c.class_id, seat_claims.c.state, seat_claims.c.ticket).where(
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
                c.waiting <= target.details.waitlist_capacity,
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
        """One seat of a scheduled class, if one is free and nobody waits for it: the guard
        against overbooking and against jumping the queue."""
        c = classes.c
        taken = self._conn.execute(
            update(classes)
            .where(
                c.class_id == class_id,
                c.status == ClassStatus.SCHEDULED.value,
                c.booked < c.capacity,
                c.waiting == 0,
            )
            .values(booked=c.booked + 1)
        )
        return taken.rowcount == 1

    def try_join_queue(self, class_id: str) -> int | None:
        """A place in a scheduled class's queue, if it has room: the new ticket, or None."""
        c = classes.c
        row = self._conn.execute(
            update(classes)
            .where(
                c.class_id == class_id,
                c.status == ClassStatus.SCHEDULED.value,
                c.waiting < c.waitlist_capacity,
            )
            .values(waiting=c.waiting + 1, next_ticket=c.next_ticket + 1)
            .returning(c.next_ticket)
        ).first()
        return None if row is None else int(row[0])

    def leave_queue(self, class_id: str, seat: bool = False) -> None:
        """One fewer waiting; with `seat`, the member leaves the queue for a freed seat."""
        c = classes.c
        values: dict[str, Any] = {"waiting": c.waiting - 1}
        if seat:
            values["booked"] = c.booked + 1
        self._conn.execute(update(classes).where(c.class_id == class_id).values(**values))

    def queue(self, class_id: str) -> list[Waiting]:
        """The class's waiting claims, first in first."""
        s = seat_claims.c
        rows = self._conn.execute(
            select(s.reservation_id, s.user_id, s.ticket)
            .where(s.class_id == class_id, s.state == ClaimState.WAITING.value)
            .order_by(s.ticket)
        )
        return [Waiting(r.reservation_id, r.user_id, r.ticket) for r in rows]

    def position(self, class_id: str, ticket: int) -> int:
        """1 + the waiting claims of the class ahead of `ticket`."""
        s = seat_claims.c
        ahead = self._conn.execute(
            select(func.count())
            .select_from(seat_claims)
            .where(
                s.class_id == class_id,
                s.state == ClaimState.WAITING.value,
                s.ticket < ticket,
            )
        ).scalar_one()
        return 1 + int(ahead)

    def overlapping_held(self, user_id: str, c: YogaClass) -> bool:
        """Whether the member holds a seat in another scheduled class overlapping `c`."""
        s, k = seat_claims.c, classes.c
        found = self._conn.execute(
            select(s.reservation_id)
            .join(classes, k.class_id == s.class_id)
            .where(
                s.user_id == user_id,
                s.state == ClaimState.HELD.value,
                k.class_id != c.class_id,
                k.status == ClassStatus.SCHEDULED.value,
                k.start_time < c.details.end_time,
                k.end_time > c.details.start_time,
            )
            .limit(1)
        ).first()
        return found is not None

    def queues_closing(self, bound: datetime, limit: int) -> list[str]:
        """Classes with members waiting that start at or before `bound`."""
        c = classes.c
        rows = self._conn.execute(
            select(c.class_id)
            .where(c.waiting > 0, c.start_time <= bound)
            .order_by(c.start_time)
            .limit(limit)
        )
        return [r.class_id for r in rows]

    def give_back_seat(self, class_id: str) -> None:
        c = classes.c
        self._conn.execute(
            update(classes).where(c.class_id == class_id).values(booked=c.booked - 1)
        )

    def claim(self, reservation_id: str) -> Claim | None:
        row = self._conn.execute(_CLAIM, {"reservation_id": reservation_id}).first()
        return Claim(row.class_id, ClaimState(row.state), row.ticket) if row else None

    def add_claim(
        self,
        reservation_id: str,
        class_id: str,
        user_id: str,
        state: ClaimState,
        now: datetime,
        ticket: int | None = None,
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
                ticket=ticket,
            ),
        )

    def move_claim(
        self,
        reservation_id: str,
        class_id: str,
        from_state: ClaimState,
        to_state: ClaimState,
        now: datetime,
        reason: str | None = None,
    ) -> bool:
        """`from_state` -> `to_state`; False if the claim was not in `from_state` (any more)."""
        s = seat_claims.c
        moved = self._conn.execute(
            update(seat_claims)
            .where(
                s.reservation_id == reservation_id,
                s.class_id == class_id,
                s.state == from_state.value,
            )
            .values(state=to_state.value, update_time=now, reason=reason)
        )
        return moved.rowcount == 1

    # --- studio settings and member standing (issue 14) ----------------------------------
    # Tables below the class (section "studio" at the end of this module).

    def studio_settings(self) -> StudioSettings:
        """The studio's settings: the defaults (version 0) until staff first change them."""
        row = self._conn.execute(select(studio_settings)).first()
        return _settings_to_domain(row) if row else StudioSettings()

    def studio_rules(self) -> StudioRules:
        """The booking rules in force, for any use case inside a unit of work."""
        return self.studio_settings().rules

    def save_studio_settings(self, target: StudioSettings, expected_version: int) -> bool:
        """Writes `target` if the settings are still at `expected_version` (0: never stored);
        False if they changed since they were read."""
        values = {**_rules_columns(target.rules), "update_time": target.update_time}
        if expected_version == 0:
            return insert_new(
                self._conn,
                insert(studio_settings).values(id=STUDIO_ROW, version=target.version, **values),
            )
        st = studio_settings.c
        result = self._conn.execute(
            update(studio_settings)
            .where(st.id == STUDIO_ROW, st.version == expected_version)
            .values(version=target.version, **values)
        )
        return result.rowcount == 1

    def add_strike(self, reservation_id: str, user_id: str, kind: StrikeKind, at: datetime) -> bool:
        """False if the reservation's strike was recorded before (a replayed event)."""
        return insert_new(
            self._conn,
            insert(strikes).values(
                reservation_id=reservation_id, user_id=user_id, kind=kind.value, time=at
            ),
        )

    def count_strikes(self, user_id: str, since: datetime) -> int:
        """The member's strikes later than `since`."""
        sk = strikes.c
        query = select(func.count()).where(sk.user_id == user_id, sk.time > since)
        return int(self._conn.execute(query).scalar_one())

    def member_standing(self, user_id: str) -> Standing:
        row = self._conn.execute(_STANDING, {"user_id": user_id}).first()
        return _standing_to_domain(row) if row else Standing(user_id)

    def lock_member_standing(self, user_id: str) -> Standing:
        """The member's standing, its row created if absent and locked until the transaction
        ends (PostgreSQL; SQLite's writers hold the database): the strikes of one member are
        counted and judged one transaction at a time."""
        insert_new(self._conn, insert(member_standing).values(user_id=user_id, version=0))
        row = self._conn.execute(_STANDING.with_for_update(), {"user_id": user_id}).one()
        return _standing_to_domain(row)

    def save_member_standing(self, target: Standing, expected_version: int) -> bool:
        """Writes `target` over a stored standing still at `expected_version`."""
        ms = member_standing.c
        result = self._conn.execute(
            update(member_standing)
            .where(ms.user_id == target.user_id, ms.version == expected_version)
            .values(
                blocked_until=target.blocked_until,
                lifted_time=target.lifted_time,
                version=target.version,
            )
        )
        return result.rowcount == 1

    def blocked_until(self, user_id: str, now: datetime) -> datetime | None:
        """The end of the member's block if they are blocked at `now`, else None."""
        return self.member_standing(user_id).blocked_at(now)

    def held_upcoming(self, user_id: str, now: datetime) -> int:
        """Seats the member holds in scheduled classes that start after `now`."""
        s, c = seat_claims.c, classes.c
        query = (
            select(func.count())
            .select_from(seat_claims.join(classes, s.class_id == c.class_id))
            .where(
                s.user_id == user_id,
                s.state == ClaimState.HELD.value,
                c.start_time > now,
                c.status == ClassStatus.SCHEDULED.value,
            )
        )
        return int(self._conn.execute(query).scalar_one())


# --- studio: settings, strikes, member standing (issue 14) --------------------------------
# One settings row; a strike per reservation (its key: a replayed event records none twice);
# a standing row per member who ever had a strike. Read by ClassStore's methods above.

STUDIO_ROW = 1

studio_settings = Table(
    "studio_settings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("waitlist_cutoff_seconds", BigInteger, nullable=False),
    Column("cancellation_window_seconds", BigInteger, nullable=False),
    Column("check_in_opens_seconds", BigInteger, nullable=False),
    Column("no_show_grace_seconds", BigInteger, nullable=False),
    Column("strike_limit", Integer, nullable=False),
    Column("strike_period_seconds", BigInteger, nullable=False),
    Column("block_duration_seconds", BigInteger, nullable=False),
    Column("booking_limit", Integer, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("version", BigInteger, nullable=False),
    CheckConstraint("id = 1", name="ck_studio_settings_one_row"),
)

strikes = Table(
    "strikes",
    metadata,
    Column("reservation_id", String(64), primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("time", UtcDateTime, nullable=False),
    CheckConstraint("kind IN ('LATE_CANCEL', 'NO_SHOW')", name="ck_strikes_kind"),
    Index("ix_strikes_user_time", "user_id", "time"),
)

member_standing = Table(
    "member_standing",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("blocked_until", UtcDateTime),
    Column("lifted_time", UtcDateTime),
    Column("version", BigInteger, nullable=False),
)

# Members' held seats (ClassStore.held_upcoming).
Index("ix_seat_claims_user", seat_claims.c.user_id, seat_claims.c.state)

_STANDING = select(member_standing).where(member_standing.c.user_id == bindparam("user_id"))


def _seconds(span: timedelta) -> int:
    return int(span.total_seconds())


def _rules_columns(rules: StudioRules) -> dict[str, Any]:
    return {
        "waitlist_cutoff_seconds": _seconds(rules.waitlist_cutoff),
        "cancellation_window_seconds": _seconds(rules.cancellation_window),
        "check_in_opens_seconds": _seconds(rules.check_in_opens),
        "no_show_grace_seconds": _seconds(rules.no_show_grace),
        "strike_limit": rules.strike_limit,
        "strike_period_seconds": _seconds(rules.strike_period),
        "block_duration_seconds": _seconds(rules.block_duration),
        "booking_limit": rules.booking_limit,
    }


def _settings_to_domain(row: Row[Any]) -> StudioSettings:
    m = row._mapping
    rules = StudioRules(
        waitlist_cutoff=timedelta(seconds=m["waitlist_cutoff_seconds"]),
        cancellation_window=timedelta(seconds=m["cancellation_window_seconds"]),
        check_in_opens=timedelta(seconds=m["check_in_opens_seconds"]),
        no_show_grace=timedelta(seconds=m["no_show_grace_seconds"]),
        strike_limit=m["strike_limit"],
        strike_period=timedelta(seconds=m["strike_period_seconds"]),
        block_duration=timedelta(seconds=m["block_duration_seconds"]),
        booking_limit=m["booking_limit"],
    )
    return StudioSettings(rules, m["update_time"], m["version"])


def _standing_to_domain(row: Row[Any]) -> Standing:
    m = row._mapping
    return Standing(m["user_id"], m["blocked_until"], m["lifted_time"], m["version"])


# The events this service consumes and has applied (yogaclass_svc/consumers.py).
inbox = inbox_table(metadata)
