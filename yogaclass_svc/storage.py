"""Everything yogaclass_svc keeps: classes, seat claims and the outbox. `ClassStore` works
inside the caller's transaction (a unit of work): queries and atomic primitives, no rules.

The seat counter is changed by one conditional UPDATE (`booked < capacity AND waiting = 0`:
nobody takes a seat past the queue) with a CHECK constraint behind it; so is the queue's length
(`waiting < waitlist_capacity`), which also hands out the queue's tickets. A claim row per
reservation (its primary key) keeps one claim each. On PostgreSQL the UPDATE of the class row
also serialises everything done to one class's seats and queue: a promotion reads the queue
after it, so two concurrent releases can never promote the same member."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    Date,
    ForeignKey,
    Index,
    Insert,
    Integer,
    MetaData,
    Row,
    String,
    Table,
    UniqueConstraint,
    bindparam,
    false,
    func,
    insert,
    select,
    tuple_,
    update,
)

from yoga_common.db import UtcDateTime, insert_new
from yoga_common.outbox import inbox_table, outbox_table
from yogaclass_svc.domain import Claim, ClaimState, ClassDetails, ClassStatus, YogaClass
from yogaclass_svc.series import Pattern, Series, SeriesStatus
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
    # An occurrence of a series (issue 15): its series and local date name it once, so a
    # materializer run twice, or on two replicas, makes it once.
    Column(
        "series_id", String(36), ForeignKey("series.series_id", name="fk_classes_series_id_series")
    ),
    Column("occurrence_date", Date),
    Column("detached", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("series_id", "occurrence_date", name="uq_classes_occurrence"),
    CheckConstraint(
        "(series_id IS NULL) = (occurrence_date IS NULL)", name="ck_classes_occurrence"
    ),
    CheckConstraint("booked >= 0 AND booked <= capacity", name="ck_classes_seats"),
    CheckConstraint("capacity > 0", name="ck_classes_capacity"),
    CheckConstraint("waiting >= 0 AND waiting <= waitlist_capacity", name="ck_classes_waitlist"),
    CheckConstraint("end_time > start_time", name="ck_classes_times"),
    CheckConstraint("status IN ('SCHEDULED', 'CANCELLED')", name="ck_classes_status"),
    Index("ix_classes_start", "start_time", "class_id"),
    # ListClasses by series and by instructor, in the list's order.
    Index("ix_classes_series", "series_id", "start_time", "class_id"),
    Index("ix_classes_instructor", "instructor", "start_time", "class_id"),
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
        series_id=m["series_id"] or "",
        occurrence_date=m["occurrence_date"],
        detached=m["detached"],
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


def _insert_class(c: YogaClass, request_id: str = "", request_hash: str = "") -> Insert:
    return insert(classes).values(**_class_row(c, request_id, request_hash))


def _class_row(c: YogaClass, request_id: str = "", request_hash: str = "") -> dict[str, Any]:
    return dict(
        class_id=c.class_id,
        **_details_columns(c.details),
        booked=c.booked,
        status=c.status.value,
        create_time=c.create_time,
        update_time=c.update_time,
        version=c.version,
        request_id=request_id or None,
        request_hash=request_hash or None,
        series_id=c.series_id or None,
        occurrence_date=c.occurrence_date,
    )


_BY_ID = select(classes).where(classes.c.class_id == bindparam("class_id"))
_TAKE_SEAT = (
    update(classes)
    .where(
        classes.c.class_id == bindparam("b_class_id"),
        classes.c.status == ClassStatus.SCHEDULED.value,
        classes.c.booked < classes.c.capacity,
        classes.c.waiting == 0,
    )
    .values(booked=classes.c.booked + 1)
    .returning(*classes.c)
)
_HELD_UPCOMING = (
    select(func.count())
    .select_from(seat_claims.join(classes, seat_claims.c.class_id == classes.c.class_id))
    .where(
        seat_claims.c.user_id == bindparam("user_id"),
        seat_claims.c.state == ClaimState.HELD.value,
        classes.c.start_time > bindparam("now", type_=UtcDateTime()),
        classes.c.status == ClassStatus.SCHEDULED.value,
    )
)
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
        self._conn.execute(_insert_class(c, request_id, request_hash))

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
                series_id=target.series_id or None,
                detached=target.detached,
            )
        )
        return result.rowcount == 1

    def page(
        self,
        start: datetime | None,
        end: datetime | None,
        limit: int,
        after: tuple[datetime, str] | None,
        series_id: str = "",
        instructor: str = "",
    ) -> list[YogaClass]:
        c = classes.c
        query = select(classes).order_by(c.start_time, c.class_id).limit(limit)
        if series_id:
            query = query.where(c.series_id == series_id)
        if instructor:
            query = query.where(c.instructor == instructor)
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

    def take_seat(self, class_id: str) -> YogaClass | None:
        """One seat of a scheduled class, if one is free and nobody waits for it: the guard
        against overbooking and against jumping the queue. The class as it is after, or None
        if no seat was taken."""
        row = self._conn.execute(_TAKE_SEAT, {"b_class_id": class_id}).first()
        return _to_domain(row) if row else None

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
            seat_claims,
            dict(
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

    # --- series (issue 15) ----------------------------------------------------------------
    # The table is below (section "series" at the end of this module).

    def add_series(self, s: Series, request_id: str = "", request_hash: str = "") -> None:
        self._conn.execute(
            insert(series).values(
                series_id=s.series_id,
                **_series_columns(s),
                create_time=s.create_time,
                request_id=request_id or None,
                request_hash=request_hash or None,
            )
        )

    def series_by_request(self, request_id: str) -> tuple[Series, str] | None:
        row = self._conn.execute(select(series).where(series.c.request_id == request_id)).first()
        return (_series_to_domain(row), row._mapping["request_hash"]) if row else None

    def get_series(self, series_id: str) -> Series | None:
        row = self._conn.execute(_SERIES, {"series_id": series_id}).first()
        return _series_to_domain(row) if row else None

    def lock_series(self, series_id: str, skip_locked: bool = False) -> Series | None:
        """The series, its row locked until the transaction ends (PostgreSQL; SQLite's one
        writer holds the database). With `skip_locked`, None when another transaction holds
        it: a second materializer passes it by instead of waiting."""
        query = _SERIES.with_for_update(skip_locked=skip_locked)
        row = self._conn.execute(query, {"series_id": series_id}).first()
        return _series_to_domain(row) if row else None

    def save_series(self, s: Series) -> None:
        """Writes a series locked by this transaction (lock_series)."""
        self._conn.execute(
            update(series).where(series.c.series_id == s.series_id).values(**_series_columns(s))
        )

    def series_page(
        self, instructor: str, limit: int, after: tuple[datetime, str] | None
    ) -> list[Series]:
        sc = series.c
        query = select(series).order_by(sc.create_time, sc.series_id).limit(limit)
        if instructor:
            query = query.where(sc.instructor == instructor)
        if after is not None:
            query = query.where(tuple_(sc.create_time, sc.series_id) > after)
        return [_series_to_domain(row) for row in self._conn.execute(query)]

    def series_due(self, bound: datetime, limit: int) -> list[str]:
        """Series with an occurrence not made yet that starts at or before `bound`."""
        sc = series.c
        rows = self._conn.execute(
            select(sc.series_id).where(sc.next_due <= bound).order_by(sc.next_due).limit(limit)
        )
        return [r.series_id for r in rows]

    def occurrence_dates(self, series_id: str, since: date) -> set[date]:
        """The local dates of the series' occurrences that exist as classes, from `since`."""
        c = classes.c
        rows = self._conn.execute(
            select(c.occurrence_date).where(c.series_id == series_id, c.occurrence_date >= since)
        )
        return {r.occurrence_date for r in rows}

    def add_occurrence(self, c: YogaClass) -> bool:
        """False if the occurrence exists already (the unique key: another run made it)."""
        return insert_new(self._conn, classes, _class_row(c))

    def occurrences_from(self, series_id: str, since: date) -> list[YogaClass]:
        """The series' classes on or after the local date `since`, in date order."""
        c = classes.c
        rows = self._conn.execute(
            select(classes)
            .where(c.series_id == series_id, c.occurrence_date >= since)
            .order_by(c.occurrence_date)
        )
        return [_to_domain(row) for row in rows]

    def move_occurrence(self, class_id: str, series_id: str) -> None:
        """The class becomes an occurrence of another series (a split), its date kept."""
        c = classes.c
        self._conn.execute(
            update(classes).where(c.class_id == class_id).values(series_id=series_id)
        )

    def series_edit(self, request_id: str) -> tuple[str, str, str, int] | None:
        """A stored edit: (request hash, series id, previous id, classes updated)."""
        e = series_edits.c
        row = self._conn.execute(
            select(e.request_hash, e.series_id, e.previous_id, e.classes_updated).where(
                e.request_id == request_id
            )
        ).first()
        return None if row is None else (row[0], row[1], row[2] or "", row[3])

    def add_series_edit(
        self,
        request_id: str,
        request_hash: str,
        series_id: str,
        previous_id: str,
        classes_updated: int,
        now: datetime,
    ) -> None:
        self._conn.execute(
            insert(series_edits).values(
                request_id=request_id,
                request_hash=request_hash,
                series_id=series_id,
                previous_id=previous_id or None,
                classes_updated=classes_updated,
                create_time=now,
            )
        )

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
                studio_settings,
                dict(id=STUDIO_ROW, version=target.version, **values),
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
            strikes,
            dict(reservation_id=reservation_id, user_id=user_id, kind=kind.value, time=at),
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
        insert_new(self._conn, member_standing, dict(user_id=user_id, version=0))
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
        held = self._conn.execute(_HELD_UPCOMING, {"user_id": user_id, "now": now})
        return int(held.scalar_one())


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
    # Issue 15; the defaults fill a row stored before them (24 h, 56 days).
    Column("reminder_lead_seconds", BigInteger, nullable=False, server_default="86400"),
    Column("series_horizon_seconds", BigInteger, nullable=False, server_default="4838400"),
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
        "reminder_lead_seconds": _seconds(rules.reminder_lead),
        "series_horizon_seconds": _seconds(rules.series_horizon),
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
        reminder_lead=timedelta(seconds=m["reminder_lead_seconds"]),
        series_horizon=timedelta(seconds=m["series_horizon_seconds"]),
    )
    return StudioSettings(rules, m["update_time"], m["version"])


