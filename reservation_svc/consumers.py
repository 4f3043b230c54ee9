"""Events reservation_svc reacts to, mapped to its use cases: a class cancelled by the studio
cancels every active reservation of it (service.cancel_class), in the consumer's unit of work."""

from __future__ import annotations

from reservation_svc import service
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

    return handlers
