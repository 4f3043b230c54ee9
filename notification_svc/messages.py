"""Domain objects <-> protobuf messages: reservation, member-standing and studio-settings
events in, notifications out."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TypeAlias

from google.protobuf.message import Message

from notification_svc.domain import (
    EmailState,
    Kind,
    Notification,
    Outcome,
    ReservationFact,
    StandingChange,
    StandingFact,
)
from notification_svc.reminders import DEFAULT_LEAD, Booking, StudioLead
from yoga.notification.v1 import notification_pb2
from yoga.reservation.v1 import events_pb2, reservation_pb2
from yoga.yogaclass.v1 import events_pb2 as class_events
from yoga_common.timestamps import from_timestamp, to_timestamp

ReservationEvent: TypeAlias = (
    events_pb2.ReservationConfirmed
    | events_pb2.ReservationRejected
    | events_pb2.ReservationCancelled
    | events_pb2.ReservationWaitlisted
    | events_pb2.ReservationExpired
    | events_pb2.ReservationAttended
    | events_pb2.ReservationNoShow
    | events_pb2.ReservationRescheduled
)
StandingEvent: TypeAlias = class_events.MemberBlocked | class_events.BlockLifted

KIND = {
    Kind.BOOKED: notification_pb2.NOTIFICATION_KIND_BOOKED,
    Kind.REJECTED: notification_pb2.NOTIFICATION_KIND_REJECTED,
    Kind.CANCELLED: notification_pb2.NOTIFICATION_KIND_CANCELLED,
    Kind.CLASS_CANCELLED: notification_pb2.NOTIFICATION_KIND_CLASS_CANCELLED,
    Kind.WAITLISTED: notification_pb2.NOTIFICATION_KIND_WAITLISTED,
    Kind.PROMOTED: notification_pb2.NOTIFICATION_KIND_PROMOTED,
    Kind.WAITLIST_EXPIRED: notification_pb2.NOTIFICATION_KIND_WAITLIST_EXPIRED,
    Kind.ATTENDED: notification_pb2.NOTIFICATION_KIND_ATTENDED,
    Kind.NO_SHOW: notification_pb2.NOTIFICATION_KIND_NO_SHOW,
    Kind.BLOCKED: notification_pb2.NOTIFICATION_KIND_BLOCKED,
    Kind.BLOCK_LIFTED: notification_pb2.NOTIFICATION_KIND_BLOCK_LIFTED,
    Kind.RESCHEDULED: notification_pb2.NOTIFICATION_KIND_RESCHEDULED,
    Kind.REMINDER: notification_pb2.NOTIFICATION_KIND_REMINDER,
}

EMAIL_STATE = {
    EmailState.PENDING: notification_pb2.DELIVERY_STATE_PENDING,
    EmailState.SENT: notification_pb2.DELIVERY_STATE_SENT,
    EmailState.FAILED: notification_pb2.DELIVERY_STATE_FAILED,
    EmailState.SKIPPED: notification_pb2.DELIVERY_STATE_SKIPPED,
}

_REASON_PREFIX = "RESERVATION_REASON_"


def _time(message: Message, name: str) -> datetime | None:
    """A Timestamp field as a UTC datetime; None when it is unset."""
    return from_timestamp(getattr(message, name)) if message.HasField(name) else None


def reason_name(value: int) -> str:
    """`CLASS_FULL`, `CANCELLED_BY_STUDIO`, ...; "" when unspecified or unknown to this build."""
    try:
        name = reservation_pb2.ReservationReason.Name(value)
    except ValueError:
        return ""
    return "" if value == 0 else name.removeprefix(_REASON_PREFIX)


def fact(event_id: str, outcome: Outcome, event: ReservationEvent) -> ReservationFact:
    r = event.reservation
    return ReservationFact(
        event_id=event_id,
        outcome=outcome,
        reservation_id=r.reservation_id,
        class_id=r.class_id,
        user_id=r.user_id,
        class_title=r.class_title,
        class_start_time=_time(r, "class_start_time"),
        reason=reason_name(r.reason),
        user_email=event.user_email,
        class_time_zone=r.class_time_zone,
        promoted=r.promoted,
        waitlist_position=max(r.waitlist_position, 0),
        waitlist_ticket=max(r.waitlist_ticket, 0),
        check_in_time=_time(r, "check_in_time"),
        previous_start_time=_time(event, "previous_start_time")
        if isinstance(event, events_pb2.ReservationRescheduled)
        else None,
    )


def booking(
    fact: ReservationFact, event: ReservationEvent, email: str, received: datetime
) -> Booking:
    """What the event says of the booking's reminder. `received` stands in for the
    reservation's update_time only when an event carries none."""
    r = event.reservation
    return Booking(
        reservation_id=fact.reservation_id,
        user_id=fact.user_id,
        class_id=fact.class_id,
        class_title=fact.class_title,
        class_start_time=fact.class_start_time,
        class_time_zone=fact.class_time_zone,
        email=email,
        # A move keeps the reservation as it was: only a confirmed one is reminded.
        confirmed=fact.outcome is Outcome.CONFIRMED
        or (
            fact.outcome is Outcome.RESCHEDULED
            and r.status == reservation_pb2.RESERVATION_STATUS_CONFIRMED
        ),
        version=max(r.version, 0),
        changed_at=_time(r, "update_time") or received,
        reason=(fact.reason or fact.outcome.value)[:32],
        moved=fact.outcome is Outcome.RESCHEDULED,
    )


def studio_lead(event: class_events.StudioSettingsChanged) -> StudioLead:
    """The lead the settings name; an unset one is the studio's default (24 h)."""
    s = event.settings
    lead = s.reminder_lead.ToTimedelta() if s.HasField("reminder_lead") else DEFAULT_LEAD
    return StudioLead(max(lead, timedelta(0)), max(s.version, 0))


def standing_fact(event_id: str, change: StandingChange, event: StandingEvent) -> StandingFact:
    s = event.standing
    return StandingFact(
        event_id=event_id,
        change=change,
        user_id=s.user_id,
        strikes=max(s.strikes, 0),
        blocked_until=_time(s, "blocked_until"),
    )


def to_proto(n: Notification) -> notification_pb2.Notification:
    message = notification_pb2.Notification(
        notification_id=n.notification_id,
        user_id=n.user_id,
        kind=KIND[n.kind],
        reservation_id=n.reservation_id,
        class_id=n.class_id,
        class_title=n.class_title,
        subject=n.subject,
        body=n.body,
        email_state=EMAIL_STATE[n.email_state],
        create_time=to_timestamp(n.create_time),
        class_time_zone=n.class_time_zone,
    )
    if n.class_start_time is not None:
        message.class_start_time.CopyFrom(to_timestamp(n.class_start_time))
    return message
