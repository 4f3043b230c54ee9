"""Rules of notifications: what each reservation event tells the member, where the email goes,
when a failed email is tried again, and who may read an inbox. Plain Python: no gRPC, no SQL.

    event ──► notification ──► email PENDING ──sent──► SENT
                 │                  │ └──failed, tries left──► PENDING (later, backoff)
                 │                  └──failed, none left or refused for good──► FAILED
                 └──no address known──► SKIPPED (the in-app inbox still has it)
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from yoga_common.errors import permission_denied
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


BY_STUDIO = "CANCELLED_BY_STUDIO"

_REFUSALS = {
    "CLASS_FULL": "the class is full",
    "CLASS_NOT_FOUND": "the class does not exist",
    "CLASS_CANCELLED": "the class was cancelled",
    "CLASS_STARTED": "the class has already started",
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


def kind_of(outcome: Outcome, reason: str) -> Kind:
    if outcome is Outcome.CONFIRMED:
        return Kind.BOOKED
    if outcome is Outcome.REJECTED:
        return Kind.REJECTED
    return Kind.CLASS_CANCELLED if reason == BY_STUDIO else Kind.CANCELLED


def zone_or_utc(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def when(start: datetime | None, time_zone: str) -> str:
    """`2030-01-01 18:00 (Asia/Seoul)`: the class's start in the studio's zone, named."""
    if start is None:
        return ""
    zone = zone_or_utc(time_zone)
    aware = start if start.tzinfo is not None else start.replace(tzinfo=UTC)
    return f"{aware.astimezone(zone):%Y-%m-%d %H:%M} ({zone.key})"


def describe(
    kind: Kind, title: str, start: datetime | None, reason: str, time_zone: str
) -> tuple[str, str]:
    """The subject and body a member reads."""
    what = title.strip() or "your class"
    at = when(start, time_zone)
    lead = f"{what} on {at}" if at else what
    if kind is Kind.BOOKED:
        return f"Booked: {lead}", f"Your seat in {lead} is booked. See you on the mat!"
    if kind is Kind.REJECTED:
        why = _REFUSALS.get(reason, "no seat could be taken")
        return f"Not booked: {lead}", f"We could not book {lead}: {why}."
    if kind is Kind.CLASS_CANCELLED:
        return (
            f"Class cancelled: {lead}",
            f"The studio cancelled {lead}. Your reservation is cancelled; we are sorry.",
        )
    return f"Cancelled: {lead}", f"Your reservation for {lead} is cancelled."


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
    kind = kind_of(fact.outcome, fact.reason)
    title = fact.class_title[:MAX_TITLE]
    # The class's own zone first: an Asia/Seoul class reads in Seoul time whatever the default.
    zone = fact.class_time_zone or time_zone
    subject, body = describe(kind, title, fact.class_start_time, fact.reason, zone)
    email = recipient(fact.user_email, fact.user_id, directory)
    return Notification(
        notification_id=notification_id(fact.event_id, fact.user_id),
        event_id=fact.event_id,
        user_id=fact.user_id,
        kind=kind,
        reservation_id=fact.reservation_id,
        class_id=fact.class_id,
        class_title=title,
        class_start_time=fact.class_start_time,
        subject=subject,
        body=body,
        email=email,
        email_state=EmailState.PENDING if email else EmailState.SKIPPED,
        attempts=0,
        next_attempt_at=now if email else None,
        last_error="",
        create_time=now,
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
