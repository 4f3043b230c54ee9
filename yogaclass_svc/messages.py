"""Domain objects <-> protobuf messages, for the API and for the events."""

from __future__ import annotations

import logging
from datetime import timedelta

from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message
from google.rpc import code_pb2, status_pb2

from yoga.yogaclass.v1 import events_pb2, yogaclass_pb2
from yoga_common.errors import ServiceError
from yoga_common.interceptors import to_status_proto
from yoga_common.timestamps import as_utc, to_timestamp
from yogaclass_svc.domain import (
    ClassCancelled,
    ClassCreated,
    ClassEvent,
    ClassStatus,
    ClassUpdated,
    SeatAnswer,
    SeatPromoted,
    SeatResult,
    WaitlistExpired,
    WaitlistSkipped,
    YogaClass,
)
from yogaclass_svc.series import (
    Series,
    SeriesCancelled,
    SeriesCreated,
    SeriesEvent,
    SeriesStatus,
    SeriesUpdated,
)
from yogaclass_svc.studio import (
    BlockLifted,
    MemberBlocked,
    MemberStanding,
    StudioEvent,
    StudioSettings,
    StudioSettingsChanged,
)
from yogaclass_svc.waitlist import Skip

log = logging.getLogger(__name__)

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
    SeatResult.WAITLISTED: yogaclass_pb2.SEAT_RESULT_WAITLISTED,
    SeatResult.EXPIRED: yogaclass_pb2.SEAT_RESULT_EXPIRED,
    SeatResult.BOOKING_LIMIT: yogaclass_pb2.SEAT_RESULT_BOOKING_LIMIT,
    SeatResult.BLOCKED: yogaclass_pb2.SEAT_RESULT_BLOCKED,
}

_SKIPS = {
    Skip.OVERLAPPING_BOOKING: events_pb2.WAITLIST_SKIP_REASON_OVERLAPPING_BOOKING,
    Skip.BOOKING_LIMIT: events_pb2.WAITLIST_SKIP_REASON_BOOKING_LIMIT,
    Skip.BLOCKED: events_pb2.WAITLIST_SKIP_REASON_BLOCKED,
}


def to_proto(c: YogaClass) -> yogaclass_pb2.YogaClass:
    message = yogaclass_pb2.YogaClass(
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
        waitlist_capacity=c.details.waitlist_capacity,
        waiting=c.waiting,
        series_id=c.series_id,
        occurrence_date=c.occurrence_date.isoformat() if c.occurrence_date else "",
        detached=c.detached,
    )
    if c.details.cancellation_window is not None:
        message.cancellation_window.FromTimedelta(c.details.cancellation_window)
    return message


def seat_response(answer: SeatAnswer) -> yogaclass_pb2.ReserveSeatResponse:
    c = answer.yoga_class
    response = yogaclass_pb2.ReserveSeatResponse(
        result=SEAT_RESULTS[answer.result],
        yoga_class=to_proto(c) if c else None,
        waitlist_position=answer.position,
        waitlist_ticket=answer.ticket,
        booking_limit=answer.booking_limit,
        held_bookings=answer.held,
    )
    if answer.cancellation_window is not None:
        response.cancellation_window.FromTimedelta(answer.cancellation_window)
    if answer.blocked_until is not None:
        response.blocked_until.CopyFrom(to_timestamp(as_utc(answer.blocked_until)))
    return response


def seat_result(answer: SeatAnswer | Exception) -> yogaclass_pb2.ReserveSeatsResult:
    """One item of ReserveSeats: its answer, or the status ReserveSeat would have failed with
    (anything but a deliberate ServiceError is INTERNAL, as the interceptor answers it)."""
    if isinstance(answer, ServiceError):
        return yogaclass_pb2.ReserveSeatsResult(error=to_status_proto(answer))
    if isinstance(answer, Exception):
        log.error("seat item failed", exc_info=answer)
        return yogaclass_pb2.ReserveSeatsResult(
            error=status_pb2.Status(code=code_pb2.INTERNAL, message="internal error")
        )
    return yogaclass_pb2.ReserveSeatsResult(seat=seat_response(answer))


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
        case SeatPromoted(reservation_id=rid, user_id=uid):
            return c.class_id, events_pb2.SeatPromoted(
                class_id=c.class_id, reservation_id=rid, user_id=uid, yoga_class=to_proto(c)
            )
        case WaitlistSkipped(reservation_id=rid, user_id=uid, reason=reason):
            return c.class_id, events_pb2.WaitlistSkipped(
                class_id=c.class_id, reservation_id=rid, user_id=uid, reason=_SKIPS[reason]
            )
        case WaitlistExpired(reservation_id=rid, user_id=uid):
            return c.class_id, events_pb2.WaitlistExpired(
                class_id=c.class_id, reservation_id=rid, user_id=uid
            )
    raise TypeError(f"not a class event: {e!r}")


# --- studio settings and member standing (issue 14) ------------------------------------


