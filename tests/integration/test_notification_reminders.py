"""Reminders and moved classes (issue 15) through notification_svc's real consumer path
(EventConsumer.apply with its inbox, on both topics it reads), the real reminder job with an
injected clock, the real mailer and a real SMTP server, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from notification_svc import storage
from notification_svc.consumers import handlers
from notification_svc.domain import EmailState, Kind, RetryPolicy
from notification_svc.mailer import Mailer, SmtpSender
from notification_svc.messages import to_proto
from notification_svc.reminder_job import ReminderJob
from notification_svc.reminders import (
    BOOKED_INSIDE_LEAD,
    CLASS_STARTED,
    Reminder,
    ReminderState,
    reminder_event_id,
)
from notification_svc.service import NotificationService
from notification_svc.storage import NotificationStore, reminders
from tests.integration.conftest import BACKENDS, migrated_database
from tests.integration.test_notification_service import (
    NO_KAFKA,
    SENDER,
    SmtpServer,
    all_notifications,
    count,
    envelope,
    smtp,  # noqa: F401  (the fixture)
)
from yoga.notification.v1 import notification_pb2
from yoga.reservation.v1 import events_pb2, reservation_pb2
from yoga.yogaclass.v1 import events_pb2 as class_events
from yoga.yogaclass.v1 import yogaclass_pb2
from yoga_common.consumer import EventConsumer
from yoga_common.db import Database
from yoga_common.events import Envelope
from yoga_common.retention import Kept, Retention
from yoga_common.settings import RetentionSettings
from yoga_common.timestamps import to_timestamp, utcnow
from yoga_common.topics import RESERVATION_EVENTS, YOGACLASS_EVENTS
from yoga_common.uow import Transactions

R = reservation_pb2
HOUR = timedelta(hours=1)
# Classes in 2030 (Asia/Seoul), booked days ahead; the job's clock is set per test.
START = datetime(2030, 3, 2, 0, 0, tzinfo=UTC)  # Sat 2 Mar 09:00 KST
BOOKED = START - 5 * 24 * HOUR

pytestmark = pytest.mark.integration


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with migrated_database(request.param, tmp_path, "notification") as database:
        yield database


def consumer(db: Database, name: str = "notification_svc") -> EventConsumer[NotificationStore]:
    return EventConsumer(
        name,
        Transactions(db, NotificationStore),
        storage.inbox,
        [RESERVATION_EVENTS, YOGACLASS_EVENTS],
        handlers({}, "UTC"),
        NO_KAFKA,
    )


def job(db: Database, at: datetime, batch: int = 10) -> ReminderJob:
    return ReminderJob(
        NotificationService(Transactions(db, NotificationStore)), lambda: at, batch_size=batch
    )


def mailer(db: Database, smtp: SmtpServer, at: datetime) -> Mailer:  # noqa: F811
    """The real mailer on the job's clock (the reminders it makes are due at its `now`)."""
    return Mailer(
        NotificationService(Transactions(db, NotificationStore)),
        SmtpSender("127.0.0.1", smtp.port, timeout=5.0),
        SENDER,
        RetryPolicy(max_attempts=3, base_seconds=0.2, max_seconds=1.0),
        lambda: at,
    )


def booking(
    user: str,
    *,
    start: datetime = START,
    at: datetime = BOOKED,
    version: int = 2,
    status: R.ReservationStatus = R.RESERVATION_STATUS_CONFIRMED,
    reason: R.ReservationReason = R.RESERVATION_REASON_UNSPECIFIED,
    reservation_id: str = "",
) -> R.Reservation:
    return R.Reservation(
        reservation_id=reservation_id or f"r-{user}-{uuid.uuid4().hex[:8]}",
        class_id="c-1",
        user_id=user,
        status=status,
        reason=reason,
        class_title="Morning Vinyasa",
        class_start_time=to_timestamp(start),
        class_end_time=to_timestamp(start + HOUR),
        class_time_zone="Asia/Seoul",
        update_time=to_timestamp(at),
        version=version,
    )


