"""Rules of a reservation: its states, who may do what, and what a seat answer means.
Plain Python: no gRPC, no SQL.

    PENDING ──seat taken──► CONFIRMED ──cancel──► CANCELLED (LATE_CANCELLED inside the window)
       │ │                     ├──staff check in──► ATTENDED
       │ │                     └──class over, not checked in──► NO_SHOW
       │ └──────────────cancel──────────────────► CANCELLED
       ├──no seat (full, unknown, cancelled or started class; limit; block)──► REJECTED
       └──class full, joins the queue──► WAITLISTED ──seat freed (promoted)──► CONFIRMED
                                            ├──passed over (ineligible)──► REJECTED
                                            ├──queue closed at the cutoff──► EXPIRED
                                            └──cancel (leaves the queue)──► CANCELLED
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import IntEnum, StrEnum
from typing import Any

from yoga_common import pagination
from yoga_common.errors import (
    ServiceError,
    already_exists,
    failed_precondition,
    invalid_field,
    permission_denied,
)
from yoga_common.principal import Principal


class Status(StrEnum):
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"
    WAITLISTED = "WAITLISTED"
    EXPIRED = "EXPIRED"
    ATTENDED = "ATTENDED"
    NO_SHOW = "NO_SHOW"


class Reason(StrEnum):
    NONE = "NONE"
    CLASS_FULL = "CLASS_FULL"
    CLASS_NOT_FOUND = "CLASS_NOT_FOUND"
    CLASS_CANCELLED = "CLASS_CANCELLED"
    CLASS_STARTED = "CLASS_STARTED"
    CANCELLED_BY_USER = "CANCELLED_BY_USER"
    CANCELLED_BY_STUDIO = "CANCELLED_BY_STUDIO"
    WAITLIST_OVERLAPPING_BOOKING = "WAITLIST_OVERLAPPING_BOOKING"
    WAITLIST_BOOKING_LIMIT = "WAITLIST_BOOKING_LIMIT"
    WAITLIST_BLOCKED = "WAITLIST_BLOCKED"
    WAITLIST_CLOSED = "WAITLIST_CLOSED"
    LATE_CANCELLED = "LATE_CANCELLED"
    BOOKING_LIMIT = "BOOKING_LIMIT"
    BLOCKED = "BLOCKED"


# A reservation REJECTED gives one of these reasons (a CHECK constraint says the same).
REJECTIONS = frozenset(
    {
        Reason.CLASS_FULL,
        Reason.CLASS_NOT_FOUND,
        Reason.CLASS_CANCELLED,
        Reason.CLASS_STARTED,
        Reason.WAITLIST_OVERLAPPING_BOOKING,
        Reason.WAITLIST_BOOKING_LIMIT,
        Reason.WAITLIST_BLOCKED,
        Reason.BOOKING_LIMIT,
        Reason.BLOCKED,
    }
)


class SeatAnswer(StrEnum):
    """What yogaclass_svc answered to ReserveSeat."""

    RESERVED = "RESERVED"
    CLASS_FULL = "CLASS_FULL"
    CLASS_NOT_FOUND = "CLASS_NOT_FOUND"
    CLASS_CANCELLED = "CLASS_CANCELLED"
    CLASS_STARTED = "CLASS_STARTED"
    RELEASED = "RELEASED"
    WAITLISTED = "WAITLISTED"
    EXPIRED = "EXPIRED"
    BOOKING_LIMIT = "BOOKING_LIMIT"
    BLOCKED = "BLOCKED"


# A member holds at most one of these per class (a partial unique index says the same).
ACTIVE = frozenset({Status.PENDING, Status.CONFIRMED, Status.WAITLISTED})
WAITING = frozenset({Status.PENDING, Status.WAITLISTED})

TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset(
        {Status.CONFIRMED, Status.REJECTED, Status.CANCELLED, Status.WAITLISTED, Status.EXPIRED}
    ),
    Status.WAITLISTED: frozenset(
        {Status.CONFIRMED, Status.REJECTED, Status.CANCELLED, Status.EXPIRED}
    ),
    Status.CONFIRMED: frozenset({Status.CANCELLED, Status.ATTENDED, Status.NO_SHOW}),
    Status.REJECTED: frozenset(),
    Status.CANCELLED: frozenset(),
    Status.EXPIRED: frozenset(),
    Status.ATTENDED: frozenset(),
    Status.NO_SHOW: frozenset(),
}

_OUTCOMES: dict[SeatAnswer, tuple[Status, Reason]] = {
    SeatAnswer.RESERVED: (Status.CONFIRMED, Reason.NONE),
    SeatAnswer.CLASS_FULL: (Status.REJECTED, Reason.CLASS_FULL),
    SeatAnswer.CLASS_NOT_FOUND: (Status.REJECTED, Reason.CLASS_NOT_FOUND),
    SeatAnswer.CLASS_CANCELLED: (Status.REJECTED, Reason.CLASS_CANCELLED),
    SeatAnswer.CLASS_STARTED: (Status.REJECTED, Reason.CLASS_STARTED),
    SeatAnswer.WAITLISTED: (Status.WAITLISTED, Reason.NONE),
    SeatAnswer.EXPIRED: (Status.EXPIRED, Reason.WAITLIST_CLOSED),
    SeatAnswer.BOOKING_LIMIT: (Status.REJECTED, Reason.BOOKING_LIMIT),
    SeatAnswer.BLOCKED: (Status.REJECTED, Reason.BLOCKED),
}


@dataclass(frozen=True)
class ClassInfo:
    """The class as yogaclass_svc described it when it answered for the seat."""

    title: str
    start_time: datetime | None
    end_time: datetime | None
    # The studio's IANA zone ("" when yogaclass_svc did not say).
    time_zone: str = ""
    # The class's version this describes (0: unknown): a class's description only ever
    # gives way to a newer one, so a late seat answer or a redelivered ClassUpdated cannot
    # move a class back.
    version: int = 0


def newer(given: ClassInfo | None, held: ClassInfo | None) -> ClassInfo | None:
    """The newer of two descriptions of a class (the given one on a tie)."""
    if given is None:
        return held
    if held is not None and held.version > given.version:
        return held
    return given


@dataclass(frozen=True)
class SeatReply:
    """yogaclass_svc's whole answer to ReserveSeat."""

    answer: SeatAnswer
    class_info: ClassInfo | None = None
    # For WAITLISTED: the queue's ticket and the place in it.
    ticket: int = 0
    position: int = 0
    # The terms the booking is made under (None: yogaclass_svc did not say).
    cancellation_window: timedelta | None = None
    # For BOOKING_LIMIT and BLOCKED: the numbers behind the refusal.
    booking_limit: int = 0
    held: int = 0
    blocked_until: datetime | None = None


