"""Rules of reminders (notification_svc.reminders) and the RESCHEDULED text: due time, a
booking inside the lead, cancel, a moved class, a new lead, older versions, late reminders;
every time passed in, as the consumer and the job's injectable clock pass it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from notification_svc import messages
from notification_svc.domain import EmailState, Kind, Outcome, ReservationFact, new_notification
from notification_svc.reminder_job import ReminderJob
from notification_svc.reminders import (
    BOOKED_INSIDE_LEAD,
    CLASS_STARTED,
    DEFAULT_LEAD,
    MOVED_INSIDE_LEAD,
    REMINDERS_OFF,
    Booking,
    Reminder,
    ReminderState,
    StudioLead,
    at_due,
    lead_of,
    newer_lead,
    on_event,
    reminder_event_id,
    reminder_notification,
    with_lead,
)
from yoga.reservation.v1 import events_pb2, reservation_pb2
from yoga.yogaclass.v1 import events_pb2 as class_events
from yoga.yogaclass.v1 import yogaclass_pb2
from yoga_common.timestamps import to_timestamp

START = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)  # Tue 1 Jan 18:00 in Seoul
HOUR = timedelta(hours=1)
BOOKED_AT = START - 3 * 24 * HOUR
NOW = BOOKED_AT + timedelta(seconds=2)


def a_booking(**kw: object) -> Booking:
    booking = Booking(
        reservation_id="r-1",
        user_id="11",
        class_id="c-1",
        class_title="Morning Vinyasa",
        class_start_time=START,
        class_time_zone="Asia/Seoul",
        email="m11@example.com",
        confirmed=True,
        version=2,
        changed_at=BOOKED_AT,
    )
    return replace(booking, **kw)  # type: ignore[arg-type]


def scheduled(**kw: object) -> Reminder:
    r = on_event(None, a_booking(**kw), DEFAULT_LEAD, NOW)
    assert r is not None
    return r


# --- scheduling ------------------------------------------------------------------------------


def test_a_confirmed_booking_is_reminded_the_lead_before_its_class() -> None:
    r = scheduled()
    assert (r.state, r.due_at, r.reason, r.version) == (
        ReminderState.SCHEDULED,
        START - 24 * HOUR,
        "",
        2,
    )
    assert (r.email, r.class_time_zone, r.decided_at) == (
        "m11@example.com",
        "Asia/Seoul",
        BOOKED_AT,
    )
    assert on_event(None, a_booking(), 2 * HOUR, NOW).due_at == START - 2 * HOUR  # type: ignore[union-attr]


@pytest.mark.parametrize("before_due", [timedelta(0), -timedelta(seconds=1), -HOUR])
def test_a_booking_confirmed_inside_the_lead_gets_none(before_due: timedelta) -> None:
    """At or after the due time, by the reservation's own update_time."""
    r = scheduled(changed_at=START - 24 * HOUR - before_due)
    assert (r.state, r.reason) == (ReminderState.SKIPPED, BOOKED_INSIDE_LEAD)


def test_inside_is_decided_by_the_event_not_by_when_the_consumer_runs() -> None:
    """A consumer catching up two days late (past the due time) decides as one on time."""
    late = on_event(None, a_booking(), DEFAULT_LEAD, START - 2 * HOUR)
    assert late is not None and late.state is ReminderState.SCHEDULED
    assert late.due_at == START - 24 * HOUR


def test_a_lead_of_zero_means_no_reminders() -> None:
    r = on_event(None, a_booking(), timedelta(0), NOW)
    assert r is not None and (r.state, r.reason) == (ReminderState.SKIPPED, REMINDERS_OFF)


def test_an_event_without_a_start_schedules_nothing() -> None:
    assert on_event(None, a_booking(class_start_time=None), DEFAULT_LEAD, NOW) is None


# --- cancel ----------------------------------------------------------------------------------


