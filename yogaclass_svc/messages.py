"""Domain objects <-> protobuf messages, for the API and for the events."""

from __future__ import annotations

from google.protobuf.message import Message

from yoga.yogaclass.v1 import events_pb2, yogaclass_pb2
from yoga_common.timestamps import as_utc, to_timestamp
from yogaclass_svc.domain import (
    ClassCancelled,
    ClassCreated,
    ClassEvent,
    ClassStatus,
    ClassUpdated,
    SeatResult,
    YogaClass,
)

_STATUS = {
    ClassStatus.SCHEDULED: yogaclass_pb2.CLASS_STATUS_SCHEDULED,
    ClassStatus.CANCELLED: yogaclass_pb2.CLASS_STATUS_CANCELLED,
}

SEAT_RESULTS = {
    SeatResult.RESERVED: yogaclass_pb2.SEAT_RESULT_RESERVED,
    SeatResult.CLASS_FULL: yogaclass_pb2.SEAT_RESULT_CLASS_FULL,
    SeatResult.CLASS_NOT_FOUND: yogaclass_pb2.SEAT_RESULT_CLASS_NOT_FOUND,
    SeatResult.CLASS_CANCELLED: yogaclass_pb2.SEAT_RESULT_CLASS_CANCELLED,
    SeatResult.CLASS_STARTED: yogaclass_pb2.SEAT_RESULT_CLASS_STARTED,
    SeatResult.RELEASED: yogaclass_pb2.SEAT_RESULT_RELEASED,
}


def to_proto(c: YogaClass) -> yogaclass_pb2.YogaClass:
    return yogaclass_pb2.YogaClass(
        class_id=c.class_id,
        title=c.details.title,
        instructor=c.details.instructor,
        start_time=to_timestamp(as_utc(c.details.start_time)),
        end_time=to_timestamp(as_utc(c.details.end_time)),
        time_zone=c.details.time_zone,
        capacity=c.details.capacity,
        booked=c.booked,
        status=_STATUS[c.status],
        create_time=to_timestamp(c.create_time),
        update_time=to_timestamp(c.update_time),
        version=c.version,
    )


def event(e: ClassEvent) -> tuple[str, Message]:
    """A domain event as the message published on the class topic, keyed by class id."""
    c = e.yoga_class
    match e:
        case ClassCreated():
            return c.class_id, events_pb2.ClassCreated(yoga_class=to_proto(c))
        case ClassUpdated(changed=changed):
            return c.class_id, events_pb2.ClassUpdated(
                yoga_class=to_proto(c), changed_fields=list(changed)
            )
        case ClassCancelled():
            return c.class_id, events_pb2.ClassCancelled(yoga_class=to_proto(c))
    raise TypeError(f"not a class event: {e!r}")