@dataclass(frozen=True)
class Reservation:
    reservation_id: str
    class_id: str
    user_id: str
    user_email: str
    status: Status
    reason: Reason
    request_id: str
    request_hash: str
    create_time: datetime
    update_time: datetime
    version: int
    class_info: ClassInfo | None = None
    # Its seat must still be given back (it was cancelled while holding or awaiting one).
    release_pending: bool = False
    # Its place in the class's queue (the ticket orders it), while WAITLISTED; kept after.
    waitlist_ticket: int | None = None
    # Its seat came from the waitlist.
    promoted: bool = False
    # Staff booked it past the studio's booking limit.
    limit_overridden: bool = False
    # The window the booking was made under: a member's cancel later than this before the
    # start is LATE_CANCELLED (None: the booking predates windows; never late).
    cancellation_window: timedelta | None = None
    check_in_time: datetime | None = None
    # The member's choice when the class is full: wait in its queue, or be refused.
    join_waitlist: bool = True

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


def new_reservation(
    class_id: str,
    user_id: str,
    user_email: str,
    request_id: str,
    request_hash: str,
    now: datetime,
    join_waitlist: bool = True,
    limit_overridden: bool = False,
) -> Reservation:
    return Reservation(
        join_waitlist=join_waitlist,
        limit_overridden=limit_overridden,
        reservation_id=str(uuid.uuid4()),
        class_id=class_id,
        user_id=user_id,
        user_email=user_email,
        status=Status.PENDING,
        reason=Reason.NONE,
        request_id=request_id,
        request_hash=request_hash,
        create_time=now,
        update_time=now,
        version=1,
    )


def retried(stored: Reservation, request: Reservation) -> Reservation:
    """A request whose (member, request_id) is stored already: a retry gets the stored
    reservation; the same key for another payload is refused."""
    if stored.request_hash != request.request_hash:
        raise invalid_field("request_id", "was already used for a different reservation")
    return stored


def already_booked(r: Reservation) -> ServiceError:
    """A member holds at most one active reservation per class."""
    return already_exists(
        "ALREADY_BOOKED",
        "this member already holds a reservation for this class",
        class_id=r.class_id,
        user_id=r.user_id,
    )


