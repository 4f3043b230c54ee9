"""Rules of classes and seats. Plain Python: no gRPC, no SQL. Each rule returns the new state
and the event it raises; the service layer stores them (storage.py), and the conditional
statements there are the guards under concurrency.

Seats: a claim per reservation makes ReserveSeat and ReleaseSeat idempotent, `booked`
always equals the number of HELD claims of the class and `waiting` the number of WAITING ones
(the waitlist's own rules are in waitlist.py).

    (no claim) ──reserve, seat free, nobody waiting──► HELD ──release──► RELEASED
    (no claim) ──reserve, class full, queue has room──► WAITING ──seat freed──► HELD
    (no claim) ──release (it came first)──► RELEASED (a tombstone: a late reserve takes nothing)"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from yoga_common.errors import Violations, failed_precondition, invalid_field
from yoga_common.localtime import known_zone
from yogaclass_svc.waitlist import MAX_WAITLIST, Skip

MAX_TITLE = 200
MAX_CAPACITY = 1000
MAX_LENGTH = timedelta(hours=12)
# How far ahead a class may be published. Beyond any studio's timetable, and it keeps every time
# a class yields (its end, its local time in any zone) inside what a datetime can hold.
MAX_AHEAD = timedelta(days=20 * 365)
MUTABLE_FIELDS = (
    "title",
    "instructor",
    "start_time",
    "end_time",
    "time_zone",
    "capacity",
    "waitlist_capacity",
    "cancellation_window",
)
# A class's own cancellation window is at most this (the studio's is bounded the same way).
MAX_WINDOW = timedelta(days=7)


class ClassStatus(StrEnum):
    SCHEDULED = "SCHEDULED"
    CANCELLED = "CANCELLED"


class ClaimState(StrEnum):
    HELD = "HELD"
    RELEASED = "RELEASED"
    WAITING = "WAITING"
    EXPIRED = "EXPIRED"


class SeatResult(StrEnum):
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


@dataclass(frozen=True)
class ClassDetails:
    """What staff decide about a class."""

    title: str
    instructor: str
    start_time: datetime
    end_time: datetime
    time_zone: str
    capacity: int
    # Places in the queue once the class is full (0: no waitlist).
    waitlist_capacity: int = 0
    # The class's own cancellation window; None: the studio's.
    cancellation_window: timedelta | None = None


@dataclass(frozen=True)
class YogaClass:
    class_id: str
    details: ClassDetails
    booked: int
    status: ClassStatus
    create_time: datetime
    update_time: datetime
    version: int
    # Members in the class's queue now.
    waiting: int = 0
    # An occurrence of a series (series.py): the series and its local date, which name it
    # once; detached once edited on its own (series edits pass it by).
    series_id: str = ""
    occurrence_date: date | None = None
    detached: bool = False

    @property
    def free_seats(self) -> int:
        return self.details.capacity - self.booked


def valid_zone(name: str) -> bool:
    return known_zone(name)


def validate_details(details: ClassDetails, now: datetime, v: Violations | None = None) -> None:
    """Every violation at once (added to `v`'s, if given). A class, new or edited, must start
    in the future."""
    v = v if v is not None else Violations()
    v.text("yoga_class.title", details.title, MAX_TITLE, required=True)
    v.text("yoga_class.instructor", details.instructor, MAX_TITLE)
    v.check(
        1 <= details.capacity <= MAX_CAPACITY,
        "yoga_class.capacity",
        f"must be between 1 and {MAX_CAPACITY}",
    )
    v.check(
        0 <= details.waitlist_capacity <= MAX_WAITLIST,
        "yoga_class.waitlist_capacity",
        f"must be between 0 and {MAX_WAITLIST}",
    )
    window = details.cancellation_window
    v.check(
        window is None or timedelta(0) <= window <= MAX_WINDOW,
        "yoga_class.cancellation_window",
        "must be between 0 and 7 days",
    )
    v.check(valid_zone(details.time_zone), "yoga_class.time_zone", "must be an IANA time zone")
    v.check(details.start_time > now, "yoga_class.start_time", "must be in the future")
    v.check(
        details.start_time <= now + MAX_AHEAD,
        "yoga_class.start_time",
        "must be within 20 years from now",
    )
    v.check(
        details.end_time > details.start_time, "yoga_class.end_time", "must be after start_time"
    )
    v.check(
        details.end_time - details.start_time <= MAX_LENGTH,
        "yoga_class.end_time",
        "a class lasts at most 12 hours",
    )
    v.raise_if_any()


def apply_changes(current: YogaClass, changes: dict[str, Any], now: datetime) -> YogaClass:
    """The class after staff change the given fields; capacity can never go below `booked`."""
    if current.status is ClassStatus.CANCELLED:
        raise failed_precondition(
            "CLASS_CANCELLED", "a cancelled class cannot be changed", class_id=current.class_id
        )
    details = replace(current.details, **changes)
    validate_details(details, now)
    if details.capacity < current.booked:
        raise failed_precondition(
            "CAPACITY_BELOW_BOOKED",
            f"capacity {details.capacity} is below the {current.booked} seats already booked",
            class_id=current.class_id,
            booked=str(current.booked),
        )
    if details.waitlist_capacity < current.waiting:
        raise failed_precondition(
            "WAITLIST_BELOW_QUEUE",
            f"waitlist capacity {details.waitlist_capacity} is below the {current.waiting} "
            "members waiting",
            class_id=current.class_id,
            waiting=str(current.waiting),
        )
    return replace(current, details=details, update_time=now, version=current.version + 1)


def seat_refusal(yoga_class: YogaClass | None, now: datetime) -> SeatResult | None:
    """Why a seat cannot be taken, other than a full class (the conditional update decides that)."""
    if yoga_class is None:
        return SeatResult.CLASS_NOT_FOUND
    if yoga_class.status is ClassStatus.CANCELLED:
        return SeatResult.CLASS_CANCELLED
    if yoga_class.details.start_time <= now:
        return SeatResult.CLASS_STARTED
    return None


@dataclass(frozen=True)
class Claim:
    """A reservation's claim on a seat of a class (a ticket while it waits in the queue)."""

    class_id: str
    state: ClaimState
    ticket: int | None = None


@dataclass(frozen=True)
class SeatAnswer:
    """ReserveSeat's answer: the result, the class after the call, and for a queued claim its
    place; for a refusal by the studio's rules, the numbers behind it."""

    result: SeatResult
    yoga_class: YogaClass | None
    position: int = 0
    ticket: int = 0
    booking_limit: int = 0
    held: int = 0
    blocked_until: datetime | None = None
    # The terms the booking is made under: the class's window, or else the studio's now.
    cancellation_window: timedelta | None = None


# The events a class raises (messages.py turns them into yoga.yogaclass.v1 events).
@dataclass(frozen=True)
class ClassCreated:
    yoga_class: YogaClass


@dataclass(frozen=True)
class ClassUpdated:
    yoga_class: YogaClass
    changed: tuple[str, ...]


@dataclass(frozen=True)
class ClassCancelled:
    yoga_class: YogaClass


@dataclass(frozen=True)
class SeatPromoted:
    """A freed seat went to the head of the queue, in the transaction that freed it."""

    yoga_class: YogaClass
    reservation_id: str
    user_id: str


@dataclass(frozen=True)
class WaitlistSkipped:
    yoga_class: YogaClass
    reservation_id: str
    user_id: str
    reason: Skip


@dataclass(frozen=True)
class WaitlistExpired:
    yoga_class: YogaClass
    reservation_id: str
    user_id: str


ClassEvent = (
    ClassCreated | ClassUpdated | ClassCancelled | SeatPromoted | WaitlistSkipped | WaitlistExpired
)


def new_class(
    class_id: str,
    details: ClassDetails,
    now: datetime,
    series_id: str = "",
    occurrence_date: date | None = None,
) -> tuple[YogaClass, ClassEvent]:
    validate_details(details, now)
    created = YogaClass(
        class_id,
        details,
        0,
        ClassStatus.SCHEDULED,
        now,
        now,
        1,
        series_id=series_id,
        occurrence_date=occurrence_date,
    )
    return created, ClassCreated(created)


def retried(stored: YogaClass, stored_hash: str, request_hash: str) -> YogaClass:
    """A CreateClass whose request_id created a class already: a retry gets that class; the
    same key for another class is refused."""
    if stored_hash != request_hash:
        raise invalid_field("request_id", "was already used for a different class")
    return stored


def change_class(
    current: YogaClass, changes: dict[str, Any], now: datetime
) -> tuple[YogaClass, ClassEvent]:
    target = apply_changes(current, changes, now)
    if current.series_id:
        # Edited on its own, the occurrence leaves its series' pattern: a later edit of the
        # series passes it by (a cancel of the series still cancels it).
        target = replace(target, detached=True)
    return target, ClassUpdated(target, tuple(sorted(changes)))


def cancel_class(current: YogaClass, now: datetime) -> tuple[YogaClass, ClassEvent | None]:
    """Deleting a class cancels it and keeps its history; cancelling it again changes nothing."""
    if current.status is ClassStatus.CANCELLED:
        return current, None
    target = replace(
        current, status=ClassStatus.CANCELLED, update_time=now, version=current.version + 1
    )
    return target, ClassCancelled(target)


_CLAIM_ANSWERS = {
    ClaimState.HELD: SeatResult.RESERVED,
    ClaimState.RELEASED: SeatResult.RELEASED,
    ClaimState.WAITING: SeatResult.WAITLISTED,
    ClaimState.EXPIRED: SeatResult.EXPIRED,
}


def claim_answer(claim: Claim) -> SeatResult:
    """A reserve for a reservation that already has a claim answers by the claim, taking
    nothing: a retry of a reserve gets RESERVED again (or WAITLISTED while it waits), a
    reserve after its release RELEASED."""
    return _CLAIM_ANSWERS[claim.state]


def seat_request(
    yoga_class: YogaClass | None, claim: Claim | None, now: datetime
) -> SeatResult | None:
    """The answer to a reserve decided without touching the counter, or None: take a seat if
    one is free (the conditional update decides that, and answers CLASS_FULL if none is)."""
    if claim is not None:
        return claim_answer(claim)
    return seat_refusal(yoga_class, now)


class ReleaseAction(StrEnum):
    FREE_SEAT = "FREE_SEAT"  # the claim was HELD: RELEASED, and the seat goes back
    LEAVE_QUEUE = "LEAVE_QUEUE"  # the claim was WAITING: RELEASED, one fewer waiting
    TOMBSTONE = "TOMBSTONE"  # no claim yet: a RELEASED one, so a late reserve takes nothing
    NOTHING = "NOTHING"  # released before, or the claim is another class's


def release_action(class_id: str, claim: Claim | None) -> ReleaseAction:
    if claim is None:
        return ReleaseAction.TOMBSTONE
    if claim.class_id == class_id and claim.state is ClaimState.HELD:
        return ReleaseAction.FREE_SEAT
    if claim.class_id == class_id and claim.state is ClaimState.WAITING:
        return ReleaseAction.LEAVE_QUEUE
    return ReleaseAction.NOTHING
