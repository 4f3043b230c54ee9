"""Rules of notifications: what each reservation event (and each change of a member's standing:
blocked, block lifted) tells the member, where the email goes, when a failed email is tried
again, and who may read an inbox. Plain Python: no gRPC, no SQL.

    event ──► notification ──► email PENDING ──sent──► SENT
                 │                  │ └──failed, tries left──► PENDING (later, backoff)
                 │                  └──failed, none left or refused for good──► FAILED
                 └──no address known──► SKIPPED (the in-app inbox still has it)
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from yoga_common.errors import permission_denied
from yoga_common.localtime import local_clock, local_label
from yoga_common.principal import Principal

MAX_TITLE = 200
MAX_ADDRESS = 320
MAX_ERROR = 1000
# Notification ids are derived from (event, recipient): a redelivered event names the same one.
_IDS = uuid.UUID("5b0f3c59-3f0e-4c57-9a51-6f3f0b1d2c11")


class Kind(StrEnum):
    BOOKED = "BOOKED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"
    CLASS_CANCELLED = "CLASS_CANCELLED"
    # The class was full: the member waits in its queue (with the position).
    WAITLISTED = "WAITLISTED"
    # A seat came free and went to the member from the waitlist ("you are in").
    PROMOTED = "PROMOTED"
    # The waitlist closed before a seat came free.
    WAITLIST_EXPIRED = "WAITLIST_EXPIRED"
    ATTENDED = "ATTENDED"
    NO_SHOW = "NO_SHOW"
    # Strikes blocked online booking until a date; staff lifted the block.
    BLOCKED = "BLOCKED"
    BLOCK_LIFTED = "BLOCK_LIFTED"
    # The studio moved the class to another time.
    RESCHEDULED = "RESCHEDULED"
    # The class is soon: the studio's reminder lead before its start (reminders.py).
    REMINDER = "REMINDER"


class EmailState(StrEnum):
    PENDING = "PENDING"
    SENT = "SENT"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"


class Outcome(StrEnum):
    """Which reservation event arrived."""

    CONFIRMED = "CONFIRMED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"
    WAITLISTED = "WAITLISTED"
    EXPIRED = "EXPIRED"
    ATTENDED = "ATTENDED"
    NO_SHOW = "NO_SHOW"
    RESCHEDULED = "RESCHEDULED"


class StandingChange(StrEnum):
    """Which member-standing event arrived (keyed by user, no reservation)."""

    BLOCKED = "BLOCKED"
    LIFTED = "LIFTED"


BY_STUDIO = "CANCELLED_BY_STUDIO"
LATE_CANCELLED = "LATE_CANCELLED"

_STRIKE = "late cancellations and missed classes count as strikes"

_REFUSALS = {
    "CLASS_FULL": "the class is full",
    "CLASS_NOT_FOUND": "the class does not exist",
    "CLASS_CANCELLED": "the class was cancelled",
    "CLASS_STARTED": "the class has already started",
    "BOOKING_LIMIT": "you already hold as many upcoming bookings as the studio allows",
    "BLOCKED": f"online booking is paused for you ({_STRIKE}); the studio can still book you",
}

# Passed over when a seat came free: the member could not take it, and left the queue.
_PASSED_OVER = {
    "WAITLIST_OVERLAPPING_BOOKING": "you hold an overlapping booking",
    "WAITLIST_BOOKING_LIMIT": "you already hold as many upcoming bookings as the studio allows",
    "WAITLIST_BLOCKED": f"online booking is paused for you ({_STRIKE})",
}


@dataclass(frozen=True)
class ReservationFact:
    """What a reservation event says, as far as notifications care."""

    event_id: str
    outcome: Outcome
    reservation_id: str
    class_id: str
    user_id: str
    class_title: str
    class_start_time: datetime | None
    # The reservation's reason by name (`CLASS_FULL`, `CANCELLED_BY_STUDIO`, ...), or "".
    reason: str
    user_email: str
    # The studio's zone of the class, as the event says it; "" for events from before it did.
    class_time_zone: str = ""
    # The seat came from the waitlist (CONFIRMED: "you are in").
    promoted: bool = False
    # WAITLISTED: the place in the queue as of the event (0: unknown).
    waitlist_position: int = 0
    # The queue's running number while it waited (0: it never did).
    waitlist_ticket: int = 0
    # ATTENDED: when staff checked the member in.
    check_in_time: datetime | None = None
    # RESCHEDULED: where the class was before the studio moved it.
    previous_start_time: datetime | None = None


@dataclass(frozen=True)
class StandingFact:
    """What a member-standing event (MemberBlocked, BlockLifted) says: no reservation, no
    class, and no address (the directory has it, or nobody does)."""

    event_id: str
    change: StandingChange
    user_id: str
    strikes: int
    blocked_until: datetime | None


@dataclass(frozen=True)
class Notification:
    notification_id: str
    event_id: str
    user_id: str
    kind: Kind
    reservation_id: str
    class_id: str
    class_title: str
    class_start_time: datetime | None
    subject: str
    body: str
    email: str
    email_state: EmailState
    attempts: int
    next_attempt_at: datetime | None
    last_error: str
    create_time: datetime
    sent_time: datetime | None = None
    # The zone the subject and body show the class's time in ("" when there is no class).
    class_time_zone: str = ""


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff for email: base, 2 x base, 4 x base, ... at most `max_seconds`."""

    max_attempts: int = 5
    base_seconds: float = 2.0
    max_seconds: float = 600.0

    def delay(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failed try (1, 2, ...)."""
        exponent = min(max(attempts - 1, 0), 32)
        return timedelta(seconds=min(self.base_seconds * 2**exponent, self.max_seconds))


_KIND_OF_OUTCOME = {
    Outcome.REJECTED: Kind.REJECTED,
    Outcome.WAITLISTED: Kind.WAITLISTED,
    Outcome.EXPIRED: Kind.WAITLIST_EXPIRED,
    Outcome.ATTENDED: Kind.ATTENDED,
    Outcome.NO_SHOW: Kind.NO_SHOW,
    Outcome.RESCHEDULED: Kind.RESCHEDULED,
}


def kind_of(outcome: Outcome, reason: str, promoted: bool = False) -> Kind:
    if outcome is Outcome.CONFIRMED:
        return Kind.PROMOTED if promoted else Kind.BOOKED
    if outcome is Outcome.CANCELLED:
        return Kind.CLASS_CANCELLED if reason == BY_STUDIO else Kind.CANCELLED
    return _KIND_OF_OUTCOME[outcome]


def left_the_waitlist(fact: ReservationFact) -> bool:
    """A member's cancel of a reservation that was still waiting: leaving the queue, not giving
    a seat back. Told by the ticket it kept and never having been promoted."""
    return (
        fact.outcome is Outcome.CANCELLED
        and fact.reason != BY_STUDIO
        and fact.waitlist_ticket > 0
        and not fact.promoted
    )


def describe(
    kind: Kind,
    title: str,
    start: datetime | None,
    reason: str,
    time_zone: str,
    *,
    position: int = 0,
    check_in: datetime | None = None,
    left_queue: bool = False,
    previous: datetime | None = None,
) -> tuple[str, str]:
    """The subject and body a member reads about a reservation: every time in the class's
    zone, with the zone's abbreviation ("Tue 1 Jan 18:00 KST")."""
    what = title.strip() or "your class"
    at = local_label(start, time_zone)
    lead = f"{what} on {at}" if at else what
    if kind is Kind.BOOKED:
        return f"Booked: {lead}", f"Your seat in {lead} is booked. See you on the mat!"
    if kind is Kind.PROMOTED:
        return (
            f"You are in: {lead}",
            f"A seat came free in {lead} and it is yours: you moved up from the waitlist and "
            "are booked. See you on the mat!",
        )
    if kind is Kind.WAITLISTED:
        place = f"number {position} on its waitlist" if position > 0 else "on its waitlist"
        return (
            f"Waitlisted: {lead}" + (f" (#{position})" if position > 0 else ""),
            f"{lead} is full. You are {place}; if a seat comes free before the waitlist "
            "closes, it is booked for you and we let you know.",
        )
    if kind is Kind.WAITLIST_EXPIRED:
        return (
            f"Waitlist closed: {lead}",
            f"No seat came free in {lead} before its waitlist closed, so you are no longer "
            "waiting. Nothing counts against you.",
        )
    if kind is Kind.RESCHEDULED:
        return _moved(what, local_label(previous, time_zone), at)
    if kind is Kind.REMINDER:
        return (
            f"Reminder: {lead}",
            f"See you soon: {lead}. If you cannot come, please cancel so that someone on "
            "the waitlist can have your seat.",
        )
    if kind is Kind.ATTENDED:
        checked = local_clock(check_in, time_zone)
        return (
            f"Checked in: {lead}",
            f"You checked in to {lead}"
            + (f" at {checked}" if checked else "")
            + ". Enjoy your practice!",
        )
    if kind is Kind.NO_SHOW:
        return (
            f"Missed class: {lead}",
            f"You were booked for {lead} but did not check in. The missed class counts as a "
            "strike: enough strikes pause online booking for a while.",
        )
    if kind is Kind.REJECTED and reason in _PASSED_OVER:
        return (
            f"Passed over on the waitlist: {lead}",
            f"A seat came free in {lead}, but you were passed over on its waitlist because "
            f"{_PASSED_OVER[reason]}. You have left the waitlist.",
        )
    if kind is Kind.REJECTED:
        why = _REFUSALS.get(reason, "no seat could be taken")
        return f"Not booked: {lead}", f"We could not book {lead}: {why}."
    if kind is Kind.CLASS_CANCELLED:
        return (
            f"Class cancelled: {lead}",
            f"The studio cancelled {lead}. Your reservation is cancelled; we are sorry.",
        )
    if reason == LATE_CANCELLED:
        return (
            f"Late cancellation: {lead}",
            f"Your reservation for {lead} is cancelled. It was cancelled inside the class's "
            "cancellation window, so it counts as a strike: enough strikes pause online "
            "booking for a while.",
        )
    if left_queue:
        return (
            f"Left the waitlist: {lead}",
            f"You have left the waitlist of {lead}; you will not be booked if a seat comes free.",
        )
    return f"Cancelled: {lead}", f"Your reservation for {lead} is cancelled."


def _moved(what: str, before: str, after: str) -> tuple[str, str]:
    to = f" to {after}" if after else ""
    since = f" from {before}" if before else ""
    return (
        f"Moved: {what}{to}",
        f"The studio moved {what}{since}{to}. Your reservation moves with it; if the new "
        "time does not suit you, you can cancel it.",
    )


def describe_standing(
    change: StandingChange, strikes: int, until: datetime | None, time_zone: str
) -> tuple[str, str]:
    """The subject and body a member reads about their standing."""
    if change is StandingChange.LIFTED:
        return (
            "Online booking is open again",
            "The studio lifted your booking block: you can book classes online again.",
        )
    date = local_label(until, time_zone)
    counted = f"{strikes} strikes" if strikes != 1 else "1 strike"
    return (
        f"Online booking paused until {date}" if date else "Online booking paused",
        f"You have {counted} ({_STRIKE}), so you cannot book classes online"
        + (f" until {date}" if date else "")
        + ". The studio can still book for you; please contact us if you think this is a mistake.",
    )


def usable_address(address: str) -> bool:
    """A single plain address (no display name, no header tricks)."""
    local, at, domain = address.partition("@")
    return (
        bool(at and local and "." in domain)
        and "@" not in domain
        and len(address) <= MAX_ADDRESS
        and address.isprintable()
        and not any(c.isspace() or c in '<>,;"()[]\\' for c in address)
    )


def recipient(event_email: str, user_id: str, directory: Mapping[str, str]) -> str:
    """The address from the event, else the configured directory, else none ("")."""
    for candidate in (event_email.strip(), directory.get(user_id, "").strip()):
        if candidate and usable_address(candidate):
            return candidate
    return ""


def notification_id(event_id: str, user_id: str) -> str:
    return str(uuid.uuid5(_IDS, f"{event_id}/{user_id}"))


def new_notification(
    fact: ReservationFact, directory: Mapping[str, str], time_zone: str, now: datetime
) -> Notification:
    kind = kind_of(fact.outcome, fact.reason, fact.promoted)
    title = fact.class_title[:MAX_TITLE]
    # The class's own zone first: an Asia/Seoul class reads in Seoul time whatever the default.
    zone = fact.class_time_zone or time_zone
    subject, body = describe(
        kind,
        title,
        fact.class_start_time,
        fact.reason,
        zone,
        position=fact.waitlist_position,
        check_in=fact.check_in_time,
        left_queue=left_the_waitlist(fact),
        previous=fact.previous_start_time,
    )
    return make_notification(
        fact.event_id,
        fact.user_id,
        kind,
        subject,
        body,
        recipient(fact.user_email, fact.user_id, directory),
        now,
        reservation_id=fact.reservation_id,
        class_id=fact.class_id,
        class_title=title,
        class_start_time=fact.class_start_time,
        class_time_zone=zone,
    )


def standing_notification(
    fact: StandingFact, directory: Mapping[str, str], time_zone: str, now: datetime
) -> Notification:
    """A member's block or its lifting: no class, dates in the studio's default zone; the
    address only from the directory (the event carries none)."""
    kind = Kind.BLOCKED if fact.change is StandingChange.BLOCKED else Kind.BLOCK_LIFTED
    subject, body = describe_standing(fact.change, fact.strikes, fact.blocked_until, time_zone)
    email = recipient("", fact.user_id, directory)
    return make_notification(fact.event_id, fact.user_id, kind, subject, body, email, now)


def make_notification(
    event_id: str,
    user_id: str,
    kind: Kind,
    subject: str,
    body: str,
    email: str,
    now: datetime,
    reservation_id: str = "",
    class_id: str = "",
    class_title: str = "",
    class_start_time: datetime | None = None,
    class_time_zone: str = "",
) -> Notification:
    return Notification(
        notification_id=notification_id(event_id, user_id),
        event_id=event_id,
        user_id=user_id,
        kind=kind,
        reservation_id=reservation_id,
        class_id=class_id,
        class_title=class_title,
        class_start_time=class_start_time,
        subject=subject,
        body=body,
        email=email,
        email_state=EmailState.PENDING if email else EmailState.SKIPPED,
        attempts=0,
        next_attempt_at=now if email else None,
        last_error="",
        create_time=now,
        class_time_zone=class_time_zone,
    )


def after_success(n: Notification, now: datetime) -> Notification:
    return replace(
        n, email_state=EmailState.SENT, next_attempt_at=None, sent_time=now, last_error=""
    )


def after_failure(
    n: Notification, now: datetime, error: str, policy: RetryPolicy, permanent: bool = False
) -> Notification:
    """One more failed try: again later, or FAILED when refused for good or out of tries."""
    attempts = n.attempts + 1
    if permanent or attempts >= policy.max_attempts:
        return replace(
            n,
            email_state=EmailState.FAILED,
            attempts=attempts,
            next_attempt_at=None,
            last_error=error[:MAX_ERROR],
        )
    return replace(
        n,
        attempts=attempts,
        next_attempt_at=now + policy.delay(attempts),
        last_error=error[:MAX_ERROR],
    )


def check_reader(principal: Principal, user_id: str) -> None:
    """A member reads only their own notifications; staff read anyone's."""
    if not principal.is_admin and principal.subject != user_id:
        raise permission_denied("members can only read their own notifications")