def transition(
    r: Reservation,
    to: Status,
    reason: Reason,
    now: datetime,
    class_info: ClassInfo | None = None,
    **changes: Any,
) -> Reservation:
    if to not in TRANSITIONS[r.status]:
        raise failed_precondition(
            "INVALID_TRANSITION",
            f"a {r.status.value} reservation cannot become {to.value}",
            reservation_id=r.reservation_id,
        )
    return replace(
        r,
        status=to,
        reason=reason,
        update_time=now,
        version=r.version + 1,
        class_info=newer(class_info, r.class_info),
        # A seat may be held (CONFIRMED), about to be (PENDING) or a place in the queue
        # (WAITLISTED): it must be given back.
        release_pending=r.release_pending or to is Status.CANCELLED,
        promoted=r.promoted or (r.status is Status.WAITLISTED and to is Status.CONFIRMED),
        **changes,
    )


# The events a reservation raises, one per state it reaches (messages.py turns them into
# yoga.reservation.v1 events).
@dataclass(frozen=True)
class ReservationConfirmed:
    reservation: Reservation


@dataclass(frozen=True)
class ReservationRejected:
    reservation: Reservation


@dataclass(frozen=True)
class ReservationCancelled:
    reservation: Reservation


@dataclass(frozen=True)
class ReservationWaitlisted:
    reservation: Reservation
    position: int


@dataclass(frozen=True)
class ReservationExpired:
    reservation: Reservation


@dataclass(frozen=True)
class ReservationAttended:
    reservation: Reservation


@dataclass(frozen=True)
class ReservationNoShow:
    reservation: Reservation


@dataclass(frozen=True)
class ReservationRescheduled:
    """The studio moved the class of an active reservation: `reservation` holds the new times,
    previous_* the ones it was booked for."""

    reservation: Reservation
    previous_start: datetime | None
    previous_end: datetime | None


ReservationEvent = (
    ReservationConfirmed
    | ReservationRejected
    | ReservationCancelled
    | ReservationWaitlisted
    | ReservationExpired
    | ReservationAttended
    | ReservationNoShow
    | ReservationRescheduled
)


def change(
    r: Reservation,
    to: Status,
    reason: Reason,
    now: datetime,
    class_info: ClassInfo | None = None,
    position: int = 0,
    **changes: Any,
) -> tuple[Reservation, ReservationEvent]:
    """`transition`, with the event the new state raises."""
    target = transition(r, to, reason, now, class_info, **changes)
    event: ReservationEvent
    match to:
        case Status.CONFIRMED:
            event = ReservationConfirmed(target)
        case Status.REJECTED:
            event = ReservationRejected(target)
        case Status.CANCELLED:
            event = ReservationCancelled(target)
        case Status.WAITLISTED:
            event = ReservationWaitlisted(target, position)
        case Status.EXPIRED:
            event = ReservationExpired(target)
        case Status.ATTENDED:
            event = ReservationAttended(target)
        case Status.NO_SHOW:
            event = ReservationNoShow(target)
        case _:
            raise AssertionError(f"no event for {to}")
    return target, event


def rescheduled(
    r: Reservation, info: ClassInfo, now: datetime
) -> tuple[Reservation, ReservationRescheduled] | None:
    """A reservation whose member is told that the class moved: the reservation with the
    class's newer description, and its event. None when nobody is to be told: the
    reservation no longer holds or awaits a seat (its member has nothing to turn up to), its
    description is as new as `info` already (a redelivered or late ClassUpdated), it has no
    description yet (a booking still waiting for its seat answer, which will carry the class
    as it then is), or only the title changed."""
    held = r.class_info
    if not r.active or held is None or held.version >= info.version:
        return None
    if (held.start_time, held.end_time) == (info.start_time, info.end_time):
        return None
    target = replace(r, class_info=info, update_time=now, version=r.version + 1)
    return target, ReservationRescheduled(target, held.start_time, held.end_time)


# Refusals by the studio's rules come back to the booker as an error naming the rule.
_RULE_REFUSALS = {
    Reason.BOOKING_LIMIT: "this member holds as many upcoming bookings as the studio allows",
    Reason.BLOCKED: "this member is blocked from booking online (late cancels or no-shows)",
}


