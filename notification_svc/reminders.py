"""Rules of reminders: one per confirmed booking, the studio's reminder lead before its class.
Plain Python: no gRPC, no SQL; every time comes in as an argument (the events' own times, the
job's injectable clock), so a consumer or a job running late decides as one on time would.

    ReservationConfirmed ──► SCHEDULED (due = start - lead) ──job, due, class not started──► SENT
           │                     │  │ └──job, class already started (it ran late)──► DROPPED
           │                     │  └──booking no longer CONFIRMED──► CANCELLED (never sent)
           │                     └──class moved, lead changed──► SCHEDULED again (new due time)
           └──confirmed at or after its due time, or lead 0──► SKIPPED (until the lead changes)

SENT means the REMINDER notification is made (in-app at once; its email PENDING for the
mailer, which delivers it with its retries): both in the job's transaction, so a reminder is
never SENT without its notification nor made twice (the notification's id comes from the
reservation).

Choices:
- Inside the lead: a booking confirmed at or after its due time gets no reminder (SKIPPED,
  `BOOKED_INSIDE_LEAD`): its confirmation already says when. "At or after" compares the due
  time with the reservation's own `update_time` in the event, not with when the consumer runs,
  so a consumer catching up after downtime decides the same as one on time.
- Moved classes: a ReservationRescheduled recomputes the due time from the new start, with the
  same rule (the event's `update_time` decides "inside"). A reminder already SENT is not sent
  again for the new time: the member has the RESCHEDULED notification saying it.
- The studio's lead (StudioSettingsChanged, version-guarded; 24 h until one is heard): a new
  lead recomputes every reminder still SCHEDULED or SKIPPED of a class to come, judged against
  the booking's own time as above, so the order settings and bookings arrive in does not matter.
- Late: a job that was not running at the due time still sends the reminder while the class
  has not started; once it has, the reminder is DROPPED with `CLASS_STARTED` (and counted).
- Versions: each row keeps the reservation version it applied; an event with that version or
  older changes nothing, so a replayed or late event never undoes a newer one. An event for a
  reservation with no reminder that leaves it not CONFIRMED writes nothing (nothing to stop).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from notification_svc.domain import Kind, Notification, describe, make_notification

DEFAULT_LEAD = timedelta(hours=24)
# Reminder notifications are named by their reservation: the job makes at most one each.
_REMINDER_EVENTS = uuid.UUID("0b6f6a1e-7d2c-4a0e-9b5e-2f4c8d1a7e33")

BOOKED_INSIDE_LEAD = "BOOKED_INSIDE_LEAD"
MOVED_INSIDE_LEAD = "MOVED_INSIDE_LEAD"
REMINDERS_OFF = "REMINDERS_OFF"
CLASS_STARTED = "CLASS_STARTED"


class ReminderState(StrEnum):
    SCHEDULED = "SCHEDULED"
    SENT = "SENT"
    CANCELLED = "CANCELLED"
    DROPPED = "DROPPED"
    SKIPPED = "SKIPPED"


# Nothing changes these any more (a new time or lead does not bring them back).
FINAL = frozenset({ReminderState.SENT, ReminderState.DROPPED})


@dataclass(frozen=True)
class Booking:
    """What a reservation event says, as far as its reminder cares."""

    reservation_id: str
    user_id: str
    class_id: str
    class_title: str
    class_start_time: datetime | None
    class_time_zone: str
    # Where the reminder goes ("" when no address is known: in-app only).
    email: str
    # CONFIRMED after this event (ReservationConfirmed, or a ReservationRescheduled of one).
    confirmed: bool
    version: int
    # The reservation's update_time in the event: when this change happened.
    changed_at: datetime
    # Why it is no longer confirmed (the event's outcome), for the record.
    reason: str = ""
    moved: bool = False


@dataclass(frozen=True)
class Reminder:
    reservation_id: str
    user_id: str
    class_id: str
    class_title: str
    class_start_time: datetime
    class_time_zone: str
    email: str
    due_at: datetime
    state: ReminderState
    reason: str
    version: int
    # When the booking (or the move) that scheduled it happened: decides "inside the lead"
    # again when the studio's lead changes.
    decided_at: datetime
    update_time: datetime


def _decide(
    due: datetime, lead: timedelta, decided_at: datetime, inside: str
) -> tuple[ReminderState, str]:
    if lead <= timedelta(0):
        return ReminderState.SKIPPED, REMINDERS_OFF
    if due <= decided_at:
        return ReminderState.SKIPPED, inside
    return ReminderState.SCHEDULED, ""


def on_event(
    current: Reminder | None, booking: Booking, lead: timedelta, now: datetime
) -> Reminder | None:
    """The reminder after a reservation event, or None when nothing is to be written."""
    if current is not None and booking.version <= current.version:
        return None  # this event or a newer one was applied already
    if not booking.confirmed:
        if current is None:
            return None
        if current.state is ReminderState.SCHEDULED:
            return replace(
                current,
                state=ReminderState.CANCELLED,
                reason=booking.reason,
                version=booking.version,
                update_time=now,
            )
        return replace(current, version=booking.version, update_time=now)
    if booking.class_start_time is None:
        return None  # no start, no reminder (an event from before times were carried)
    if current is not None and current.state in FINAL:
        return replace(current, version=booking.version, update_time=now)
    due = booking.class_start_time - lead
    inside = MOVED_INSIDE_LEAD if booking.moved else BOOKED_INSIDE_LEAD
    state, reason = _decide(due, lead, booking.changed_at, inside)
    return Reminder(
        reservation_id=booking.reservation_id,
        user_id=booking.user_id,
        class_id=booking.class_id,
        class_title=booking.class_title,
        class_start_time=booking.class_start_time,
        class_time_zone=booking.class_time_zone,
        email=booking.email or (current.email if current else ""),
        due_at=due,
        state=state,
        reason=reason,
        version=booking.version,
        decided_at=booking.changed_at,
        update_time=now,
    )


# What a change of the studio's lead reconsiders: what waits, and what was skipped (a shorter
# lead may leave a booking outside it). Settings and bookings come on different topics, in
# either order: the reminders end the same as if the lead had been known at every booking.
RECONSIDERED = frozenset({ReminderState.SCHEDULED, ReminderState.SKIPPED})


def with_lead(r: Reminder, lead: timedelta, now: datetime) -> Reminder | None:
    """The reminder under the studio's new lead, or None if nothing changes. "Inside the lead"
    is judged against when the booking was made (or moved), as at the booking."""
    if r.state not in RECONSIDERED:
        return None
    due = r.class_start_time - lead
    inside = MOVED_INSIDE_LEAD if r.reason == MOVED_INSIDE_LEAD else BOOKED_INSIDE_LEAD
    state, reason = _decide(due, lead, r.decided_at, inside)
    if (due, state, reason) == (r.due_at, r.state, r.reason):
        return None
    return replace(r, due_at=due, state=state, reason=reason, update_time=now)


def at_due(r: Reminder, now: datetime) -> Reminder:
    """What the job does with a due SCHEDULED reminder at `now`: SENT while its class has not
    started (late ones too), DROPPED once it has."""
    if now >= r.class_start_time:
        return replace(r, state=ReminderState.DROPPED, reason=CLASS_STARTED, update_time=now)
    return replace(r, state=ReminderState.SENT, reason="", update_time=now)


def reminder_event_id(reservation_id: str) -> str:
    return str(uuid.uuid5(_REMINDER_EVENTS, reservation_id))


def reminder_notification(r: Reminder, now: datetime) -> Notification:
    """The in-app notification (and email, when an address is known) of a reminder; its id
    comes from the reservation, so a reservation is never reminded twice."""
    subject, body = describe(
        Kind.REMINDER, r.class_title, r.class_start_time, "", r.class_time_zone
    )
    return make_notification(
        reminder_event_id(r.reservation_id),
        r.user_id,
        Kind.REMINDER,
        subject,
        body,
        r.email,
        now,
        reservation_id=r.reservation_id,
        class_id=r.class_id,
        class_title=r.class_title,
        class_start_time=r.class_start_time,
        class_time_zone=r.class_time_zone,
    )


@dataclass(frozen=True)
class StudioLead:
    """The studio's reminder lead as last heard (StudioSettingsChanged), with its version."""

    lead: timedelta
    version: int


def newer_lead(current: StudioLead | None, heard: StudioLead) -> bool:
    return current is None or heard.version > current.version


def lead_of(current: StudioLead | None) -> timedelta:
    return current.lead if current is not None else DEFAULT_LEAD
