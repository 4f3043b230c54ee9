"""The events the page is built from: reservation facts (one row per reservation; a
ReservationRescheduled carries the moved class's new times) and class facts (so a renamed or
moved class shows its new title and times on every page). Each handler maps
the event to the domain and calls the service layer, in the consumer's unit of work together
with the event's inbox row."""

from __future__ import annotations

from mypage_svc import messages, service
from mypage_svc.storage import MyPageStore
from yoga.reservation.v1 import events_pb2 as reservation_events
from yoga.yogaclass.v1 import events_pb2 as class_events
from yoga_common.consumer import Handlers, InvalidEvent
from yoga_common.events import Envelope
from yoga_common.uow import UnitOfWork

Work = UnitOfWork[MyPageStore]

ReservationEvent = (
    reservation_events.ReservationConfirmed
    | reservation_events.ReservationRejected
    | reservation_events.ReservationCancelled
    | reservation_events.ReservationWaitlisted
    | reservation_events.ReservationExpired
    | reservation_events.ReservationAttended
    | reservation_events.ReservationNoShow
)
ClassEvent = class_events.ClassCreated | class_events.ClassUpdated | class_events.ClassCancelled


def handlers() -> Handlers[MyPageStore]:
    found: Handlers[MyPageStore] = Handlers()

    def on_reservation(uow: Work, envelope: Envelope, event: ReservationEvent) -> None:
        if not event.HasField("reservation"):
            raise InvalidEvent(f"{envelope.event_type} carries no reservation")
        service.apply_reservation(
            uow, messages.reservation_view(event.reservation), envelope.event_id
        )

    def on_class(uow: Work, envelope: Envelope, event: ClassEvent) -> None:
        if not event.HasField("yoga_class"):
            raise InvalidEvent(f"{envelope.event_type} carries no yoga_class")
        service.apply_class(uow, messages.class_view(event.yoga_class), envelope.event_id)

    found.on(reservation_events.ReservationConfirmed)(on_reservation)
    found.on(reservation_events.ReservationRejected)(on_reservation)
    found.on(reservation_events.ReservationCancelled)(on_reservation)
    found.on(reservation_events.ReservationWaitlisted)(on_reservation)
    found.on(reservation_events.ReservationExpired)(on_reservation)
    found.on(reservation_events.ReservationAttended)(on_reservation)
    found.on(reservation_events.ReservationNoShow)(on_reservation)

    @found.on(reservation_events.ReservationRescheduled)
    def on_rescheduled(
        uow: Work, envelope: Envelope, event: reservation_events.ReservationRescheduled
    ) -> None:
        if not event.HasField("reservation"):
            raise InvalidEvent(f"{envelope.event_type} carries no reservation")
        service.apply_reservation(
            uow,
            messages.reservation_view(event.reservation),
            envelope.event_id,
            messages.moved_from(event),
        )

    found.on(class_events.ClassCreated)(on_class)
    found.on(class_events.ClassUpdated)(on_class)
    found.on(class_events.ClassCancelled)(on_class)
    return found