def refusal_by_rules(r: Reservation, reply: SeatReply | None) -> ServiceError | None:
    """A booking refused by the booking limit or a block: FAILED_PRECONDITION naming the rule
    and its numbers (the reservation stays, REJECTED, so a retry gets the same refusal)."""
    if r.status is not Status.REJECTED or r.reason not in _RULE_REFUSALS:
        return None
    details = {"reservation_id": r.reservation_id, "user_id": r.user_id}
    if reply is not None and r.reason is Reason.BOOKING_LIMIT:
        details |= {"limit": str(reply.booking_limit), "held": str(reply.held)}
    if reply is not None and reply.blocked_until is not None:
        details["blocked_until"] = reply.blocked_until.isoformat()
    return failed_precondition(r.reason.value, _RULE_REFUSALS[r.reason], **details)


def settled_by(answer: SeatAnswer) -> frozenset[Status]:
    """The states a seat answer may settle: a seat or the queue's end also settle a
    reservation already WAITLISTED (its promotion's event may not have arrived yet)."""
    if answer in (SeatAnswer.RESERVED, SeatAnswer.EXPIRED):
        return WAITING
    return frozenset({Status.PENDING})


def owes_seat(answer: SeatAnswer, current: Reservation, changed: bool) -> bool:
    """A claim taken for a reservation someone else ended first (a cancel, or a rejection by
    an earlier try) is owed back: a seat, or a place in the queue. An earlier try may have been
    refused (the member's booking limit, the class full without the queue) and a later one of
    the same reservation given a place once that changed, by another replica's recovery or the
    booking call itself; a place left behind would hold the queue for nobody."""
    return (
        not changed
        and answer in (SeatAnswer.RESERVED, SeatAnswer.WAITLISTED)
        and current.status in (Status.CANCELLED, Status.REJECTED, Status.EXPIRED)
    )


def cancel_reason(r: Reservation, by_staff: bool, now: datetime) -> Reason:
    """Why a cancel ends the reservation, by the cancellation window it was booked under:
    a member's cancel of a held seat inside the window is LATE_CANCELLED (a strike); leaving
    the queue, or staff cancelling for a member, never is. After the class started nothing
    is cancelled."""
    start = r.class_info.start_time if r.class_info else None
    if start is not None and start <= now and r.status in (Status.CONFIRMED, Status.WAITLISTED):
        raise failed_precondition(
            "CLASS_STARTED",
            "the class has started; its reservations can no longer be cancelled",
            reservation_id=r.reservation_id,
        )
    window = r.cancellation_window
    late = (
        not by_staff
        and r.status is Status.CONFIRMED
        and start is not None
        and window is not None
        and start - now < window
    )
    return Reason.LATE_CANCELLED if late else Reason.CANCELLED_BY_USER


def outcome(answer: SeatAnswer) -> tuple[Status, Reason] | None:
    """The end state a seat answer leads to; None when the reservation was cancelled meanwhile."""
    return _OUTCOMES.get(answer)


def booking_user(principal: Principal, requested: str) -> str:
    """Members book for themselves; staff may book for a member."""
    if not requested or requested == principal.subject:
        return principal.subject
    if principal.is_admin:
        return requested
    raise permission_denied("members can only book for themselves")


def check_owner(principal: Principal, user_id: str) -> None:
    if not principal.is_admin and principal.subject != user_id:
        raise permission_denied("this reservation belongs to another member")


def visible_user(principal: Principal, requested: str) -> str:
    """The user whose reservations a listing may show; empty means everyone (staff only)."""
    if principal.is_admin:
        return requested
    if requested and requested != principal.subject:
        raise permission_denied("members can only list their own reservations")
    return principal.subject


# --- Attendance: check-in and the no-show sweep --------------------------------------------


@dataclass(frozen=True)
class AttendanceRules:
    """The studio's settings check-in and no-shows follow (yogaclass_svc keeps them)."""

    # Check-in opens this long before the start (and closes at the end).
    check_in_opens: timedelta = timedelta(minutes=30)
    # A confirmed booking not checked in becomes NO_SHOW this long after the class ends.
    no_show_grace: timedelta = timedelta(minutes=15)


def _times(r: Reservation) -> tuple[datetime | None, datetime | None]:
    info = r.class_info
    if info is None:
        return None, None
    return info.start_time, info.end_time or info.start_time


