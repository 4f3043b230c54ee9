"""Reservation events -> notifications. Each handler maps the event to the domain and records
it through the service layer, inside the consumer's unit of work together with the inbox row
(yoga_common.consumer); no network I/O: the row it writes is PENDING for email, and the mailer
sends it after the transaction commits."""

from __future__ import annotations

from collections.abc import Mapping

from notification_svc import messages, service
from notification_svc.domain import Outcome, new_notification
from notification_svc.storage import NotificationStore
from yoga.reservation.v1 import events_pb2
from yoga_common.consumer import Handlers, InvalidEvent
from yoga_common.errors import Violations
from yoga_common.events import Envelope
from yoga_common.requests import check_id
from yoga_common.timestamps import utcnow
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
    notification = new_notification(
        messages.fact(envelope.event_id, outcome, event), directory, time_zone, utcnow()
    )
    service.record(uow, notification)


def handlers(directory: Mapping[str, str], time_zone: str) -> Handlers[NotificationStore]:
    """The handlers of the reservation topic; `directory` (user_id -> address) is where an
    address comes from when the event carries none, `time_zone` is how times are shown."""
    found: Handlers[NotificationStore] = Handlers()

    @found.on(events_pb2.ReservationConfirmed)
    def booked(uow: Work, envelope: Envelope, event: events_pb2.ReservationConfirmed) -> None:
        _notify(uow, envelope, Outcome.CONFIRMED, event, directory, time_zone)

    @found.on(events_pb2.ReservationRejected)
    def rejected(uow: Work, envelope: Envelope, event: events_pb2.ReservationRejected) -> None:
        _notify(uow, envelope, Outcome.REJECTED, event, directory, time_zone)

    @found.on(events_pb2.ReservationCancelled)
    def cancelled(uow: Work, envelope: Envelope, event: events_pb2.ReservationCancelled) -> None:
        _notify(uow, envelope, Outcome.CANCELLED, event, directory, time_zone)

    return found
