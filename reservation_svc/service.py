"""reservation_svc's use cases: the booking saga (DESIGN.md §3), orchestrated here: store
PENDING, ask yogaclass_svc for the seat, settle CONFIRMED or REJECTED; cancel and give the seat
back; cancel every booking of a class the studio cancelled. The only code of the service that
opens a transaction (through the unit of work); the rules are in domain.py, the statements in
storage.py. The seat keeper comes in from outside (a fake in unit tests).

Every step is idempotent, so the recovery loop may re-run any of them after a crash or while
yogaclass_svc is unreachable: a seat is never leaked and never counted twice."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from prometheus_client import Counter

from reservation_svc import domain
from reservation_svc.domain import (
    ACTIVE,
    WAITING,
    ClassInfo,
    Reason,
    Reservation,
    SeatReply,
    Status,
    new_reservation,
    outcome,
)
from reservation_svc.storage import ReservationStore
from yoga_common.errors import not_found
from yoga_common.uow import Transactions, Unit, races

log = logging.getLogger(__name__)

RESERVATIONS = Counter(
    "yoga_reservations_total",
    "Reservations that reached a state: confirmed (promoted from the waitlist too), rejected, "
    "cancelled (by the member, late or not, staff or the studio's cancellation of the class), "
    "waitlisted, expired (the waitlist closed), attended, no_show.",
    ["outcome"],
)

Work = Unit[ReservationStore]


class SeatsUnavailable(Exception):
    """The seat keeper gave no answer; the step is retried by the recovery loop."""


class SeatsRefused(SeatsUnavailable):
    """The seat keeper refused the call itself (a non-transient status: a defect or a
    misconfiguration, never the member's doing). Nothing was done; retrying at once would be
    refused again, so the recovery loop backs off instead of asking again every pass."""


class Seats(Protocol):
    async def reserve(
        self,
        class_id: str,
        reservation_id: str,
        user_id: str,
        join_waitlist: bool = True,
        override_limit: bool = False,
    ) -> SeatReply: ...

    async def release(self, class_id: str, reservation_id: str) -> None: ...


class ReservationService:
    def __init__(
        self, tx: Transactions[ReservationStore], seats: Seats, clock: Callable[[], datetime]
    ) -> None:
        self._tx = tx
        self._seats = seats
        self._now = clock

    async def get(self, reservation_id: str) -> Reservation:
        return await self._tx.read(lambda store: _existing(store, reservation_id))

    async def position(self, r: Reservation) -> int:
        """A waiting reservation's place in its class's queue now (0 when it is not waiting)."""
        if r.status is not Status.WAITLISTED or r.waitlist_ticket is None:
            return 0
        ticket = r.waitlist_ticket
        return await self._tx.read(lambda store: store.position(r.class_id, ticket))

    async def page(
        self, class_id: str, user_id: str, limit: int, after: tuple[datetime, str] | None
    ) -> list[Reservation]:
        return await self._tx.read(lambda store: store.page(class_id, user_id, limit, after))

    async def book(
        self,
        class_id: str,
        user_id: str,
        user_email: str,
        request_id: str,
        request_hash: str,
        join_waitlist: bool = True,
        override_limit: bool = False,
    ) -> tuple[Reservation, int]:
        """Stores the booking PENDING and settles it; with its place in the class's queue as
        yogaclass_svc gave it, if it waits. A refusal by the studio's rules (the booking
        limit, a block) is raised, naming the rule; the reservation stays REJECTED."""
        new = new_reservation(
            class_id,
            user_id,
            user_email,
            request_id,
            request_hash,
            self._now(),
            join_waitlist=join_waitlist,
            limit_overridden=override_limit,
        )
        stored = await self._tx.run(lambda uow: add_pending(uow, new))
        if stored.status is not Status.PENDING:
            reply = None  # a retry of a finished request: the same answer again
            settled = stored
        else:
            settled, reply = await self._settle(stored)
        refusal = domain.refusal_by_rules(settled, reply)
        if refusal is not None:
            raise refusal
        if settled.status is not Status.WAITLISTED:
            return settled, 0
        if reply is not None and reply.position:
            return settled, reply.position
        return settled, await self.position(settled)

    async def settle(self, r: Reservation, refusals: bool = False) -> Reservation:
        """Drives a PENDING reservation to its end state (or into the waitlist), if
        yogaclass_svc answers. `refusals`: raise SeatsRefused instead of leaving the
        reservation PENDING."""
        settled, _ = await self._settle(r, refusals)
        return settled

    async def _settle(
        self, r: Reservation, refusals: bool = False
    ) -> tuple[Reservation, SeatReply | None]:
        try:
            reply = await self._seats.reserve(
                r.class_id,
                r.reservation_id,
                r.user_id,
                join_waitlist=r.join_waitlist,
                override_limit=r.limit_overridden,
            )
        except SeatsRefused:
            if refusals:
                raise
            return r, None  # stays PENDING, as in an outage
        except SeatsUnavailable:
            return r, None  # stays PENDING; the recovery loop finishes it
        answer, info = reply.answer, reply.class_info
        end = outcome(answer)
        if end is None:  # the seat was already given back: the reservation was cancelled
            return await self.get(r.reservation_id), reply
        status, reason = end
        now = self._now()
        changes: dict[str, object] = {}
        if reply.cancellation_window is not None:
            changes["cancellation_window"] = reply.cancellation_window
        if status is Status.WAITLISTED:
            changes["waitlist_ticket"] = reply.ticket

        def work(uow: Work) -> tuple[Reservation, bool]:
            current, changed = change(
                uow,
                r.reservation_id,
                domain.settled_by(answer),
                status,
                reason,
                now,
                info,
                position=reply.position,
                **changes,
            )
            owed = domain.owes_seat(answer, current, changed)
            if owed and not current.release_pending:
                # Someone else ended it first (a cancel, or a rejection by an earlier try): the
                # seat this call took is owed back, recorded first so recovery retries it.
                uow.store.set_release_pending(r.reservation_id, True)
                current = replace(current, release_pending=True)
            return current, owed

        current, owed = await self._tx.run(work)
        if owed:
            current = await self.release(current)
        return current, reply

    async def cancel(self, r: Reservation, by_staff: bool) -> Reservation:
        """A cancel by the member (late inside the booking's window) or by staff for them;
        refused once the class has started."""
        now = self._now()

        def work(uow: Work) -> Reservation:
            current = _existing(uow.store, r.reservation_id)
            if not current.active:
                return current
            reason = domain.cancel_reason(current, by_staff, now)
            return change(uow, r.reservation_id, ACTIVE, Status.CANCELLED, reason, now)[0]

        current = await self._tx.run(work)
        if current.release_pending:
            current = await self.release(current)
        return current

    async def release(self, r: Reservation, refusals: bool = False) -> Reservation:
        try:
            await self._seats.release(r.class_id, r.reservation_id)
        except SeatsRefused:
            if refusals:
                raise
            return r
        except SeatsUnavailable:
            return r  # release_pending stays set; the recovery loop gives the seat back
        return await self._tx.run(lambda uow: release_done(uow, r.reservation_id))

    async def recover(self, grace: timedelta) -> int:
        """One pass over what a crash or an outage left unfinished; returns how many it touched.
        Raises SeatsRefused, leaving the rest for a later pass, when the seat keeper refuses."""
        before = self._now() - grace
        stale = await self._tx.read(lambda store: store.stale_pending(before))
        for r in stale:
            await self.settle(r, refusals=True)
        unreleased = await self._tx.read(lambda store: store.unreleased(before))
        for r in unreleased:
            await self.release(r, refusals=True)
        return len(stale) + len(unreleased)

    async def recovery_loop(
        self, grace: timedelta, interval: float, max_interval: float = 60.0
    ) -> None:
        pause = interval
        while True:
            try:
                touched = await self.recover(grace)
                pause = interval
                if touched:
                    log.info("recovery pass", extra={"touched": touched})
            except asyncio.CancelledError:
                raise
            except SeatsRefused as err:
                pause = min(pause * 2, max_interval)
                log.error(
                    "seat keeper refuses; recovery waits",
                    extra={"error": str(err), "seconds": pause},
                )
            except Exception:
                log.exception("recovery pass failed; trying again")
            await asyncio.sleep(pause)


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


def _existing(store: ReservationStore, reservation_id: str) -> Reservation:
    found = store.get(reservation_id)
    if found is None:
        raise not_found("reservation", reservation_id)
    return found


def add_pending(uow: Work, r: Reservation) -> Reservation:
    """Stores a new PENDING reservation, or returns the one stored under its request_id."""
    existing = uow.store.by_request(r.user_id, r.request_id)
    if existing is None:
        if uow.store.add(r):
            return r
        existing = uow.store.by_request(r.user_id, r.request_id)
        if existing is None:
            raise domain.already_booked(r)
    return domain.retried(existing, r)


def change(
    uow: Work,
    reservation_id: str,
    expected: frozenset[Status],
    to: Status,
    reason: Reason,
    now: datetime,
    class_info: ClassInfo | None = None,
    position: int = 0,
    **changes: Any,
) -> tuple[Reservation, bool]:
    """Moves the reservation to `to` if it is in one of the `expected` states, with its event.
    Returns the reservation as it now is, and whether this call changed it."""
    for _ in races("reservation", reservation_id):
        current = _existing(uow.store, reservation_id)
        if current.status not in expected:
            return current, False
        target, event = domain.change(current, to, reason, now, class_info, position, **changes)
        if uow.store.replace(target, current.version):
            uow.emit(event)
            uow.after_commit(functools.partial(_settled, target))
            return target, True
    raise AssertionError("unreachable")


def release_done(uow: Work, reservation_id: str) -> Reservation:
    """The seat is back with the class: nothing is owed any more."""
    uow.store.set_release_pending(reservation_id, False)
    return _existing(uow.store, reservation_id)


def cancel_class(uow: Work, class_id: str, now: datetime) -> int:
    """The studio cancelled the class: every active reservation of it is CANCELLED_BY_STUDIO,
    each with its own event; the recovery loop gives the seats back (`release_pending`).
    Returns how many it cancelled."""
    cancelled = 0
    for reservation_id in uow.store.active_of_class(class_id):
        _, changed = change(
            uow, reservation_id, ACTIVE, Status.CANCELLED, Reason.CANCELLED_BY_STUDIO, now
        )
        cancelled += changed
    return cancelled


def leave_queue(
    uow: Work,
    reservation_id: str,
    to: Status,
    reason: Reason,
    now: datetime,
    class_info: ClassInfo | None = None,
) -> bool:
    """What yogaclass_svc decided for a waiting reservation (promoted to a seat, passed over,
    or the queue closed), settled here: conditional on it still waiting, so a redelivered
    event, or one that lost the race to the seat answer, changes nothing. Unknown
    reservations are ignored (a claim is only ever made for a stored reservation)."""
    if uow.store.get(reservation_id) is None:
        log.warning("waitlist event for an unknown reservation", extra={"id": reservation_id})
        return False
    _, changed = change(uow, reservation_id, WAITING, to, reason, now, class_info)
    return changed
