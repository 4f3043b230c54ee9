"""The events the page is built from: reservation facts (one row per reservation) and class facts
(so a renamed or moved class shows its new title and times on every page). Each handler runs in
the consumer's transaction, together with the event's inbox row."""

from __future__ import annotations

import logging

from sqlalchemy import Connection

from mypage_svc import messages
from mypage_svc.storage import MyPageStore
from yoga.reservation.v1 import events_pb2 as reservation_events
from yoga.yogaclass.v1 import events_pb2 as class_events
from yoga_common.consumer import Handlers, InvalidEvent
from yoga_common.events import Envelope

log = logging.getLogger(__name__)

ReservationEvent = (
    reservation_events.ReservationConfirmed
    | reservation_events.ReservationRejected
    | reservation_events.ReservationCancelled
)
ClassEvent = class_events.ClassCreated | class_events.ClassUpdated | class_events.ClassCancelled


def handlers(store: MyPageStore) -> Handlers:
    found = Handlers()

    def on_reservation(conn: Connection, envelope: Envelope, event: ReservationEvent) -> None:
        if not event.HasField("reservation"):
            raise InvalidEvent(f"{envelope.event_type} carries no reservation")
        view = messages.reservation_view(event.reservation)
        if not store.save_reservation(conn, view):
            _dropped(envelope, view.reservation_id, view.version)

    def on_class(conn: Connection, envelope: Envelope, event: ClassEvent) -> None:
        if not event.HasField("yoga_class"):
            raise InvalidEvent(f"{envelope.event_type} carries no yoga_class")
        view = messages.class_view(event.yoga_class)
        if not store.save_class(conn, view):
            _dropped(envelope, view.class_id, view.version)

    found.on(reservation_events.ReservationConfirmed)(on_reservation)
    found.on(reservation_events.ReservationRejected)(on_reservation)
    found.on(reservation_events.ReservationCancelled)(on_reservation)
    found.on(class_events.ClassCreated)(on_class)
    found.on(class_events.ClassUpdated)(on_class)
    found.on(class_events.ClassCancelled)(on_class)
    return found


def _dropped(envelope: Envelope, key: str, version: int) -> None:
    log.info(
        "stale event dropped: a newer version is held",
        extra={
            "event_id": envelope.event_id,
            "event_type": envelope.event_type,
            "key": key,
            "version": version,
        },
    )