def check_in_due(r: Reservation, rules: AttendanceRules, now: datetime) -> bool:
    """Whether staff checking the member in now changes the reservation: False when it is
    ATTENDED already (a repeated check-in answers it unchanged). Raises the refusal when it
    is not CONFIRMED or the check-in window (opening before the start, closing at the end)
    is not open. A reservation whose class times are unknown has no window to keep."""
    if r.status is Status.ATTENDED:
        return False
    if r.status is not Status.CONFIRMED:
        raise failed_precondition(
            "NOT_CONFIRMED",
            f"a {r.status.value} reservation cannot be checked in",
            reservation_id=r.reservation_id,
            status=r.status.value,
        )
    start, end = _times(r)
    if start is not None and now < start - rules.check_in_opens:
        raise failed_precondition(
            "CHECK_IN_NOT_OPEN",
            "check-in for this class has not opened yet",
            reservation_id=r.reservation_id,
            opens_at=(start - rules.check_in_opens).isoformat(),
        )
    if end is not None and now >= end:
        raise failed_precondition(
            "CLASS_ENDED",
            "the class has ended; its members can no longer be checked in",
            reservation_id=r.reservation_id,
            ended_at=end.isoformat(),
        )
    return True


def no_show_cutoff(rules: AttendanceRules, now: datetime) -> datetime:
    """Classes that ended at or before this are past their grace: whoever is still
    CONFIRMED in them did not come."""
    return now - rules.no_show_grace


def is_no_show(r: Reservation, rules: AttendanceRules, now: datetime) -> bool:
    _, end = _times(r)
    return r.status is Status.CONFIRMED and end is not None and end <= no_show_cutoff(rules, now)


class RosterPart(IntEnum):
    """The parts of a class's roster, in the order it lists them."""

    SEATED = 0  # CONFIRMED and ATTENDED, by booking time
    WAITING = 1  # WAITLISTED, in queue order (ticket)
    OTHERS = 2  # everything else (no-shows, cancels, rejections, expired, pending), by booking


ROSTER_STATUSES: dict[RosterPart, frozenset[Status]] = {
    RosterPart.SEATED: frozenset({Status.CONFIRMED, Status.ATTENDED}),
    RosterPart.WAITING: frozenset({Status.WAITLISTED}),
    RosterPart.OTHERS: frozenset(Status) - {Status.CONFIRMED, Status.ATTENDED, Status.WAITLISTED},
}


def roster_part(r: Reservation) -> RosterPart:
    return next(part for part, statuses in ROSTER_STATUSES.items() if r.status in statuses)


@dataclass(frozen=True)
class RosterPosition:
    """Where a roster page starts: in `part`, after the keyset position `after` (the ticket,
    or the booking time and id; None at the part's beginning)."""

    part: RosterPart = RosterPart.SEATED
    after: tuple[int] | tuple[datetime, str] | None = None


def roster_key(r: Reservation) -> tuple[int] | tuple[datetime, str]:
    """A reservation's place in its roster part (a ticket is unique within its class)."""
    if roster_part(r) is RosterPart.WAITING:
        return (r.waitlist_ticket or 0,)
    return (r.create_time, r.reservation_id)


def roster_after(r: Reservation) -> RosterPosition:
    return RosterPosition(roster_part(r), roster_key(r))


def next_roster_part(position: RosterPosition) -> RosterPosition | None:
    if position.part is RosterPart.OTHERS:
        return None
    return RosterPosition(RosterPart(position.part + 1))


def roster_token(class_id: str, position: RosterPosition) -> str:
    """The opaque token of a roster position; it names its class, so another class's token
    is refused rather than read as a position in this one."""
    key: list[Any] = []
    if position.after is not None:
        key = [a.isoformat() if isinstance(a, datetime) else a for a in position.after]
    return pagination.encode([class_id, int(position.part), *key])


def roster_position(token: str, class_id: str) -> RosterPosition | None:
    """The position a token names (None for no token); a token this service could not have
    issued for this class's roster is INVALID_ARGUMENT naming `page_token`."""
    found = pagination.decode(token)
    if found is None:
        return None
    try:
        token_class, part_value, *key = found
        part = RosterPart(part_value)
        after: tuple[int] | tuple[datetime, str]
        if part is RosterPart.WAITING:
            (ticket,) = key
            if not isinstance(ticket, int) or isinstance(ticket, bool):
                raise ValueError("a ticket is a number")
            after = (ticket,)
        else:
            at_text, reservation_id = key
            at = datetime.fromisoformat(at_text)
            if at.tzinfo is None or not isinstance(reservation_id, str) or not reservation_id:
                raise ValueError("a booking time is UTC, an id is text")
            after = (at.astimezone(UTC), reservation_id)
    except (TypeError, ValueError, OverflowError) as err:
        raise invalid_field("page_token", "is not a token this service issued") from err
    if token_class != class_id:
        raise invalid_field("page_token", "belongs to another class's roster")
    return RosterPosition(part, after)
