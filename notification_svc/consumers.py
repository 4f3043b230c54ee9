"""Reservation events and member-standing events (MemberBlocked, BlockLifted of the yogaclass
topic) -> notifications; reservation events also keep each booking's reminder, and
StudioSettingsChanged the studio's reminder lead. Each handler maps the event to the domain and
records it through the service layer, inside the consumer's unit of work together with the inbox row
(yoga_common.consumer); no network I/O: the row it writes is PENDING for email, and the mailer
sends it after the transaction commits."""

from __future__ import annotations

from collections.abc import Mapping

from notification_svc import messages, service
from notification_svc.domain import (
    Outcome,
    StandingChange,
    new_notification,
    recipient,
    standing_notification,
)
from notification_svc.storage import NotificationStore
from yoga.reservation.v1 import events_pb2
from yoga.yogaclass.v1 import events_pb2 as class_events
from yoga_common.consumer import Handlers, InvalidEvent
from yoga_common.errors import Violations
from yoga_common.events import Envelope
from yoga_common.requests import check_id
from yoga_common.timestamps import from_timestamp, utcnow
from yoga_common.uow import UnitOfWork

Work = UnitOfWork[NotificationStore]


def _notify(
    uow: Work,
    envelope: Envelope,
    outcome: Outcome,
    event: messages.ReservationEvent,
    directory: Mapping[str, str],
    time_zone: str,
) -> None:
    if not event.HasField("reservation"):
        raise InvalidEvent(f"{envelope.event_type} {envelope.event_id} carries no reservation")
    r = event.reservation
    v = Violations()
    check_id(v, "reservation.reservation_id", r.reservation_id)
    check_id(v, "reservation.user_id", r.user_id)
    check_id(v, "reservation.class_id", r.class_id, required=False)
    if v.items:
        problems = "; ".join(f"{i.field} {i.description}" for i in v.items)
        raise InvalidEvent(f"{envelope.event_type} {envelope.event_id}: {problems}")
    now = utcnow()
    fact = messages.fact(envelope.event_id, outcome, event)
    service.record(uow, new_notification(fact, directory, time_zone, now))
    email = recipient(event.user_email, r.user_id, directory)
    service.remind(uow, messages.booking(fact, event, email, now), now)


def _notify_standing(
    uow: Work,
    envelope: Envelope,
    change: StandingChange,
    event: messages.StandingEvent,
    directory: Mapping[str, str],
    time_zone: str,
) -> None:
    if not event.HasField("standing"):
        raise InvalidEvent(f"{envelope.event_type} {envelope.event_id} carries no standing")
    v = Violations()
    check_id(v, "standing.user_id", event.standing.user_id)
    if v.items:
        problems = "; ".join(f"{i.field} {i.description}" for i in v.items)
        raise InvalidEvent(f"{envelope.event_type} {envelope.event_id}: {problems}")
    notification = standing_notification(
        messages.standing_fact(envelope.event_id, change, event), directory, time_zone, utcnow()
    )
    service.record(uow, notification)


# Each reservation event, and what it tells the member.
OUTCOMES: dict[type[messages.ReservationEvent], Outcome] = {
    events_pb2.ReservationConfirmed: Outcome.CONFIRMED,
    events_pb2.ReservationRejected: Outcome.REJECTED,
    events_pb2.ReservationCancelled: Outcome.CANCELLED,
    events_pb2.ReservationWaitlisted: Outcome.WAITLISTED,
    events_pb2.ReservationExpired: Outcome.EXPIRED,
    events_pb2.ReservationAttended: Outcome.ATTENDED,
    events_pb2.ReservationNoShow: Outcome.NO_SHOW,
    events_pb2.ReservationRescheduled: Outcome.RESCHEDULED,
}

STANDING_CHANGES: dict[type[messages.StandingEvent], StandingChange] = {
    class_events.MemberBlocked: StandingChange.BLOCKED,
    class_events.BlockLifted: StandingChange.LIFTED,
}


def handlers(directory: Mapping[str, str], time_zone: str) -> Handlers[NotificationStore]:
    """The handlers of the reservation topic and of the yogaclass topic's member-standing
    events; `directory` (user_id -> address) is where an address comes from when the event
    carries none, `time_zone` is how times are shown when the class names no zone."""
    found: Handlers[NotificationStore] = Handlers()

    for event_type, outcome in OUTCOMES.items():

        def on_reservation(
            uow: Work,
            envelope: Envelope,
            event: messages.ReservationEvent,
            outcome: Outcome = outcome,
        ) -> None:
            _notify(uow, envelope, outcome, event, directory, time_zone)

        found.on(event_type)(on_reservation)

    for standing_type, change in STANDING_CHANGES.items():

        def on_standing(
            uow: Work,
            envelope: Envelope,
            event: messages.StandingEvent,
            change: StandingChange = change,
        ) -> None:
            _notify_standing(uow, envelope, change, event, directory, time_zone)

        found.on(standing_type)(on_standing)

    @found.on(class_events.StudioSettingsChanged)
    def on_settings(
        uow: Work, envelope: Envelope, event: class_events.StudioSettingsChanged
    ) -> None:
        if not event.HasField("settings"):
            raise InvalidEvent(f"{envelope.event_type} {envelope.event_id} carries no settings")
        s = event.settings
        changed_at = from_timestamp(s.update_time) if s.HasField("update_time") else utcnow()
        service.hear_lead(uow, messages.studio_lead(event), changed_at)

    return found
