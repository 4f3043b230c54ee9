"""Everything notification_svc keeps: notifications (with their email delivery state), the
reminders to send before classes, the studio's reminder lead as last heard, and the inbox of
applied events. `NotificationStore` works inside the caller's transaction (a unit of
work): queries and atomic primitives, no rules.

One notification per event and recipient: the inbox drops a redelivered event, and a unique
constraint on (event_id, user_id) holds even if it did not. A mailer owns a notification it
sends through a claim: one conditional UPDATE that moves `next_attempt_at` past now, so no other
mailer (or a restarted one) picks it up while the email is on its way. A mailer claims a batch
of due notifications in one transaction and records their outcomes in another."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    Row,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    select,
    text,
    tuple_,
    update,
)

from notification_svc.domain import EmailState, Kind, Notification
from notification_svc.reminders import RECONSIDERED, Reminder, ReminderState, StudioLead
from yoga_common.db import UtcDateTime, events_written, insert_new
from yoga_common.outbox import inbox_table

metadata = MetaData()

_PENDING = text("email_state = 'PENDING'")
_SCHEDULED = text("state = 'SCHEDULED'")

notifications = Table(
    "notifications",
    metadata,
    Column("notification_id", String(36), primary_key=True),
    Column("event_id", String(64), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("reservation_id", String(64), nullable=False),
    Column("class_id", String(64), nullable=False),
    Column("class_title", String(200), nullable=False),
    Column("class_start_time", UtcDateTime),
    Column("subject", String(400), nullable=False),
    Column("body", Text, nullable=False),
    Column("email", String(320), nullable=False),
    Column("email_state", String(8), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UtcDateTime),
    Column("last_error", Text, nullable=False, server_default=""),
    # Set while a mailer owns the notification (it is being sent).
    Column("claim_id", String(36)),
    Column("create_time", UtcDateTime, nullable=False),
    Column("sent_time", UtcDateTime),
    Column("class_time_zone", String(64), nullable=False, server_default=""),
    UniqueConstraint("event_id", "user_id", name="uq_notifications_event_user"),
    CheckConstraint(
        "kind IN ('BOOKED', 'REJECTED', 'CANCELLED', 'CLASS_CANCELLED', 'WAITLISTED',"
        " 'PROMOTED', 'WAITLIST_EXPIRED', 'ATTENDED', 'NO_SHOW', 'BLOCKED', 'BLOCK_LIFTED',"
        " 'RESCHEDULED', 'REMINDER')",
        name="ck_notifications_kind",
    ),
    CheckConstraint(
        "email_state IN ('PENDING', 'SENT', 'FAILED', 'SKIPPED')", name="ck_notifications_state"
    ),
    CheckConstraint(
        "(email_state = 'PENDING') = (next_attempt_at IS NOT NULL)",
        name="ck_notifications_next_attempt",
    ),
    CheckConstraint("attempts >= 0", name="ck_notifications_attempts"),
    Index("ix_notifications_user", "user_id", "create_time", "notification_id"),
    Index(
        "ix_notifications_due",
        "next_attempt_at",
        "notification_id",
        sqlite_where=_PENDING,
        postgresql_where=_PENDING,
    ),
)

# One reminder per reservation (reminders.py); due times live here, not in timers.
reminders = Table(
    "reminders",
    metadata,
    Column("reservation_id", String(64), primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("class_id", String(64), nullable=False),
    Column("class_title", String(200), nullable=False),
    Column("class_start_time", UtcDateTime, nullable=False),
    Column("class_time_zone", String(64), nullable=False),
    Column("email", String(320), nullable=False),
    Column("due_at", UtcDateTime, nullable=False),
    Column("state", String(9), nullable=False),
    Column("reason", String(32), nullable=False, server_default=""),
    # The reservation version last applied: an older event changes nothing.
    Column("version", BigInteger, nullable=False),
    Column("decided_at", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    CheckConstraint(
        "state IN ('SCHEDULED', 'SENT', 'CANCELLED', 'DROPPED', 'SKIPPED')",
        name="ck_reminders_state",
    ),
    CheckConstraint("version >= 0", name="ck_reminders_version"),
    # The job's scan: waiting reminders in due order.
    Index(
        "ix_reminders_due",
        "due_at",
        "reservation_id",
        sqlite_where=_SCHEDULED,
        postgresql_where=_SCHEDULED,
    ),
    # Retention, and a change of the studio's lead (the classes still to come).
    Index("ix_reminders_class_start", "class_start_time"),
)

# The studio's reminder lead as last heard (StudioSettingsChanged): one row at most.
studio_lead = Table(
    "studio_lead",
    metadata,
    Column("studio", String(16), primary_key=True),
    Column("lead_seconds", BigInteger, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    CheckConstraint("lead_seconds >= 0", name="ck_studio_lead_seconds"),
)
STUDIO = "studio"

inbox = inbox_table(metadata)


_n = notifications.c
# Built once (the mailer runs them for every email).
_CLAIM = (
    update(notifications)
    .where(
        _n.notification_id.in_(bindparam("ids", expanding=True)),
        _n.email_state == bindparam("pending"),
        _n.next_attempt_at <= bindparam("now", type_=_n.next_attempt_at.type),
    )
    .values(
        next_attempt_at=bindparam("until", type_=_n.next_attempt_at.type),
        claim_id=bindparam("new_claim"),
    )
    .returning(*notifications.c)
)
_FINISH = (
    update(notifications)
    .where(
        _n.notification_id == bindparam("id"),
        _n.email_state == bindparam("pending"),
        _n.claim_id == bindparam("claim"),
    )
    .values(
        claim_id=None,
        **{
            name: bindparam(f"new_{name}", type_=_n[name].type)
            for name in ("email_state", "attempts", "next_attempt_at", "last_error", "sent_time")
        },
    )
)


# Built once too (each confirmed booking's event runs them).
_r = reminders.c
_REMINDER = select(reminders).where(_r.reservation_id == bindparam("reservation_id"))
# The SET clause comes from the parameters given (`_reminder_columns`).
_REPLACE_REMINDER = update(reminders).where(
    _r.reservation_id == bindparam("where_id"),
    _r.version == bindparam("where_version"),
    _r.state == bindparam("where_state"),
)
_LEAD = select(studio_lead).where(studio_lead.c.studio == STUDIO)
_LEAD_HELD = _LEAD.with_for_update(read=True)


def _to_domain(row: Row[Any]) -> Notification:
    m = row._mapping
    return Notification(
        notification_id=m["notification_id"],
        event_id=m["event_id"],
        user_id=m["user_id"],
        kind=Kind(m["kind"]),
        reservation_id=m["reservation_id"],
        class_id=m["class_id"],
        class_title=m["class_title"],
        class_start_time=m["class_start_time"],
        subject=m["subject"],
        body=m["body"],
        email=m["email"],
        email_state=EmailState(m["email_state"]),
        attempts=m["attempts"],
        next_attempt_at=m["next_attempt_at"],
        last_error=m["last_error"],
        create_time=m["create_time"],
        sent_time=m["sent_time"],
        class_time_zone=m["class_time_zone"],
    )


def _reminder(row: Row[Any]) -> Reminder:
    # The table's columns are the reminder's fields.
    m = row._mapping
    return Reminder(**{**m, "state": ReminderState(m["state"])})


def _reminder_columns(r: Reminder) -> dict[str, Any]:
    columns = {**asdict(r), "state": r.state.value}
    del columns["reservation_id"]
    return columns


def _delivery_columns(n: Notification) -> dict[str, Any]:
    return {
        "email_state": n.email_state.value,
        "attempts": n.attempts,
        "next_attempt_at": n.next_attempt_at,
        "last_error": n.last_error,
        "sent_time": n.sent_time,
    }


class NotificationStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, n: Notification) -> bool:
        """Stores a new notification; False when this event already notified this recipient."""
        added = insert_new(
            self._conn,
            notifications,
            dict(
                notification_id=n.notification_id,
                event_id=n.event_id,
                user_id=n.user_id,
                kind=n.kind.value,
                reservation_id=n.reservation_id,
                class_id=n.class_id,
                class_title=n.class_title,
                class_start_time=n.class_start_time,
                class_time_zone=n.class_time_zone,
                subject=n.subject,
                body=n.body,
                email=n.email,
                create_time=n.create_time,
                **_delivery_columns(n),
            ),
        )
        if not added:
            return False
        if n.email_state is EmailState.PENDING:
            events_written(self._conn)  # wakes the mailer once committed
        return True

    def get(self, notification_id: str) -> Notification | None:
        query = select(notifications).where(notifications.c.notification_id == notification_id)
        row = self._conn.execute(query).first()
        return _to_domain(row) if row else None

    def page(
        self, user_id: str, limit: int, after: tuple[datetime, str] | None
    ) -> list[Notification]:
        """A user's notifications, newest first, after the keyset position `after`."""
        c = notifications.c
        query = (
            select(notifications)
            .where(c.user_id == user_id)
            .order_by(c.create_time.desc(), c.notification_id.desc())
            .limit(limit)
        )
        if after is not None:
            query = query.where(tuple_(c.create_time, c.notification_id) < after)
        return [_to_domain(r) for r in self._conn.execute(query)]

    def due(self, now: datetime, limit: int) -> list[str]:
        """Ids of PENDING notifications whose next try is due, oldest due first."""
        c = notifications.c
        query = (
            select(c.notification_id)
            .where(c.email_state == EmailState.PENDING.value, c.next_attempt_at <= now)
            .order_by(c.next_attempt_at, c.notification_id)
            .limit(limit)
        )
        return list(self._conn.execute(query).scalars())

    def claim(
        self, notification_id: str, now: datetime, until: datetime, claim_id: str
    ) -> Notification | None:
        """Takes a due notification for sending until `until`: one conditional UPDATE, so no
        other mailer has it meanwhile. None if it is not due (any more)."""
        c = notifications.c
        taken = self._conn.execute(
            update(notifications)
            .where(
                c.notification_id == notification_id,
                c.email_state == EmailState.PENDING.value,
                c.next_attempt_at <= now,
            )
            .values(next_attempt_at=until, claim_id=claim_id)
        )
        if taken.rowcount != 1:
            return None
        return self.get(notification_id)

    def claim_due(
        self, now: datetime, until: datetime, claim_id: str, limit: int
    ) -> list[Notification]:
        """Takes up to `limit` due notifications for sending until `until`, oldest due first:
        one conditional UPDATE over the due ones, so a notification another mailer claimed
        meanwhile is left out (on PostgreSQL the UPDATE waits for that mailer's commit and
        finds it no longer due)."""
        ids = self.due(now, limit)
        if not ids:
            return []
        taken = self._conn.execute(
            _CLAIM,
            {
                "ids": ids,
                "pending": EmailState.PENDING.value,
                "now": now,
                "until": until,
                "new_claim": claim_id,
            },
        )
        by_id = {row.notification_id: _to_domain(row) for row in taken}
        return [by_id[i] for i in ids if i in by_id]

    def finish(self, n: Notification, claim_id: str) -> bool:
        """Records the outcome of a send by the mailer holding `claim_id`; False if the claim
        was lost (it expired and another mailer took the notification)."""
        done = self._conn.execute(
            _FINISH,
            {
                "id": n.notification_id,
                "pending": EmailState.PENDING.value,
                "claim": claim_id,
                **{f"new_{name}": value for name, value in _delivery_columns(n).items()},
            },
        )
        return done.rowcount == 1

    # --- reminders ---------------------------------------------------------------------------

    def reminder(self, reservation_id: str) -> Reminder | None:
        row = self._conn.execute(_REMINDER, {"reservation_id": reservation_id}).first()
        return _reminder(row) if row else None

    def save_reminder(self, r: Reminder, read: Reminder | None) -> bool:
        """Writes the reminder: a new row when there was none (`read` is None), else the row
        only while it still holds the version and state read; False when something changed it
        meanwhile (another event, the job sending it)."""
        if read is None:
            return insert_new(
                self._conn,
                reminders,
                dict(reservation_id=r.reservation_id, **_reminder_columns(r)),
            )
        done = self._conn.execute(
            _REPLACE_REMINDER,
            {
                **_reminder_columns(r),
                "where_id": r.reservation_id,
                "where_version": read.version,
                "where_state": read.state.value,
            },
        )
        return done.rowcount == 1

    def reconsidered_reminders(self, after: datetime) -> list[Reminder]:
        """Reminders a change of the studio's lead may move: of classes starting after
        `after`, waiting or skipped."""
        c = reminders.c
        query = select(reminders).where(
            c.class_start_time > after, c.state.in_([s.value for s in RECONSIDERED])
        )
        return [_reminder(row) for row in self._conn.execute(query)]

    def update_reminder(self, r: Reminder, state: ReminderState) -> bool:
        """Moves a reminder on from `state` (due time, state, reason); False if it was no
        longer in `state`."""
        c = reminders.c
        done = self._conn.execute(
            update(reminders)
            .where(c.reservation_id == r.reservation_id, c.state == state.value)
            .values(
                due_at=r.due_at, state=r.state.value, reason=r.reason, update_time=r.update_time
            )
        )
        return done.rowcount == 1

    def claim_due_reminders(self, now: datetime, limit: int) -> list[Reminder]:
        """SCHEDULED reminders due at `now`, in due order, locked for this transaction; on
        PostgreSQL rows another replica's job holds are skipped, not waited for (SQLite has
        one writer at a time, and the clause is not rendered there)."""
        c = reminders.c
        query = (
            select(reminders)
            .where(c.state == ReminderState.SCHEDULED.value, c.due_at <= now)
            .order_by(c.due_at, c.reservation_id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [_reminder(row) for row in self._conn.execute(query)]

    def studio_lead(self, share: bool = False) -> StudioLead | None:
        """The lead held. `share` keeps it from changing until this transaction ends (on
        PostgreSQL: FOR SHARE), so a reminder scheduled with it cannot miss a new lead's
        recomputation running beside it."""
        row = self._conn.execute(_LEAD_HELD if share else _LEAD).first()
        if row is None:
            return None
        return StudioLead(timedelta(seconds=row.lead_seconds), row.version)

    def save_studio_lead(self, lead: StudioLead, now: datetime) -> bool:
        """Keeps `lead` unless a newer version is held already: True if it was kept."""
        c = studio_lead.c
        values = {
            "lead_seconds": int(lead.lead.total_seconds()),
            "version": lead.version,
            "update_time": now,
        }
        if insert_new(self._conn, studio_lead, dict(studio=STUDIO, **values)):
            return True
        done = self._conn.execute(
            update(studio_lead).where(c.studio == STUDIO, c.version < lead.version).values(**values)
        )
        return done.rowcount == 1
