"""Reservation events -> notifications. Each handler runs inside the consumer's transaction,
together with the inbox row (yoga_common.consumer), and does no network I/O: the row it writes
is PENDING for email, and the mailer sends it after the transaction commits."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy import Connection

from notification_svc import messages
from notification_svc.domain import Outcome, new_notification
from notification_svc.storage import add_notification
from yoga.reservation.v1 import events_pb2
from yoga_common.consumer import Handlers, InvalidEvent
from yoga_common.errors import Violations
from yoga_common.events import Envelope
from yoga_common.requests import check_id
from yoga_common.timestamps import utcnow

log = logging.getLogger(__name__)


def _notify(
    conn: Connection,
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
    if add_notification(conn, notification):
        log.info(
            "notification recorded",
            extra={
                "notification_id": notification.notification_id,
                "kind": notification.kind.value,
                "email_state": notification.email_state.value,
            },
        )


def handlers(directory: Mapping[str, str], time_zone: str) -> Handlers:
    """The handlers of the reservation topic; `directory` (user_id -> address) is where an
    address comes from when the event carries none, `time_zone` is how times are shown."""
    found = Handlers()

    @found.on(events_pb2.ReservationConfirmed)
    def booked(
        conn: Connection, envelope: Envelope, event: events_pb2.ReservationConfirmed
    ) -> None:
        _notify(conn, envelope, Outcome.CONFIRMED, event, directory, time_zone)

    @found.on(events_pb2.ReservationRejected)
    def rejected(
        conn: Connection, envelope: Envelope, event: events_pb2.ReservationRejected
    ) -> None:
        _notify(conn, envelope, Outcome.REJECTED, event, directory, time_zone)

    @found.on(events_pb2.ReservationCancelled)
    def cancelled(
        conn: Connection, envelope: Envelope, event: events_pb2.ReservationCancelled
    ) -> None:
        _notify(conn, envelope, Outcome.CANCELLED, event, directory, time_zone)

    return found