def _standing_to_domain(row: Row[Any]) -> Standing:
    m = row._mapping
    return Standing(m["user_id"], m["blocked_until"], m["lifted_time"], m["version"])


# The events this service consumes and has applied (yogaclass_svc/consumers.py).
inbox = inbox_table(metadata)


# --- series (issue 15) --------------------------------------------------------------------
# A weekly pattern per row; its occurrences are rows of `classes` (series_id,
# occurrence_date). `next_due` is the start of its first occurrence not made yet (NULL: none
# left), so the materializer's due scan seeks one index.

series = Table(
    "series",
    metadata,
    Column("series_id", String(36), primary_key=True),
    Column("title", String(200), nullable=False),
    Column("instructor", String(200), nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("waitlist_capacity", Integer, nullable=False),
    Column("cancellation_window_s", Integer),
    Column("time_zone", String(64), nullable=False),
    Column("start_date", Date, nullable=False),
    Column("start_time", String(5), nullable=False),
    Column("duration_s", Integer, nullable=False),
    Column("recurrence", String(500), nullable=False),
    Column("status", String(16), nullable=False),
    Column("cancelled_from", Date),
    Column("previous_series_id", String(36)),
    Column("materialized_until", UtcDateTime, nullable=False),
    Column("next_due", UtcDateTime),
    Column("end_date", Date, nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("request_id", String(128), unique=True),
    Column("request_hash", String(64)),
    CheckConstraint("capacity > 0", name="ck_series_capacity"),
    CheckConstraint("duration_s > 0", name="ck_series_duration"),
    CheckConstraint("status IN ('ACTIVE', 'CANCELLED')", name="ck_series_status"),
    CheckConstraint("end_date >= start_date", name="ck_series_dates"),
    Index("ix_series_due", "next_due"),
    # ListSeries, all and by instructor, in the list's order.
    Index("ix_series_created", "create_time", "series_id"),
    Index("ix_series_instructor", "instructor", "create_time", "series_id"),
)

# UpdateSeries' idempotency keys: a retried edit answers as the first did.
series_edits = Table(
    "series_edits",
    metadata,
    Column("request_id", String(128), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("series_id", String(36), nullable=False),
    Column("previous_id", String(36)),
    Column("classes_updated", Integer, nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
)

_SERIES = select(series).where(series.c.series_id == bindparam("series_id"))


def _series_columns(s: Series) -> dict[str, Any]:
    p = s.pattern
    return {
        "title": p.title,
        "instructor": p.instructor,
        "capacity": p.capacity,
        "waitlist_capacity": p.waitlist_capacity,
        "cancellation_window_s": None
        if p.cancellation_window is None
        else _seconds(p.cancellation_window),
        "time_zone": p.time_zone,
        "start_date": p.start_date,
        "start_time": p.start_time.isoformat("minutes"),
        "duration_s": _seconds(p.duration),
        "recurrence": p.recurrence,
        "status": s.status.value,
        "cancelled_from": s.cancelled_from,
        "previous_series_id": s.previous_series_id or None,
        "materialized_until": s.materialized_until,
        "next_due": s.next_due,
        "end_date": s.end_date,
        "update_time": s.update_time,
        "version": s.version,
    }


def _series_to_domain(row: Row[Any]) -> Series:
    m = row._mapping
    window = m["cancellation_window_s"]
    return Series(
        series_id=m["series_id"],
        pattern=Pattern(
            title=m["title"],
            instructor=m["instructor"],
            capacity=m["capacity"],
            waitlist_capacity=m["waitlist_capacity"],
            cancellation_window=None if window is None else timedelta(seconds=window),
            time_zone=m["time_zone"],
            start_date=m["start_date"],
            start_time=time.fromisoformat(m["start_time"]),
            duration=timedelta(seconds=m["duration_s"]),
            recurrence=m["recurrence"],
        ),
        status=SeriesStatus(m["status"]),
        cancelled_from=m["cancelled_from"],
        previous_series_id=m["previous_series_id"] or "",
        materialized_until=m["materialized_until"],
        end_date=m["end_date"],
        create_time=m["create_time"],
        update_time=m["update_time"],
        version=m["version"],
    )
