"""Rules of a reservation: its states, who may do what, and what a seat answer means.
Plain Python: no gRPC, no SQL.

    PENDING ──seat taken──► CONFIRMED ──cancel──► CANCELLED
       │ └──────────────cancel──────────────────► CANCELLED
       └──no seat (full, unknown, cancelled or started class)──► REJECTED
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

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


class Reason(StrEnum):
    NONE = "NONE"
    CLASS_FULL = "CLASS_FULL"
    CLASS_NOT_FOUND = "CLASS_NOT_FOUND"
    CLASS_CANCELLED = "CLASS_CANCELLED"
    CLASS_STARTED = "CLASS_STARTED"
    CANCELLED_BY_USER = "CANCELLED_BY_USER"
    CANCELLED_BY_STUDIO = "CANCELLED_BY_STUDIO"


class SeatAnswer(StrEnum):
    """What yogaclass_svc answered to ReserveSeat."""

    RESERVED = "RESERVED"
    CLASS_FULL = "CLASS_FULL"
    CLASS_NOT_FOUND = "CLASS_NOT_FOUND"
    CLASS_CANCELLED = "CLASS_CANCELLED"
    CLASS_STARTED = "CLASS_STARTED"
    RELEASED = "RELEASED"


ACTIVE = frozenset({Status.PENDING, Status.CONFIRMED})

TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.CONFIRMED, Status.REJECTED, Status.CANCELLED}),
    Status.CONFIRMED: frozenset({Status.CANCELLED}),
    Status.REJECTED: frozenset(),
    Status.CANCELLED: frozenset(),
}

_OUTCOMES: dict[SeatAnswer, tuple[Status, Reason]] = {
    SeatAnswer.RESERVED: (Status.CONFIRMED, Reason.NONE),
    SeatAnswer.CLASS_FULL: (Status.REJECTED, Reason.CLASS_FULL),
    SeatAnswer.CLASS_NOT_FOUND: (Status.REJECTED, Reason.CLASS_NOT_FOUND),
    SeatAnswer.CLASS_CANCELLED: (Status.REJECTED, Reason.CLASS_CANCELLED),
    SeatAnswer.CLASS_STARTED: (Status.REJECTED, Reason.CLASS_STARTED),
}


@dataclass(frozen=True)
class ClassInfo:
    """The class as yogaclass_svc described it when it answered for the seat."""

    title: str
    start_time: datetime | None
    end_time: datetime | None
    # The studio's IANA zone ("" when yogaclass_svc did not say).
    time_zone: str = ""


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

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


def new_reservation(
    class_id: str, user_id: str, user_email: str, request_id: str, request_hash: str, now: datetime
) -> Reservation:
    return Reservation(
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
    r: Reservation, to: Status, reason: Reason, now: datetime, class_info: ClassInfo | None = None
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
        class_info=class_info or r.class_info,
        # A seat may be held (CONFIRMED) or about to be (PENDING): it must be given back.
        release_pending=r.release_pending or to is Status.CANCELLED,
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


ReservationEvent = ReservationConfirmed | ReservationRejected | ReservationCancelled

_RAISES: dict[Status, type[ReservationEvent]] = {
    Status.CONFIRMED: ReservationConfirmed,
    Status.REJECTED: ReservationRejected,
    Status.CANCELLED: ReservationCancelled,
}


def change(
    r: Reservation, to: Status, reason: Reason, now: datetime, class_info: ClassInfo | None = None
) -> tuple[Reservation, ReservationEvent]:
    """`transition`, with the event the new state raises."""
    target = transition(r, to, reason, now, class_info)
    return target, _RAISES[to](target)


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
