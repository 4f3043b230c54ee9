"""Events reservation_svc reacts to, mapped to its use cases, in the consumer's unit of work: a
class cancelled by the studio cancels every active reservation of it (service.cancel_class);
yogaclass_svc's decisions about a waiting reservation (promoted to a freed seat, passed over,
expired at the cutoff) settle it (service.leave_queue); a class changed (moved, renamed)
redescribes its reservations (service.class_described), newer class versions only, and tells
each member still booked into a moved class (ReservationRescheduled)."""

from __future__ import annotations

from reservation_svc import messages, service
from reservation_svc.domain import Reason, Status
from reservation_svc.storage import ReservationStore
from yoga.yogaclass.v1 import events_pb2
from yoga_common.consumer import Handlers, InvalidEvent
from yoga_common.events import Envelope
from yoga_common.timestamps import utcnow
from yoga_common.uow import UnitOfWork


def build() -> Handlers[ReservationStore]:
    handlers: Handlers[ReservationStore] = Handlers()

    @handlers.on(events_pb2.ClassCancelled)
    def class_cancelled(
        uow: UnitOfWork[ReservationStore], envelope: Envelope, event: events_pb2.ClassCancelled
    ) -> None:
        class_id = event.yoga_class.class_id
        if not class_id:
            raise InvalidEvent("ClassCancelled without class_id")
        service.cancel_class(uow, class_id, utcnow())

    @handlers.on(events_pb2.ClassUpdated)
    def class_updated(
        uow: UnitOfWork[ReservationStore], envelope: Envelope, event: events_pb2.ClassUpdated
    ) -> None:
        c = event.yoga_class
        if not c.class_id or not c.version:
            raise InvalidEvent("ClassUpdated without class_id or version")
        service.class_described(uow, c.class_id, messages.class_info(c), utcnow())

    @handlers.on(events_pb2.SeatPromoted)
    def seat_promoted(
        uow: UnitOfWork[ReservationStore], envelope: Envelope, event: events_pb2.SeatPromoted
    ) -> None:
        info = messages.class_info(event.yoga_class) if event.HasField("yoga_class") else None
        service.leave_queue(uow, _reservation(event), Status.CONFIRMED, Reason.NONE, utcnow(), info)

    @handlers.on(events_pb2.WaitlistSkipped)
    def waitlist_skipped(
        uow: UnitOfWork[ReservationStore], envelope: Envelope, event: events_pb2.WaitlistSkipped
    ) -> None:
        reason = messages.skip_reason(event.reason)
        if reason is None:
            raise InvalidEvent(f"WaitlistSkipped with unknown reason {event.reason}")
        service.leave_queue(uow, _reservation(event), Status.REJECTED, reason, utcnow())

    @handlers.on(events_pb2.WaitlistExpired)
    def waitlist_expired(
        uow: UnitOfWork[ReservationStore], envelope: Envelope, event: events_pb2.WaitlistExpired
    ) -> None:
        service.leave_queue(
            uow, _reservation(event), Status.EXPIRED, Reason.WAITLIST_CLOSED, utcnow()
        )

    return handlers


def _reservation(
    event: events_pb2.SeatPromoted | events_pb2.WaitlistSkipped | events_pb2.WaitlistExpired,
) -> str:
    if not event.reservation_id:
        raise InvalidEvent(f"{type(event).__name__} without reservation_id")
    return event.reservation_id
