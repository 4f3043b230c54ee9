"""Events reservation_svc reacts to: a class cancelled by the studio cancels every active
reservation of it (CANCELLED_BY_STUDIO), each with its own event. The seats are given back by
the saga's recovery loop (`release_pending`), outside the consumer's transaction."""

from __future__ import annotations

from sqlalchemy import Connection

from reservation_svc.domain import ACTIVE, Reason, Status
from reservation_svc.storage import active_of_class, change_in
from yoga.yogaclass.v1 import events_pb2
from yoga_common.consumer import Handlers, InvalidEvent
from yoga_common.events import Envelope
from yoga_common.timestamps import utcnow


def build(topic: str) -> Handlers:
    """Handlers writing their events to `topic`, the service's own event topic."""
    handlers = Handlers()

    @handlers.on(events_pb2.ClassCancelled)
    def class_cancelled(
        conn: Connection, envelope: Envelope, event: events_pb2.ClassCancelled
    ) -> None:
        class_id = event.yoga_class.class_id
        if not class_id:
            raise InvalidEvent("ClassCancelled without class_id")
        now = utcnow()
        for reservation_id in active_of_class(conn, class_id):
            change_in(
                conn,
                topic,
                reservation_id,
                ACTIVE,
                Status.CANCELLED,
                Reason.CANCELLED_BY_STUDIO,
                now,
            )

    return handlers