def confirmed(r: R.Reservation) -> Envelope:
    return envelope(
        events_pb2.ReservationConfirmed(reservation=r, user_email=f"{r.user_id}@example.com")
    )


def advanced(r: R.Reservation, **fields: Any) -> R.Reservation:
    """The reservation's next version, with `fields` changed."""
    after = R.Reservation()
    after.CopyFrom(r)
    after.version = r.version + 1
    for name, value in fields.items():
        if isinstance(value, datetime):
            getattr(after, name).CopyFrom(to_timestamp(value))
        else:
            setattr(after, name, value)
    return after


def cancelled_event(r: R.Reservation) -> Envelope:
    return envelope(
        events_pb2.ReservationCancelled(
            reservation=advanced(
                r,
                status=R.RESERVATION_STATUS_CANCELLED,
                reason=R.RESERVATION_REASON_CANCELLED_BY_USER,
            ),
            user_email=f"{r.user_id}@example.com",
        )
    )


def moved(r: R.Reservation, to: datetime, at: datetime) -> tuple[Envelope, R.Reservation]:
    """The studio moved `r`'s class to `to` at `at`: the event, and the reservation after."""
    after = advanced(r, class_start_time=to, class_end_time=to + HOUR, update_time=at)
    event = events_pb2.ReservationRescheduled(
        reservation=after,
        user_email=f"{r.user_id}@example.com",
        previous_start_time=r.class_start_time,
        previous_end_time=r.class_end_time,
    )
    return envelope(event), after


def settings_changed(lead: timedelta, version: int, at: datetime = BOOKED) -> Envelope:
    s = yogaclass_pb2.StudioSettings(version=version, update_time=to_timestamp(at))
    s.reminder_lead.FromTimedelta(lead)
    event = class_events.StudioSettingsChanged(settings=s, changed_fields=["reminder_lead"])
    return Envelope(
        event_id=str(uuid.uuid4()),
        event_type=event.DESCRIPTOR.full_name,
        source="yogaclass_svc",
        time=utcnow().isoformat(),
        key="studio",
        payload=event.SerializeToString(),
        topic=YOGACLASS_EVENTS,
    )


def all_reminders(db: Database) -> dict[str, Reminder]:
    rows = db.run_sync(lambda c: list(c.execute(select(reminders))), write=False)
    return {row.user_id: storage._reminder(row) for row in rows}


def reminder_notices(db: Database) -> dict[str, Any]:
    return {n.user_id: n for n in all_notifications(db) if n.kind is Kind.REMINDER}


# --- one reminder per eligible booking, emailed once -----------------------------------------


async def test_exactly_one_reminder_email_per_eligible_booking(
    db: Database,
    smtp: SmtpServer,  # noqa: F811
) -> None:
    smtp.start()
    c = consumer(db)
    u1, u2 = booking("u1"), booking("u2")
    inside = booking("u3", at=START - 2 * HOUR)  # booked inside the 24 h lead
    cancelled = booking("u4")
    events = [confirmed(r) for r in (u1, u2, inside, cancelled)]
    for e in events:
        assert c.apply(e) is True
    # Cancelled after its reminder was scheduled: none is ever sent.
    assert all_reminders(db)["u4"].state is ReminderState.SCHEDULED
    c.apply(cancelled_event(cancelled))
    # u1's confirmation again, past the inbox (a replay): nothing changes.
    assert consumer(db, "replay").apply(events[0]) is True
    found = all_reminders(db)
    assert {u: (r.state, r.reason) for u, r in found.items()} == {
        "u1": (ReminderState.SCHEDULED, ""),
        "u2": (ReminderState.SCHEDULED, ""),
        "u3": (ReminderState.SKIPPED, BOOKED_INSIDE_LEAD),
        "u4": (ReminderState.CANCELLED, "CANCELLED_BY_USER"),
    }
    assert found["u1"].due_at == START - 24 * HOUR

    # Before the due time the job sends nothing; at it, the two eligible ones.
    assert await job(db, START - 25 * HOUR).send_due() == []
    sent = await job(db, START - 24 * HOUR, batch=1).send_due()
    assert sorted(r.user_id for r in sent) == ["u1", "u2"]
    assert await job(db, START - 23 * HOUR).send_due() == []  # a second pass, a second job
    m = mailer(db, smtp, START - 23 * HOUR)
    assert await m.deliver_due() == 7  # four booked, one cancelled, two reminders
    assert await m.deliver_due() == 0
    subjects = [str(msg["Subject"]) for msg in smtp.received()]
    assert (
        sorted(s for s in subjects if s.startswith("Reminder"))
        == ["Reminder: Morning Vinyasa on Sat 2 Mar 09:00 KST"] * 2
    )
    reminded = {
        str(msg["To"]) for msg in smtp.received() if str(msg["Subject"]).startswith("Reminder")
    }
    assert reminded == {"u1@example.com", "u2@example.com"}
    notices = reminder_notices(db)
    assert set(notices) == {"u1", "u2"}
    assert notices["u1"].event_id == reminder_event_id(u1.reservation_id)
    assert {n.email_state for n in notices.values()} == {EmailState.SENT}
    assert {u: r.state for u, r in all_reminders(db).items()} == {
        "u1": ReminderState.SENT,
        "u2": ReminderState.SENT,
        "u3": ReminderState.SKIPPED,
        "u4": ReminderState.CANCELLED,
    }
    # What the API returns: the kind, and the class's zone the text is written in.
    message = to_proto(notices["u1"])
    assert message.kind == notification_pb2.NOTIFICATION_KIND_REMINDER
    assert message.class_time_zone == "Asia/Seoul"


