"""Domain objects <-> protobuf messages, for the API and for the events."""

from __future__ import annotations

from typing import cast

from google.protobuf.message import Message

from reservation_svc.domain import (
    AttendanceRules,
    ClassInfo,
    Reason,
    Reservation,
    ReservationAttended,
    ReservationCancelled,
    ReservationConfirmed,
    ReservationEvent,
    ReservationExpired,
    ReservationNoShow,
    ReservationRejected,
    ReservationRescheduled,
    ReservationWaitlisted,
    SeatAnswer,
    SeatReply,
    Status,
)
from yoga.reservation.v1 import events_pb2, reservation_pb2
from yoga.yogaclass.v1 import events_pb2 as events_pb2_yc
from yoga.yogaclass.v1 import yogaclass_pb2
from yoga_common.timestamps import as_utc, from_timestamp, to_timestamp

# Each enum maps by name: RESERVATION_STATUS_<name>, RESERVATION_REASON_<name>,
# SEAT_RESULT_<name> (a unit test checks every member has its value).
STATUS: dict[Status, reservation_pb2.ReservationStatus] = {
    s: cast(
        reservation_pb2.ReservationStatus,
        reservation_pb2.ReservationStatus.Value(f"RESERVATION_STATUS_{s.value}"),
    )
    for s in Status
}
REASON: dict[Reason, reservation_pb2.ReservationReason] = {
    r: cast(
        reservation_pb2.ReservationReason,
        reservation_pb2.ReservationReason.Value(f"RESERVATION_REASON_{r.value}"),
    )
    for r in Reason
    if r is not Reason.NONE
} | {Reason.NONE: reservation_pb2.RESERVATION_REASON_UNSPECIFIED}
_SEAT_ANSWERS: dict[int, SeatAnswer] = {
    yogaclass_pb2.SeatResult.Value(f"SEAT_RESULT_{a.value}"): a for a in SeatAnswer
}
_SKIPS: dict[int, Reason] = {
    events_pb2_yc.WAITLIST_SKIP_REASON_OVERLAPPING_BOOKING: Reason.WAITLIST_OVERLAPPING_BOOKING,
    events_pb2_yc.WAITLIST_SKIP_REASON_BOOKING_LIMIT: Reason.WAITLIST_BOOKING_LIMIT,
    events_pb2_yc.WAITLIST_SKIP_REASON_BLOCKED: Reason.WAITLIST_BLOCKED,
}


def skip_reason(reason: int) -> Reason | None:
    return _SKIPS.get(reason)


def to_proto(r: Reservation, position: int = 0) -> reservation_pb2.Reservation:
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
        waitlist_position=position,
        waitlist_ticket=r.waitlist_ticket or 0,
        promoted=r.promoted,
        limit_overridden=r.limit_overridden,
    )
    if r.check_in_time is not None:
        message.check_in_time.CopyFrom(to_timestamp(as_utc(r.check_in_time)))
    if r.class_info is not None:
        message.class_title = r.class_info.title
        message.class_time_zone = r.class_info.time_zone
        if r.class_info.start_time is not None:
            message.class_start_time.CopyFrom(to_timestamp(as_utc(r.class_info.start_time)))
        if r.class_info.end_time is not None:
            message.class_end_time.CopyFrom(to_timestamp(as_utc(r.class_info.end_time)))
    return message


def class_info(c: yogaclass_pb2.YogaClass) -> ClassInfo:
    return ClassInfo(
        c.title,
        from_timestamp(c.start_time),
        from_timestamp(c.end_time),
        c.time_zone,
        c.version,
    )


def attendance_rules(s: yogaclass_pb2.StudioSettings) -> AttendanceRules:
    """The settings check-in and no-shows follow; a field yogaclass_svc left unset keeps its
    documented default."""
    default = AttendanceRules()
    return AttendanceRules(
        check_in_opens=s.check_in_opens.ToTimedelta()
        if s.HasField("check_in_opens")
        else default.check_in_opens,
        no_show_grace=s.no_show_grace.ToTimedelta()
        if s.HasField("no_show_grace")
        else default.no_show_grace,
    )


def seat_answer(response: yogaclass_pb2.ReserveSeatResponse) -> SeatReply:
    answer = _SEAT_ANSWERS.get(response.result)
    if answer is None:
        raise ValueError(f"unknown seat result {response.result}")
    return SeatReply(
        answer,
        class_info(response.yoga_class) if response.HasField("yoga_class") else None,
        ticket=response.waitlist_ticket,
        position=response.waitlist_position,
        cancellation_window=response.cancellation_window.ToTimedelta()
        if response.HasField("cancellation_window")
        else None,
        booking_limit=response.booking_limit,
        held=response.held_bookings,
        blocked_until=from_timestamp(response.blocked_until)
        if response.HasField("blocked_until")
        else None,
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
        case ReservationWaitlisted(position=position):
            message = events_pb2.ReservationWaitlisted(
                reservation=to_proto(r, position), user_email=r.user_email
            )
        case ReservationExpired():
            message = events_pb2.ReservationExpired(
                reservation=to_proto(r), user_email=r.user_email
            )
        case ReservationAttended():
            message = events_pb2.ReservationAttended(
                reservation=to_proto(r), user_email=r.user_email
            )
        case ReservationNoShow():
            message = events_pb2.ReservationNoShow(reservation=to_proto(r), user_email=r.user_email)
        case ReservationRescheduled(previous_start=start, previous_end=end):
            message = events_pb2.ReservationRescheduled(
                reservation=to_proto(r),
                user_email=r.user_email,
                previous_start_time=to_timestamp(as_utc(start)) if start else None,
                previous_end_time=to_timestamp(as_utc(end)) if end else None,
            )
        case _:
            raise TypeError(f"not a reservation event: {e!r}")
    return r.reservation_id, message
