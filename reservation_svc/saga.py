"""The booking saga (DESIGN.md §3), orchestrated here: store PENDING, ask yogaclass_svc for the
seat, settle CONFIRMED or REJECTED; cancel and give the seat back. No gRPC or SQL: the store and
the seat client come in from outside (fakes in unit tests).

Every step is idempotent, so the recovery loop may re-run any of them after a crash or while
yogaclass_svc is unreachable: a seat is never leaked and never counted twice."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from prometheus_client import Counter

from reservation_svc.domain import (
    ACTIVE,
    ClassInfo,
    Reason,
    Reservation,
    SeatAnswer,
    Status,
    new_reservation,
    outcome,
)

log = logging.getLogger(__name__)

RESERVATIONS = Counter(
    "yoga_reservations_total",
    "Reservations that reached an outcome: confirmed, rejected, cancelled.",
    ["outcome"],
)


class SeatsUnavailable(Exception):
    """The seat keeper gave no answer; the step is retried by the recovery loop."""


class Seats(Protocol):
    async def reserve(
        self, class_id: str, reservation_id: str, user_id: str
    ) -> tuple[SeatAnswer, ClassInfo | None]: ...

    async def release(self, class_id: str, reservation_id: str) -> None: ...


class Store(Protocol):
    async def add_pending(self, r: Reservation) -> Reservation: ...

    async def change(
        self,
        reservation_id: str,
        expected: frozenset[Status],
        to: Status,
        reason: Reason,
        now: datetime,
        class_info: ClassInfo | None = None,
    ) -> tuple[Reservation, bool]: ...

    async def set_release_pending(self, reservation_id: str, pending: bool) -> Reservation: ...

    async def get(self, reservation_id: str) -> Reservation: ...

    async def stale_pending(self, before: datetime, limit: int = 100) -> list[Reservation]: ...

    async def unreleased(self, before: datetime, limit: int = 100) -> list[Reservation]: ...


_PENDING = frozenset({Status.PENDING})


class BookingSaga:
    def __init__(self, store: Store, seats: Seats, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._seats = seats
        self._now = clock

    async def book(
        self, class_id: str, user_id: str, user_email: str, request_id: str, request_hash: str
    ) -> Reservation:
        stored = await self._store.add_pending(
            new_reservation(class_id, user_id, user_email, request_id, request_hash, self._now())
        )
        if stored.status is not Status.PENDING:
            return stored  # a retry of a finished request: the same answer again
        return await self.settle(stored)

    async def settle(self, r: Reservation) -> Reservation:
        """Drives a PENDING reservation to its end state, if yogaclass_svc answers."""
        try:
            answer, info = await self._seats.reserve(r.class_id, r.reservation_id, r.user_id)
        except SeatsUnavailable:
            return r  # stays PENDING; the recovery loop finishes it
        end = outcome(answer)
        if end is None:  # the seat was already given back: the reservation was cancelled
            return await self._store.get(r.reservation_id)
        status, reason = end
        current, changed = await self._store.change(
            r.reservation_id, _PENDING, status, reason, self._now(), info
        )
        if changed:
            _settled(current)
        if not changed and answer is SeatAnswer.RESERVED and current.status is not Status.CONFIRMED:
            # Someone else ended it first (a cancel, or a rejection by an earlier try): the
            # seat this call took is owed back, recorded first so recovery retries it if need be.
            if not current.release_pending:
                current = await self._store.set_release_pending(r.reservation_id, True)
            current = await self.release(current)
        return current

    async def cancel(self, r: Reservation, reason: Reason) -> Reservation:
        current, changed = await self._store.change(
            r.reservation_id, ACTIVE, Status.CANCELLED, reason, self._now()
        )
        if changed:
            _settled(current)
        if current.release_pending:
            current = await self.release(current)
        return current

    async def release(self, r: Reservation) -> Reservation:
        try:
            await self._seats.release(r.class_id, r.reservation_id)
        except SeatsUnavailable:
            return r  # release_pending stays set; the recovery loop gives the seat back
        return await self._store.set_release_pending(r.reservation_id, False)

    async def recover(self, grace: timedelta) -> int:
        """One pass over what a crash or an outage left unfinished; returns how many it touched."""
        before = self._now() - grace
        stale = await self._store.stale_pending(before)
        for r in stale:
            await self.settle(r)
        unreleased = await self._store.unreleased(before)
        for r in unreleased:
            await self.release(r)
        return len(stale) + len(unreleased)

    async def recovery_loop(self, grace: timedelta, interval: float) -> None:
        while True:
            try:
                touched = await self.recover(grace)
                if touched:
                    log.info("recovery pass", extra={"touched": touched})
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("recovery pass failed; trying again")
            await asyncio.sleep(interval)


def _settled(r: Reservation) -> None:
    RESERVATIONS.labels(r.status.value.lower()).inc()
    log.info(
        f"reservation {r.status.value.lower()}",
        extra={
            "reservation_id": r.reservation_id,
            "class_id": r.class_id,
            "status": r.status.value,
            "reason": r.reason.value,
        },
    )