async def test_a_seoul_class_reads_in_kst_in_its_email(
    db: Database,
    smtp: SmtpServer,  # noqa: F811
) -> None:
    smtp.start()
    consumer(db).apply(confirmed(booking("u1")))
    assert await mailer(db, smtp, utcnow()).deliver_due() == 1
    [message] = smtp.received()
    assert message["Subject"] == "Booked: Morning Vinyasa on Sat 2 Mar 09:00 KST"
    assert "Sat 2 Mar 09:00 KST" in message.get_content()
    [n] = all_notifications(db)
    assert n.class_time_zone == "Asia/Seoul"


# --- late after downtime ---------------------------------------------------------------------


async def test_a_job_back_after_downtime_sends_what_has_not_started_and_drops_the_rest(
    db: Database,
    smtp: SmtpServer,  # noqa: F811
) -> None:
    smtp.start()
    c = consumer(db)
    started = booking("u1", start=START)
    still_to_come = booking("u2", start=START + 3 * HOUR)
    for r in (started, still_to_come):
        c.apply(confirmed(r))
    # The job did not run from before the first due time until after the first class began.
    back = START + HOUR
    handled = {r.user_id: r for r in await job(db, back).send_due()}
    assert {u: (r.state, r.reason) for u, r in handled.items()} == {
        "u1": (ReminderState.DROPPED, CLASS_STARTED),
        "u2": (ReminderState.SENT, ""),
    }
    recorded = all_reminders(db)
    assert (recorded["u1"].state, recorded["u1"].reason) == (ReminderState.DROPPED, CLASS_STARTED)
    assert recorded["u2"].state is ReminderState.SENT
    assert set(reminder_notices(db)) == {"u2"}
    assert await mailer(db, smtp, back).deliver_due() == 3
    reminders_mailed = [
        str(msg["To"]) for msg in smtp.received() if str(msg["Subject"]).startswith("Reminder")
    ]
    assert reminders_mailed == ["u2@example.com"]
    assert await job(db, back + HOUR).send_due() == []


# --- a moved class ---------------------------------------------------------------------------