def test_a_booking_no_longer_confirmed_cancels_its_reminder() -> None:
    r = scheduled()
    after = on_event(
        r, a_booking(confirmed=False, version=3, reason="CANCELLED_BY_USER"), DEFAULT_LEAD, NOW
    )
    assert after is not None
    assert (after.state, after.reason, after.version) == (
        ReminderState.CANCELLED,
        "CANCELLED_BY_USER",
        3,
    )


def test_an_event_of_a_reservation_never_confirmed_writes_nothing() -> None:
    assert on_event(None, a_booking(confirmed=False), DEFAULT_LEAD, NOW) is None


def test_a_sent_reminder_stays_sent_after_a_cancel() -> None:
    sent = at_due(scheduled(), START - 24 * HOUR)
    after = on_event(
        sent, a_booking(confirmed=False, version=3, reason="NO_SHOW"), DEFAULT_LEAD, NOW
    )
    assert after is not None and (after.state, after.version) == (ReminderState.SENT, 3)


# --- versions --------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [1, 2])
def test_an_older_or_the_same_version_changes_nothing(version: int) -> None:
    r = scheduled()  # version 2
    assert on_event(r, a_booking(confirmed=False, version=version), DEFAULT_LEAD, NOW) is None
    cancelled = on_event(r, a_booking(confirmed=False, version=5), DEFAULT_LEAD, NOW)
    assert cancelled is not None
    # The confirmation replayed after the cancel does not bring the reminder back.
    assert on_event(cancelled, a_booking(version=2), DEFAULT_LEAD, NOW) is None


# --- a moved class ---------------------------------------------------------------------------


def test_a_moved_class_moves_the_due_time() -> None:
    r = scheduled()
    moved_at = NOW + HOUR
    later = START + 7 * 24 * HOUR
    after = on_event(
        r,
        a_booking(class_start_time=later, version=3, changed_at=moved_at, moved=True),
        DEFAULT_LEAD,
        moved_at,
    )
    assert after is not None
    assert (after.state, after.due_at, after.class_start_time, after.decided_at) == (
        ReminderState.SCHEDULED,
        later - 24 * HOUR,
        later,
        moved_at,
    )


def test_a_class_moved_to_inside_the_lead_gets_no_reminder() -> None:
    moved_at = START - 30 * HOUR
    sooner = moved_at + 2 * HOUR
    after = on_event(
        scheduled(),
        a_booking(class_start_time=sooner, version=3, changed_at=moved_at, moved=True),
        DEFAULT_LEAD,
        moved_at,
    )
    assert after is not None and (after.state, after.reason) == (
        ReminderState.SKIPPED,
        MOVED_INSIDE_LEAD,
    )


def test_a_sent_reminder_is_not_sent_again_for_the_new_time() -> None:
    sent = at_due(scheduled(), START - 24 * HOUR)
    moved = a_booking(class_start_time=START + 24 * HOUR, version=3, moved=True)
    after = on_event(sent, moved, DEFAULT_LEAD, NOW)
    assert after is not None
    assert (after.state, after.due_at, after.class_start_time) == (
        ReminderState.SENT,
        sent.due_at,
        START,
    )


def test_a_move_of_a_reservation_still_waiting_writes_nothing() -> None:
    waiting = a_booking(confirmed=False, moved=True)
    assert on_event(None, waiting, DEFAULT_LEAD, NOW) is None


# --- the studio's lead -----------------------------------------------------------------------


def test_a_new_lead_moves_a_waiting_reminder() -> None:
    r = scheduled()
    after = with_lead(r, 2 * HOUR, NOW)
    assert after is not None and (after.state, after.due_at) == (
        ReminderState.SCHEDULED,
        START - 2 * HOUR,
    )
    assert with_lead(r, DEFAULT_LEAD, NOW) is None  # the same lead changes nothing


