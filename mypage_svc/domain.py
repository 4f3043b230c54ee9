"""Rules of the my-page read model: who may read a page, which version of a fact wins, what
an entry shows, and the order a page lists entries in, page by page. Plain Python: no gRPC,
no SQL.

The page is built only from events. Every reservation and every class carries a version that
grows with each change; an event whose version is not newer than the one held is dropped, so a
redelivery, a replay or an out-of-order delivery never turns a page back."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum

from yoga_common import pagination
from yoga_common.errors import ServiceError, invalid_field, permission_denied
from yoga_common.principal import Principal


class Status(StrEnum):
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"
    # In the class's queue (its place: `waitlist_position`, computed when the page is read).
    WAITLISTED = "WAITLISTED"
    # Still waiting when the queue closed before the class.
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


@dataclass(frozen=True)
class ClassInfo:
    """What a page shows of a class. Times are unknown when the class was never found."""

    title: str
    start_time: datetime | None
    end_time: datetime | None


@dataclass(frozen=True)
class ReservationView:
    """A reservation as its latest event told it, with its own snapshot of the class."""

    reservation_id: str
    class_id: str
    user_id: str
    status: Status
    reason: Reason
    class_info: ClassInfo
    update_time: datetime
    version: int
    # The seat came from the waitlist.
    promoted: bool = False
    # When staff checked the member in (ATTENDED).
    check_in_time: datetime | None = None
    # The studio's IANA zone of the class, as the reservation's events tell it ("": unknown).
    class_time_zone: str = ""
    # The queue's running number while it waits (orders the class's WAITLISTED reservations).
    waitlist_ticket: int | None = None


@dataclass(frozen=True)
class ClassView:
    """A class as its latest event told it; staff may rename or move it after it was booked."""

    class_id: str
    title: str
    start_time: datetime
    end_time: datetime
    cancelled: bool
    version: int


@dataclass(frozen=True)
class PageEntry:
    reservation_id: str
    class_id: str
    class_info: ClassInfo
    status: Status
    reason: Reason
    update_time: datetime
    promoted: bool = False
    check_in_time: datetime | None = None
    class_time_zone: str = ""
    waitlist_ticket: int | None = None
    # For WAITLISTED: the place in the class's queue as of the read (1: next); 0 otherwise.
    waitlist_position: int = 0


def supersedes(incoming: int, held: int | None) -> bool:
    """Whether a fact at version `incoming` replaces the one held (None: nothing held yet).
    The store applies the same rule in one conditional upsert (`held.version < incoming`)."""
    return held is None or incoming > held


def page_owner(principal: Principal, requested: str) -> str:
    """Members read only their own page; staff read anyone's."""
    if principal.is_admin or principal.subject == requested:
        return requested
    raise permission_denied("members can only read their own page")


@dataclass(frozen=True)
class Move:
    """The times a ReservationRescheduled says the class was moved from."""

    start_time: datetime | None
    end_time: datetime | None


def shown_class(
    reservation: ReservationView, yoga_class: ClassView | None, moved_from: Move | None = None
) -> ClassInfo:
    """What a page shows of a reservation's class: the class as its own events last told it
    (staff may rename or move it after it was booked); the reservation's snapshot until one
    arrives. The class's and the reservation's events travel on different topics, so a
    reservation told of a move may arrive before the class's own ClassUpdated: while the
    class as last told still sits at the times the move left, the reservation's new times
    are shown (the ClassUpdated, when it comes, shows the same)."""
    if yoga_class is None:
        return reservation.class_info
    shown = shown_class_of(yoga_class)
    if moved_from is not None and (shown.start_time, shown.end_time) == (
        moved_from.start_time,
        moved_from.end_time,
    ):
        return replace(
            shown,
            start_time=reservation.class_info.start_time,
            end_time=reservation.class_info.end_time,
        )
    return shown


def shown_class_of(yoga_class: ClassView) -> ClassInfo:
    return ClassInfo(yoga_class.title, yoga_class.start_time, yoga_class.end_time)


def with_class(
    reservation: ReservationView, yoga_class: ClassView | None, moved_from: Move | None = None
) -> ReservationView:
    """The reservation as the read model keeps it: with the class as the page shows it, so a
    page is read (and ordered by class start) from the reservations alone."""
    return replace(reservation, class_info=shown_class(reservation, yoga_class, moved_from))


def page_entry(reservation: ReservationView, yoga_class: ClassView | None = None) -> PageEntry:
    return PageEntry(
        reservation_id=reservation.reservation_id,
        class_id=reservation.class_id,
        class_info=shown_class(reservation, yoga_class),
        status=reservation.status,
        reason=reservation.reason,
        update_time=reservation.update_time,
        promoted=reservation.promoted,
        check_in_time=reservation.check_in_time,
        class_time_zone=reservation.class_time_zone,
        waitlist_ticket=reservation.waitlist_ticket,
    )


