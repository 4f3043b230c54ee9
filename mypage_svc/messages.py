"""Protobuf <-> domain: the events the page is built from, and the page the API returns.
An event that lacks what the page needs is an `InvalidEvent` (it goes to the dead-letter topic)."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from mypage_svc.domain import (
    ClassInfo,
    ClassView,
    Move,
    PageEntry,
    Reason,
    ReservationView,
    Status,
)
from yoga.mypage.v1 import mypage_pb2
from yoga.reservation.v1 import events_pb2, reservation_pb2
from yoga.yogaclass.v1 import yogaclass_pb2
from yoga_common.consumer import InvalidEvent
from yoga_common.localtime import local_label
from yoga_common.timestamps import from_timestamp, to_timestamp

STATUS = {
    Status.PENDING: reservation_pb2.RESERVATION_STATUS_PENDING,
    Status.CONFIRMED: reservation_pb2.RESERVATION_STATUS_CONFIRMED,
    Status.REJECTED: reservation_pb2.RESERVATION_STATUS_REJECTED,
    Status.CANCELLED: reservation_pb2.RESERVATION_STATUS_CANCELLED,
    Status.WAITLISTED: reservation_pb2.RESERVATION_STATUS_WAITLISTED,
    Status.EXPIRED: reservation_pb2.RESERVATION_STATUS_EXPIRED,
    Status.ATTENDED: reservation_pb2.RESERVATION_STATUS_ATTENDED,
    Status.NO_SHOW: reservation_pb2.RESERVATION_STATUS_NO_SHOW,
}

REASON = {
    Reason.NONE: reservation_pb2.RESERVATION_REASON_UNSPECIFIED,
    Reason.CLASS_FULL: reservation_pb2.RESERVATION_REASON_CLASS_FULL,
    Reason.CLASS_NOT_FOUND: reservation_pb2.RESERVATION_REASON_CLASS_NOT_FOUND,
    Reason.CLASS_CANCELLED: reservation_pb2.RESERVATION_REASON_CLASS_CANCELLED,
    Reason.CLASS_STARTED: reservation_pb2.RESERVATION_REASON_CLASS_STARTED,
    Reason.CANCELLED_BY_USER: reservation_pb2.RESERVATION_REASON_CANCELLED_BY_USER,
    Reason.CANCELLED_BY_STUDIO: reservation_pb2.RESERVATION_REASON_CANCELLED_BY_STUDIO,
    Reason.WAITLIST_OVERLAPPING_BOOKING: (
        reservation_pb2.RESERVATION_REASON_WAITLIST_OVERLAPPING_BOOKING
    ),
    Reason.WAITLIST_BOOKING_LIMIT: reservation_pb2.RESERVATION_REASON_WAITLIST_BOOKING_LIMIT,
    Reason.WAITLIST_BLOCKED: reservation_pb2.RESERVATION_REASON_WAITLIST_BLOCKED,
    Reason.WAITLIST_CLOSED: reservation_pb2.RESERVATION_REASON_WAITLIST_CLOSED,
    Reason.LATE_CANCELLED: reservation_pb2.RESERVATION_REASON_LATE_CANCELLED,
    Reason.BOOKING_LIMIT: reservation_pb2.RESERVATION_REASON_BOOKING_LIMIT,
    Reason.BLOCKED: reservation_pb2.RESERVATION_REASON_BLOCKED,
}

_STATUS_OF = {value: status for status, value in STATUS.items()}
_REASON_OF = {value: reason for reason, value in REASON.items()}


def _require(ok: bool, what: str) -> None:
    if not ok:
        raise InvalidEvent(what)


def reservation_view(r: reservation_pb2.Reservation) -> ReservationView:
    """The reservation an event carries (the state after the change)."""
    _require(bool(r.reservation_id), "reservation.reservation_id is missing")
    _require(bool(r.class_id), "reservation.class_id is missing")
    _require(bool(r.user_id), "reservation.user_id is missing")
    _require(r.version > 0, "reservation.version must be positive")
    _require(r.HasField("update_time"), "reservation.update_time is missing")
    status = _STATUS_OF.get(r.status)
    if status is None:
        raise InvalidEvent(f"reservation.status {r.status} is not a status this service knows")
    reason = _REASON_OF.get(r.reason)
    if reason is None:
        raise InvalidEvent(f"reservation.reason {r.reason} is not a reason this service knows")
    # A waiting reservation's place is counted from its ticket: without one it has none.
    _require(
        status is not Status.WAITLISTED or r.waitlist_ticket > 0,
        "reservation.waitlist_ticket is missing on a WAITLISTED reservation",
    )
    return ReservationView(
        reservation_id=r.reservation_id,
        class_id=r.class_id,
        user_id=r.user_id,
        status=status,
        reason=reason,
        class_info=ClassInfo(
            r.class_title,
            from_timestamp(r.class_start_time) if r.HasField("class_start_time") else None,
            from_timestamp(r.class_end_time) if r.HasField("class_end_time") else None,
        ),
        update_time=from_timestamp(r.update_time),
        version=r.version,
        promoted=r.promoted,
        check_in_time=from_timestamp(r.check_in_time) if r.HasField("check_in_time") else None,
        class_time_zone=r.class_time_zone,
        waitlist_ticket=r.waitlist_ticket if r.waitlist_ticket > 0 else None,
    )


def moved_from(e: events_pb2.ReservationRescheduled) -> Move:
    """The times a ReservationRescheduled says the class left."""
    return Move(
        from_timestamp(e.previous_start_time) if e.HasField("previous_start_time") else None,
        from_timestamp(e.previous_end_time) if e.HasField("previous_end_time") else None,
    )


def class_view(c: yogaclass_pb2.YogaClass) -> ClassView:
    """The class an event carries (the state after the change)."""
    _require(bool(c.class_id), "yoga_class.class_id is missing")
    _require(c.version > 0, "yoga_class.version must be positive")
    _require(c.HasField("start_time"), "yoga_class.start_time is missing")
    _require(c.HasField("end_time"), "yoga_class.end_time is missing")
    return ClassView(
        class_id=c.class_id,
        title=c.title,
        start_time=from_timestamp(c.start_time),
        end_time=from_timestamp(c.end_time),
        cancelled=c.status == yogaclass_pb2.CLASS_STATUS_CANCELLED,
        version=c.version,
    )


def _optional(value: datetime | None) -> Timestamp | None:
    return to_timestamp(value) if value is not None else None


def to_proto(e: PageEntry) -> mypage_pb2.MyPageEntry:
    return mypage_pb2.MyPageEntry(
        reservation_id=e.reservation_id,
        class_id=e.class_id,
        class_title=e.class_info.title,
        class_start_time=_optional(e.class_info.start_time),
        class_end_time=_optional(e.class_info.end_time),
        status=STATUS[e.status],
        reason=REASON[e.reason],
        update_time=to_timestamp(e.update_time),
        waitlist_position=e.waitlist_position,
        promoted=e.promoted,
        check_in_time=_optional(e.check_in_time),
        class_time_zone=e.class_time_zone,
        # For people, in the class's zone (UTC when it is unknown); the times above stay UTC.
        class_start_local=local_label(e.class_info.start_time, e.class_time_zone),
    )