def test_a_longer_lead_is_judged_against_when_the_booking_was_made() -> None:
    r = scheduled()  # booked 72 h before the class
    assert with_lead(r, 71 * HOUR, NOW).state is ReminderState.SCHEDULED  # type: ignore[union-attr]
    longer = with_lead(r, 80 * HOUR, NOW)
    assert longer is not None and (longer.state, longer.reason) == (
        ReminderState.SKIPPED,
        BOOKED_INSIDE_LEAD,
    )


def test_a_shorter_lead_reminds_a_booking_that_was_inside_the_longer_one() -> None:
    """Settings and bookings arrive on different topics: the order they are heard in does not
    change the outcome."""
    inside = scheduled(changed_at=START - 10 * HOUR)
    assert (inside.state, inside.reason) == (ReminderState.SKIPPED, BOOKED_INSIDE_LEAD)
    shorter = with_lead(inside, 2 * HOUR, NOW)
    assert shorter is not None
    heard_first = on_event(None, a_booking(changed_at=START - 10 * HOUR), 2 * HOUR, NOW)
    assert heard_first is not None
    assert (shorter.state, shorter.due_at) == (heard_first.state, heard_first.due_at)
    assert (shorter.state, shorter.due_at) == (ReminderState.SCHEDULED, START - 2 * HOUR)


def test_reminders_turned_off_and_on_again() -> None:
    off = with_lead(scheduled(), timedelta(0), NOW)
    assert off is not None and (off.state, off.reason) == (ReminderState.SKIPPED, REMINDERS_OFF)
    on = with_lead(off, 3 * HOUR, NOW)
    assert on is not None and (on.state, on.due_at) == (ReminderState.SCHEDULED, START - 3 * HOUR)


@pytest.mark.parametrize(
    "state", [ReminderState.SENT, ReminderState.CANCELLED, ReminderState.DROPPED]
)
def test_a_new_lead_leaves_what_is_done_alone(state: ReminderState) -> None:
    assert with_lead(replace(scheduled(), state=state), 2 * HOUR, NOW) is None


def test_the_lead_is_kept_by_version_and_is_24_hours_before_any_was_heard() -> None:
    assert lead_of(None) == DEFAULT_LEAD == 24 * HOUR
    held = StudioLead(2 * HOUR, 5)
    assert lead_of(held) == 2 * HOUR
    assert newer_lead(None, held)
    assert newer_lead(held, StudioLead(HOUR, 6))
    assert not newer_lead(held, StudioLead(HOUR, 5))
    assert not newer_lead(held, StudioLead(HOUR, 4))


def test_the_lead_comes_from_the_settings_event() -> None:
    settings = yogaclass_pb2.StudioSettings(version=7)
    settings.reminder_lead.FromTimedelta(3 * HOUR)
    heard = messages.studio_lead(class_events.StudioSettingsChanged(settings=settings))
    assert heard == StudioLead(3 * HOUR, 7)
    unset = messages.studio_lead(
        class_events.StudioSettingsChanged(settings=yogaclass_pb2.StudioSettings(version=8))
    )
    assert unset == StudioLead(DEFAULT_LEAD, 8)


# --- the job's decision ----------------------------------------------------------------------


def test_a_due_reminder_is_sent_even_late_while_the_class_has_not_started() -> None:
    r = scheduled()
    on_time = at_due(r, r.due_at)
    late = at_due(r, START - timedelta(seconds=1))
    assert (on_time.state, late.state, late.reason) == (ReminderState.SENT, ReminderState.SENT, "")


@pytest.mark.parametrize("after_start", [timedelta(0), HOUR])
def test_a_reminder_of_a_class_already_started_is_dropped(after_start: timedelta) -> None:
    dropped = at_due(scheduled(), START + after_start)
    assert (dropped.state, dropped.reason) == (ReminderState.DROPPED, CLASS_STARTED)


