"""Rules of a class's waitlist (issue 14 §1). Plain Python: no gRPC, no SQL.

The waitlist lives with the seat counter, in yogaclass_svc, and a freed seat goes to the head of
the queue in the transaction that frees it (a cancel's release, a capacity increase): a new
booker can never take a seat while someone waits, because a seat is only taken directly when
nobody waits (the conditional update says `waiting = 0`).

    (no claim) ──reserve, class full, queue has room──► WAITING(ticket)
    WAITING ──seat freed, first eligible in ticket order──► HELD (promoted)
    WAITING ──release (the member leaves the queue)──► RELEASED
    WAITING ──passed over at promotion (overlap, limit, block)──► RELEASED, with the reason
    WAITING ──the class's waitlist cutoff passes──► EXPIRED

A ticket is the class's running number of queue entries: first in, first out, and a member's
position is the number of WAITING tickets before theirs, plus one, so it stays right as people
ahead leave or are promoted."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

MAX_WAITLIST = 1000
# Studio default (StudioSettings): after this point before the start nobody is promoted.
DEFAULT_CUTOFF = timedelta(hours=2)


class Skip(StrEnum):
    """Why a member at the head of the queue is passed over at promotion time."""

    OVERLAPPING_BOOKING = "OVERLAPPING_BOOKING"
    BOOKING_LIMIT = "BOOKING_LIMIT"
    BLOCKED = "BLOCKED"


@dataclass(frozen=True)
class Waiting:
    reservation_id: str
    user_id: str
    ticket: int


@dataclass(frozen=True)
class Promotion:
    """What freed seats do to a queue: who gets a seat, and who is passed over and why. The
    skipped leave the queue (their reservation ends, naming the reason, and they are told):
    left at the head, they would be asked again at every promotion and hold up no one, but
    they could no more attend than before."""

    promoted: tuple[Waiting, ...]
    skipped: tuple[tuple[Waiting, Skip], ...]


def position(ticket: int, waiting_tickets: list[int]) -> int:
    """A member's place in the queue: 1 for the head."""
    return 1 + sum(1 for t in waiting_tickets if t < ticket)


def closed(start: datetime, cutoff: timedelta, now: datetime) -> bool:
    """Whether the queue is past its cutoff: nobody is promoted any more."""
    return now >= start - cutoff


def promote(
    queue: list[Waiting],
    free_seats: int,
    ineligible: Callable[[Waiting], Skip | None],
) -> Promotion:
    """The first `free_seats` eligible members in ticket order get a seat; the ineligible ones
    met on the way are skipped; the rest keep waiting. `ineligible` is asked at promotion
    time, not when the member joined."""
    promoted: list[Waiting] = []
    skipped: list[tuple[Waiting, Skip]] = []
    for entry in sorted(queue, key=lambda w: w.ticket):
        if len(promoted) == free_seats:
            break
        reason = ineligible(entry)
        if reason is None:
            promoted.append(entry)
        else:
            skipped.append((entry, reason))
    return Promotion(tuple(promoted), tuple(skipped))