def _duration(span: timedelta) -> Duration:
    d = Duration()
    d.FromTimedelta(span)
    return d


def settings_to_proto(s: StudioSettings) -> yogaclass_pb2.StudioSettings:
    r = s.rules
    msg = yogaclass_pb2.StudioSettings(
        waitlist_cutoff=_duration(r.waitlist_cutoff),
        cancellation_window=_duration(r.cancellation_window),
        check_in_opens=_duration(r.check_in_opens),
        no_show_grace=_duration(r.no_show_grace),
        strike_limit=r.strike_limit,
        strike_period=_duration(r.strike_period),
        block_duration=_duration(r.block_duration),
        booking_limit=r.booking_limit,
        version=s.version,
        reminder_lead=_duration(r.reminder_lead),
        series_horizon=_duration(r.series_horizon),
    )
    if s.update_time is not None:
        msg.update_time.CopyFrom(to_timestamp(s.update_time))
    return msg


def standing_to_proto(s: MemberStanding) -> yogaclass_pb2.MemberStanding:
    msg = yogaclass_pb2.MemberStanding(
        user_id=s.user_id,
        strikes=s.strikes,
        held_bookings=s.held_bookings,
        booking_limit=s.booking_limit,
    )
    if s.blocked_until is not None:
        msg.blocked_until.CopyFrom(to_timestamp(s.blocked_until))
    if s.lifted_time is not None:
        msg.lifted_time.CopyFrom(to_timestamp(s.lifted_time))
    return msg


STUDIO_KEY = "studio"


def studio_event(e: StudioEvent) -> tuple[str, Message]:
    """A studio event as published on the class topic: settings keyed "studio", a member's
    standing keyed by user_id."""
    match e:
        case StudioSettingsChanged(settings=settings, changed=changed):
            return STUDIO_KEY, events_pb2.StudioSettingsChanged(
                settings=settings_to_proto(settings), changed_fields=list(changed)
            )
        case MemberBlocked(standing=standing):
            return standing.user_id, events_pb2.MemberBlocked(standing=standing_to_proto(standing))
        case BlockLifted(standing=standing):
            return standing.user_id, events_pb2.BlockLifted(standing=standing_to_proto(standing))
    raise TypeError(f"not a studio event: {e!r}")


# --- series (issue 15) ------------------------------------------------------------------

_SERIES_STATUS = {
    SeriesStatus.ACTIVE: yogaclass_pb2.SERIES_STATUS_ACTIVE,
    SeriesStatus.CANCELLED: yogaclass_pb2.SERIES_STATUS_CANCELLED,
}


def series_to_proto(s: Series) -> yogaclass_pb2.ClassSeries:
    p = s.pattern
    msg = yogaclass_pb2.ClassSeries(
        series_id=s.series_id,
        title=p.title,
        instructor=p.instructor,
        capacity=p.capacity,
        waitlist_capacity=p.waitlist_capacity,
        time_zone=p.time_zone,
        start_date=p.start_date.isoformat(),
        start_time=p.start_time.isoformat("minutes"),
        duration=_duration(p.duration),
        recurrence=f"RRULE:{p.recurrence}",
        status=_SERIES_STATUS[s.status],
        cancelled_from=s.cancelled_from.isoformat() if s.cancelled_from else "",
        previous_series_id=s.previous_series_id,
        materialized_until=to_timestamp(s.materialized_until),
        end_date=s.end_date.isoformat(),
        create_time=to_timestamp(s.create_time),
        update_time=to_timestamp(s.update_time),
        version=s.version,
    )
    if p.cancellation_window is not None:
        msg.cancellation_window.CopyFrom(_duration(p.cancellation_window))
    return msg


def series_event(e: SeriesEvent) -> tuple[str, Message]:
    """A series event as published on the class topic, keyed by series_id."""
    match e:
        case SeriesCreated(series=s):
            return s.series_id, events_pb2.SeriesCreated(series=series_to_proto(s))
        case SeriesUpdated(series=s, previous=previous, changed=changed, from_date=start):
            message = events_pb2.SeriesUpdated(
                series=series_to_proto(s), changed_fields=list(changed), from_date=str(start)
            )
            if previous is not None:
                message.previous.CopyFrom(series_to_proto(previous))
            return s.series_id, message
        case SeriesCancelled(series=s, from_date=start):
            return s.series_id, events_pb2.SeriesCancelled(
                series=series_to_proto(s), from_date=str(start)
            )
    raise TypeError(f"not a series event: {e!r}")


def outbox_event(e: object) -> tuple[str, Message]:
    """Every event yogaclass_svc publishes (the outbox's encoder): a class's, a series', or
    the studio's."""
    if isinstance(e, StudioSettingsChanged | MemberBlocked | BlockLifted):
        return studio_event(e)
    if isinstance(e, SeriesCreated | SeriesUpdated | SeriesCancelled):
        return series_event(e)
    return event(e)  # type: ignore[arg-type]