async def test_a_moved_class_notifies_once_and_moves_the_reminder(db: Database) -> None:
    c = consumer(db)
    r = booking("u1")
    c.apply(confirmed(r))
    moved_to = START + 24 * HOUR
    move, r = moved(r, moved_to, BOOKED + HOUR)
    assert c.apply(move) is True
    assert c.apply(move) is False  # redelivered: the inbox drops it
    assert consumer(db, "replay").apply(move) is True  # past the inbox: the id holds
    [notice] = [n for n in all_notifications(db) if n.kind is Kind.RESCHEDULED]
    assert notice.subject == "Moved: Morning Vinyasa to Sun 3 Mar 09:00 KST"
    assert "from Sat 2 Mar 09:00 KST to Sun 3 Mar 09:00 KST" in notice.body
    assert notice.email_state is EmailState.PENDING
    assert count(db, "notifications") == 2  # booked, moved
    waiting = all_reminders(db)["u1"]
    assert (waiting.state, waiting.due_at, waiting.version) == (
        ReminderState.SCHEDULED,
        moved_to - 24 * HOUR,
        3,
    )
    # Nothing at the old due time; the reminder at the new one.
    assert await job(db, START - 24 * HOUR).send_due() == []
    assert [x.user_id for x in await job(db, moved_to - 24 * HOUR).send_due()] == ["u1"]
    # Moved again after it was sent: the member hears of the move, not a second reminder.
    again, _ = moved(r, moved_to + 24 * HOUR, moved_to - 20 * HOUR)
    assert c.apply(again) is True
    assert all_reminders(db)["u1"].state is ReminderState.SENT
    assert await job(db, moved_to + 2 * HOUR).send_due() == []
    assert len(reminder_notices(db)) == 1


# --- the studio's lead -----------------------------------------------------------------------


async def test_the_studios_lead_moves_waiting_reminders_and_an_older_one_is_ignored(
    db: Database,
) -> None:
    c = consumer(db)
    for user in ("u1", "u2"):
        c.apply(confirmed(booking(user)))
    assert c.apply(settings_changed(2 * HOUR, version=5)) is True
    assert {r.due_at for r in all_reminders(db).values()} == {START - 2 * HOUR}
    # An older settings event (version 4) arriving late changes nothing.
    assert c.apply(settings_changed(48 * HOUR, version=4)) is True
    assert {r.due_at for r in all_reminders(db).values()} == {START - 2 * HOUR}
    # A booking confirmed now takes the lead held.
    c.apply(confirmed(booking("u3")))
    assert all_reminders(db)["u3"].due_at == START - 2 * HOUR
    # Off: nothing is sent; on again: sent at the new lead.
    c.apply(settings_changed(timedelta(0), version=6))
    assert {r.state for r in all_reminders(db).values()} == {ReminderState.SKIPPED}
    assert await job(db, START - HOUR).send_due() == []
    c.apply(settings_changed(3 * HOUR, version=7))
    sent = await job(db, START - 3 * HOUR).send_due()
    assert sorted(r.user_id for r in sent) == ["u1", "u2", "u3"]


# --- retention -------------------------------------------------------------------------------


def test_reminder_rows_are_pruned_after_their_class(db: Database) -> None:
    c = consumer(db)
    c.apply(confirmed(booking("u1", start=START)))
    c.apply(confirmed(booking("u2", start=START + 30 * 24 * HOUR)))
    settings = RetentionSettings(inbox_hours=14 * 24, batch_size=1)
    retention = Retention(
        db, [Kept(reminders, reminders.c.class_start_time, settings.inbox_hours)], settings
    )
    assert retention.prune(START + 13 * 24 * HOUR) == {"reminders": 0}
    assert retention.prune(START + 15 * 24 * HOUR) == {"reminders": 1}
    assert set(all_reminders(db)) == {"u2"}


# --- concurrent changes ----------------------------------------------------------------------


async def test_a_change_decided_on_a_stale_read_is_refused(db: Database) -> None:
    """A cancel read the reminder SCHEDULED, then the job sent it: the cancel's write must not
    land (the service reads again and keeps SENT)."""
    r = booking("u1")
    consumer(db).apply(confirmed(r))
    read = all_reminders(db)["u1"]
    assert [x.user_id for x in await job(db, START - 24 * HOUR).send_due()] == ["u1"]
    cancelled = replace(read, state=ReminderState.CANCELLED, version=read.version + 1)
    assert db.run_sync(lambda c: NotificationStore(c).save_reminder(cancelled, read)) is False
    consumer(db).apply(cancelled_event(r))
    after = all_reminders(db)["u1"]
    assert (after.state, after.version) == (ReminderState.SENT, read.version + 1)
