"""Domain objects <-> protobuf messages, for the API and for the events."""

from __future__ import annotations

from google.protobuf.message import Message

from reservation_svc.domain import (
    ClassInfo,
    Reason,
    Reservation,
    ReservationCancelled,
    ReservationConfirmed,
    ReservationEvent,
    ReservationRejected,
    SeatAnswer,
    Status,
)
from yoga.reservation.v1 import events_pb2, reservation_pb2
from yoga.yogaclass.v1 import yogaclass_pb2
from yoga_common.timestamps import as_utc, from_timestamp, to_timestamp

STATUS = {
    Status.PENDING: reservation_pb2.RESERVATION_STATUS_PENDING,
    Status.CONFIRMED: reservation_pb2.RESERVATION_STATUS_CONFIRMED,
    Status.REJECTED: reservation_pb2.RESERVATION_STATUS_REJECTED,
    Status.CANCELLED: reservation_pb2.RESERVATION_STATUS_CANCELLED,
}

REASON = {
    Reason.NONE: reservation_pb2.RESERVATION_REASON_UNSPECIFIED,
    Reason.CLASS_FULL: reservation_pb2.RESERVATION_REASON_CLASS_FULL,
    Reason.CLASS_NOT_FOUND: reservation_pb2.RESERVATION_REASON_CLASS_NOT_FOUND,
    Reason.CLASS_CANCELLED: reservation_pb2.RESERVATION_REASON_CLASS_CANCELLED,
    Reason.CLASS_STARTED: reservation_pb2.RESERVATION_REASON_CLASS_STARTED,
    Reason.CANCELLED_BY_USER: reservation_pb2.RESERVATION_REASON_CANCELLED_BY_USER,
    Reason.CANCELLED_BY_STUDIO: reservation_pb2.RESERVATION_REASON_CANCELLED_BY_STUDIO,
}

_SEAT_ANSWERS = {
    yogaclass_pb2.SEAT_RESULT_RESERVED: SeatAnswer.RESERVED,
    yogaclass_pb2.SEAT_RESULT_CLASS_FULL: SeatAnswer.CLASS_FULL,
    yogaclass_pb2.SEAT_RESULT_CLASS_NOT_FOUND: SeatAnswer.CLASS_NOT_FOUND,
    yogaclass_pb2.SEAT_RESULT_CLASS_CANCELLED: SeatAnswer.CLASS_CANCELLED,
    yogaclass_pb2.SEAT_RESULT_CLASS_STARTED: SeatAnswer.CLASS_STARTED,
    yogaclass_pb2.SEAT_RESULT_RELEASED: SeatAnswer.RELEASED,
}


def to_proto(r: Reservation) -> reservation_pb2.Reservation:
    message = reservation_pb2.Reservation(
        reservation_id=r.reservation_id,
        class_id=r.class_id,
        user_id=r.user_id,
        status=STATUS[r.status],
        reason=REASON[r.reason],
        request_id=r.request_id,
        create_time=to_timestamp(r.create_time),
        update_time=to_timestamp(r.update_time),
        version=r.version,
    )
    if r.class_info is not None:
        message.class_title = r.class_info.title
        message.class_time_zone = r.class_info.time_zone
        if r.class_info.start_time is not None:
            message.class_start_time.CopyFrom(to_timestamp(as_utc(r.class_info.start_time)))
        if r.class_info.end_time is not None:
            message.class_end_time.CopyFrom(to_timestamp(as_utc(r.class_info.end_time)))
    return message


def seat_answer(response: yogaclass_pb2.ReserveSeatResponse) -> tuple[SeatAnswer, ClassInfo | None]:
    answer = _SEAT_ANSWERS.get(response.result)
    if answer is None:
        raise ValueError(f"unknown seat result {response.result}")
    if not response.HasField("yoga_class"):
        return answer, None
    c = response.yoga_class
    return answer, ClassInfo(
        c.title, from_timestamp(c.start_time), from_timestamp(c.end_time), c.time_zone
    )


def event(e: ReservationEvent) -> tuple[str, Message]:
    """A domain event as the message published on the reservation topic, keyed by its id."""
    r = e.reservation
    match e:
        case ReservationConfirmed():
            message: Message = events_pb2.ReservationConfirmed(
                reservation=to_proto(r), user_email=r.user_email
            )
        case ReservationRejected():
            message = events_pb2.ReservationRejected(
                reservation=to_proto(r), user_email=r.user_email
            )
        case ReservationCancelled():
            message = events_pb2.ReservationCancelled(
                reservation=to_proto(r), user_email=r.user_email
            )
        case _:
            raise TypeError(f"not a reservation event: {e!r}")
    return r.reservation_id, message
