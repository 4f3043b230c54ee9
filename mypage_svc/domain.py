"""Rules of the my-page read model: who may read a page, which version of a fact wins, and what
an entry shows. Plain Python: no gRPC, no SQL.

The page is built only from events. Every reservation and every class carries a version that
grows with each change; an event whose version is not newer than the one held is dropped, so a
redelivery, a replay or an out-of-order delivery never turns a page back."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from yoga_common.errors import permission_denied
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


def supersedes(incoming: int, held: int | None) -> bool:
    """Whether a fact at version `incoming` replaces the one held (None: nothing held yet).
    The store applies the same rule in one conditional upsert (`held.version < incoming`)."""
    return held is None or incoming > held


def page_owner(principal: Principal, requested: str) -> str:
    """Members read only their own page; staff read anyone's."""
    if principal.is_admin or principal.subject == requested:
        return requested
    raise permission_denied("members can only read their own page")


def page_entry(reservation: ReservationView, yoga_class: ClassView | None) -> PageEntry:
    """The class as its own events last told it; the reservation's snapshot until one arrives."""
    info = reservation.class_info
    if yoga_class is not None:
        info = ClassInfo(yoga_class.title, yoga_class.start_time, yoga_class.end_time)
    return PageEntry(
        reservation_id=reservation.reservation_id,
        class_id=reservation.class_id,
        class_info=info,
        status=reservation.status,
        reason=reservation.reason,
        update_time=reservation.update_time,
    )


_UNKNOWN_TIME = datetime.min.replace(tzinfo=UTC)


def newest_class_first(entries: Iterable[PageEntry]) -> list[PageEntry]:
    """Latest class start first; entries whose class time is unknown come last."""
    return sorted(
        entries,
        key=lambda e: (
            e.class_info.start_time or _UNKNOWN_TIME,
            e.update_time,
            e.reservation_id,
        ),
        reverse=True,
    )