def test_the_reminder_notification_is_named_by_its_reservation_and_reads_local_time() -> None:
    r = scheduled()
    n = reminder_notification(r, START - 24 * HOUR)
    again = reminder_notification(r, START - 23 * HOUR)
    assert n.notification_id == again.notification_id
    assert n.event_id == reminder_event_id("r-1") != reminder_event_id("r-2")
    assert (n.kind, n.email, n.email_state) == (
        Kind.REMINDER,
        "m11@example.com",
        EmailState.PENDING,
    )
    assert n.subject == "Reminder: Morning Vinyasa on Tue 1 Jan 18:00 KST"
    assert n.class_time_zone == "Asia/Seoul"
    in_app_only = reminder_notification(replace(r, email=""), START)
    assert in_app_only.email_state is EmailState.SKIPPED


class FakeReminders:
    """The service layer's step, over a list: what the job asks and when."""

    def __init__(self, reminders: list[Reminder]) -> None:
        self.waiting = reminders
        self.asked: list[tuple[datetime, int]] = []

    async def send_due_reminders(self, now: datetime, limit: int) -> list[Reminder]:
        self.asked.append((now, limit))
        due = sorted((r for r in self.waiting if r.due_at <= now), key=lambda r: r.due_at)[:limit]
        self.waiting = [r for r in self.waiting if r not in due]
        return [at_due(r, now) for r in due]


async def test_the_job_sends_batch_after_batch_at_its_clocks_time() -> None:
    started = replace(scheduled(), reservation_id="r-old", class_start_time=BOOKED_AT)
    rest = [replace(scheduled(), reservation_id=f"r-{n}") for n in range(4)]
    later = replace(scheduled(), reservation_id="r-later", due_at=START + HOUR)
    fake = FakeReminders([started, *rest, later])
    clock = START - 24 * HOUR
    job = ReminderJob(fake, lambda: clock, interval_seconds=60, batch_size=2)
    handled = await job.send_due()
    assert [r.reservation_id for r in handled] == ["r-old", "r-0", "r-1", "r-2", "r-3"]
    assert handled[0].state is ReminderState.DROPPED
    assert {r.state for r in handled[1:]} == {ReminderState.SENT}
    assert fake.asked == [(clock, 2)] * 3
    assert [r.reservation_id for r in fake.waiting] == ["r-later"]


# --- RESCHEDULED -----------------------------------------------------------------------------


def test_a_moved_class_says_from_when_to_when_in_local_time() -> None:
    fact = ReservationFact(
        event_id="e-9",
        outcome=Outcome.RESCHEDULED,
        reservation_id="r-1",
        class_id="c-1",
        user_id="11",
        class_title="Morning Vinyasa",
        class_start_time=START + 24 * HOUR,
        reason="",
        user_email="m11@example.com",
        class_time_zone="Asia/Seoul",
        previous_start_time=START,
    )
    n = new_notification(fact, {}, "UTC", NOW)
    assert n.kind is Kind.RESCHEDULED
    assert n.subject == "Moved: Morning Vinyasa to Wed 2 Jan 18:00 KST"
    assert "from Tue 1 Jan 18:00 KST to Wed 2 Jan 18:00 KST" in n.body
    assert n.email_state is EmailState.PENDING


def test_the_previous_time_travels_from_the_rescheduled_event() -> None:
    r = reservation_pb2.Reservation(
        reservation_id="r-1",
        user_id="11",
        class_id="c-1",
        status=reservation_pb2.RESERVATION_STATUS_CONFIRMED,
        class_start_time=to_timestamp(START + HOUR),
        update_time=to_timestamp(NOW),
        version=4,
    )
    event = events_pb2.ReservationRescheduled(
        reservation=r, previous_start_time=to_timestamp(START)
    )
    fact = messages.fact("e-1", Outcome.RESCHEDULED, event)
    assert (fact.previous_start_time, fact.class_start_time) == (START, START + HOUR)
    booking = messages.booking(fact, event, "", NOW + HOUR)
    assert (booking.confirmed, booking.moved, booking.version, booking.changed_at) == (
        True,
        True,
        4,
        NOW,
    )
    event.reservation.status = reservation_pb2.RESERVATION_STATUS_WAITLISTED
    assert not messages.booking(fact, event, "", NOW).confirmed