# --- the place in a waitlist -------------------------------------------------------------------
#
# A waiting reservation's place is not stored: it changes whenever someone ahead leaves the
# queue (promoted, passed over, cancelled, expired). Each WAITLISTED row keeps its ticket (the
# queue's running number), and the place is counted when a page is read: 1 + the reservations
# of the same class still WAITLISTED with a smaller ticket.


def waits(entry: PageEntry) -> bool:
    """Whether the entry has a place in a queue to show."""
    return entry.status is Status.WAITLISTED and entry.waitlist_ticket is not None


def waitlist_position(ahead: int) -> int:
    """The place in the queue with `ahead` reservations still waiting before it (1: next)."""
    return 1 + max(ahead, 0)


def with_position(entry: PageEntry, ahead: int) -> PageEntry:
    return replace(entry, waitlist_position=waitlist_position(ahead))


# --- the order of a page, and where the next page starts --------------------------------------
#
# A page lists upcoming classes first (the soonest first), then past ones (the most recent
# first), then reservations whose class was never found (no time: by reservation id, highest
# first). Each part is one keyset order over (class start, reservation id), so every page is an
# index seek. "Now", which splits upcoming from past, is fixed when a listing starts and
# travels in its page token: an entry never moves from one part to the other between two pages
# of one listing as time passes, so none is shown twice or skipped.


class Phase(StrEnum):
    UPCOMING = "upcoming"  # the class starts at or after the listing's now: soonest first
    PAST = "past"  # it started before: most recent first
    UNDATED = "undated"  # its time is unknown (the class was never found): last


_PHASES = list(Phase)


@dataclass(frozen=True)
class PagePosition:
    """Where a page of one listing starts: the listing's `now`, the part of the page (`phase`)
    and, within it, the (class start, reservation id) of the last entry already listed
    (`after`; None at the phase's beginning)."""

    now: datetime
    phase: Phase = Phase.UPCOMING
    after: tuple[datetime | None, str] | None = None


def phase_of(start: datetime | None, now: datetime) -> Phase:
    if start is None:
        return Phase.UNDATED
    return Phase.UPCOMING if start >= now else Phase.PAST


def first_position(now: datetime) -> PagePosition:
    return PagePosition(now)


def position_after(entry: PageEntry, now: datetime) -> PagePosition:
    """The next page of the listing starts right after `entry`."""
    start = entry.class_info.start_time
    return PagePosition(now, phase_of(start, now), (start, entry.reservation_id))


def next_phase(position: PagePosition) -> PagePosition | None:
    """The beginning of the part after `position`'s, None after the last."""
    index = _PHASES.index(position.phase) + 1
    return PagePosition(position.now, _PHASES[index]) if index < len(_PHASES) else None


def page_order(entries: Iterable[PageEntry], now: datetime) -> list[PageEntry]:
    """The whole page in its order (the store reads it part by part, in the same order)."""
    parts: dict[Phase, list[PageEntry]] = {phase: [] for phase in Phase}
    for e in entries:
        parts[phase_of(e.class_info.start_time, now)].append(e)
    return [
        *sorted(parts[Phase.UPCOMING], key=_key),
        *sorted(parts[Phase.PAST], key=_key, reverse=True),
        *sorted(parts[Phase.UNDATED], key=_key, reverse=True),
    ]


_UNKNOWN_TIME = datetime.min.replace(tzinfo=UTC)


def _key(e: PageEntry) -> tuple[datetime, str]:
    return e.class_info.start_time or _UNKNOWN_TIME, e.reservation_id


def page_token(position: PagePosition) -> str:
    """The opaque token of a position (URL-safe base64 of a JSON list)."""
    start, reservation_id = position.after or (None, "")
    return pagination.encode(
        [
            position.phase.value,
            position.now.isoformat(),
            start.isoformat() if start is not None else None,
            reservation_id,
        ]
    )


def position_of(token: str) -> PagePosition | None:
    """The position a token names (None for no token); a token this service could not have
    issued (another list's, edited, truncated) is INVALID_ARGUMENT naming `page_token`."""
    found = pagination.decode(token)
    if found is None:
        return None
    try:
        phase_text, now_text, start_text, reservation_id = found
        phase = Phase(phase_text)
        now = _aware(datetime.fromisoformat(now_text))
        start = _aware(datetime.fromisoformat(start_text)) if start_text is not None else None
    except (TypeError, ValueError, OverflowError) as err:
        raise _foreign_token() from err
    if not isinstance(reservation_id, str) or not reservation_id or phase_of(start, now) != phase:
        raise _foreign_token()
    return PagePosition(now, phase, (start, reservation_id))


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("a token's times are UTC")
    return at.astimezone(UTC)


def _foreign_token() -> ServiceError:
    return invalid_field("page_token", "is not a token this service issued")
