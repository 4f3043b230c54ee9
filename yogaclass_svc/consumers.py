"""Events yogaclass_svc reacts to, mapped to its use cases: a late cancel or a no-show on the
reservation topic is a strike of the member (studio_service.record_strike), in the consumer's
unit of work (the inbox row in the same transaction, so a redelivered event changes nothing;
the strike's key, the reservation, makes the same fact under another event id count once)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from yoga.reservation.v1 import events_pb2, reservation_pb2
from yoga_common.consumer import Handlers, InvalidEvent
from yoga_common.events import Envelope
from yoga_common.timestamps import from_timestamp
from yoga_common.uow import UnitOfWork
from yogaclass_svc import studio_service
from yogaclass_svc.storage import ClassStore
from yogaclass_svc.studio import StrikeKind


def _strike(
    uow: UnitOfWork[ClassStore],
    reservation: reservation_pb2.Reservation,
    kind: StrikeKind,
    now: datetime,
) -> None:
    if not reservation.reservation_id or not reservation.user_id:
        raise InvalidEvent(f"{kind.value} without reservation_id or user_id")
    # When it happened (the reservation's last change), not when the event arrived.
    at = from_timestamp(reservation.update_time) if reservation.HasField("update_time") else now
    studio_service.record_strike(
        uow, reservation.reservation_id, reservation.user_id, kind, min(at, now), now
    )


def build(clock: Callable[[], datetime]) -> Handlers[ClassStore]:
    handlers: Handlers[ClassStore] = Handlers()

    @handlers.on(events_pb2.ReservationCancelled)
    def cancelled(
        uow: UnitOfWork[ClassStore], envelope: Envelope, event: events_pb2.ReservationCancelled
    ) -> None:
        if event.reservation.reason == reservation_pb2.RESERVATION_REASON_LATE_CANCELLED:
            _strike(uow, event.reservation, StrikeKind.LATE_CANCEL, clock())

    @handlers.on(events_pb2.ReservationNoShow)
    def no_show(
        uow: UnitOfWork[ClassStore], envelope: Envelope, event: events_pb2.ReservationNoShow
    ) -> None:
        _strike(uow, event.reservation, StrikeKind.NO_SHOW, clock())

    return handlers
