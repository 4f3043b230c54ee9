"""reservation_svc's use cases: the booking saga (DESIGN.md §3), orchestrated here: store
PENDING, ask yogaclass_svc for the seat, settle CONFIRMED or REJECTED; cancel and give the seat
back; cancel every booking of a class the studio cancelled; check-in, the roster and the
no-show sweep (issue 14 §3), by the studio's settings read from yogaclass_svc. The only code
of the service that opens a transaction (through the unit of work); the rules are in
domain.py, the statements in storage.py. The seat keeper and the studio's settings come in
from outside (fakes in unit tests).

Every step is idempotent, so the recovery loop may re-run any of them after a crash or while
yogaclass_svc is unreachable: a seat is never leaked and never counted twice."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar, cast

from prometheus_client import Counter

from reservation_svc import domain
from reservation_svc.domain import (
    ACTIVE,
    WAITING,
    AttendanceRules,
    ClassInfo,
    Reason,
    Reservation,
    RosterPosition,
    SeatReply,
    Status,
    new_reservation,
    outcome,
)
from reservation_svc.storage import ReservationStore
from yoga_common.batching import Batcher
from yoga_common.errors import not_found, unavailable
from yoga_common.jobs import every
from yoga_common.uow import Transactions, Unit, races

log = logging.getLogger(__name__)
T = TypeVar("T")

# The most booking steps (a PENDING row to store, a seat answer to settle) that share one
# transaction. Under a burst the batches fill up to it; alone, a step runs in a batch of one.
WRITE_BATCH = 64

RESERVATIONS = Counter(
    "yoga_reservations_total",
    "Reservations that reached a state: confirmed (promoted from the waitlist too), rejected, "
    "cancelled (by the member, late or not, staff or the studio's cancellation of the class), "
    "waitlisted, expired (the waitlist closed), attended, no_show.",
    ["outcome"],
)

Work = Unit[ReservationStore]
# A step of the booking path queued for a shared transaction: the work and the context of the
# request it belongs to (its trace travels into the outbox rows and logs it writes).
_Step = tuple[Callable[[Work], Any], contextvars.Context]


class SeatsUnavailable(Exception):
    """The seat keeper gave no answer; the step is retried by the recovery loop."""


class SeatsRefused(SeatsUnavailable):
    """The seat keeper refused the call itself (a non-transient status: a defect or a
    misconfiguration, never the member's doing). Nothing was done; retrying at once would be
    refused again, so the recovery loop backs off instead of asking again every pass."""


class StudioUnavailable(Exception):
    """The studio's settings could not be read (yogaclass_svc did not answer)."""


class Studio(Protocol):
    async def attendance_rules(self) -> AttendanceRules: ...


class _NoStudio:
    async def attendance_rules(self) -> AttendanceRules:
        raise StudioUnavailable("no studio settings client")


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
        self,
        tx: Transactions[ReservationStore],
        seats: Seats,
        clock: Callable[[], datetime],
        studio: Studio | None = None,
        write_batch: int = WRITE_BATCH,
    ) -> None:
        self._tx = tx
        self._seats = seats
        self._now = clock
        self._studio = studio or _NoStudio()
        # Group commit of the booking path: concurrent bookings store their PENDING rows, and
        # settle their seat answers, in shared transactions (each step in its own savepoint).
        self._steps: Batcher[_Step, Any] = Batcher(self._run_steps, write_batch, "booking writes")

    async def _step(self, work: Callable[[Work], T]) -> T:
        """Runs `work` in a transaction shared with the concurrent steps queued beside it; its
        result or its own exception, as `self._tx.run(work)` would give them."""
        return cast(T, await self._steps.submit((work, contextvars.copy_context())))

    async def _run_steps(self, steps: list[_Step]) -> list[Any]:
        return await self._tx.run_batch([w for w, _ in steps], [c for _, c in steps])

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
        stored = await self._step(functools.partial(add_pending, r=new))
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

        current, owed = await self._step(work)
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

    async def _rules(self) -> AttendanceRules:
        try:
            return await self._studio.attendance_rules()
        except StudioUnavailable as err:
            raise unavailable(
                "STUDIO_SETTINGS_UNAVAILABLE",
                "the studio's check-in settings cannot be read now; try again shortly",
            ) from err

    async def check_in(self, reservation_id: str) -> Reservation:
        """Staff check a member in: CONFIRMED -> ATTENDED inside the check-in window; a
        repeated check-in answers the reservation unchanged."""
        rules = await self._rules()
        now = self._now()
        return await self._tx.run(lambda uow: check_in(uow, reservation_id, rules, now))

    async def roster(
        self, class_id: str, size: int, position: RosterPosition | None
    ) -> tuple[list[tuple[Reservation, int]], RosterPosition | None]:
        """One page of a class's roster, each reservation with its place in the queue (0 when
        not waiting), read part by part in one transaction; with where the next page starts
        (None after the last). One more than the page is read, to know whether another page
        follows without counting."""

        def read(store: ReservationStore) -> list[tuple[Reservation, int]]:
            found: list[Reservation] = []
            at: RosterPosition | None = position or RosterPosition()
            while at is not None and len(found) <= size:
                wanted = size + 1 - len(found)
                part = store.roster(class_id, at, wanted)
                found += part
                at = domain.next_roster_part(at) if len(part) < wanted else None
            # The waiting ones of a page are consecutive in the queue: one count places them.
            waiting = [r for r in found if r.status is Status.WAITLISTED]
            first = store.position(class_id, waiting[0].waitlist_ticket or 0) if waiting else 0
            places = {r.reservation_id: first + n for n, r in enumerate(waiting)}
            return [(r, places.get(r.reservation_id, 0)) for r in found]

        found = await self._tx.read(read)
        if len(found) <= size:
            return found, None
        return found[:size], domain.roster_after(found[size - 1][0])

    async def sweep_no_shows(self, batch: int = 100) -> int:
        """One pass of the no-show sweep: every CONFIRMED reservation of a class that ended
        more than the studio's grace ago becomes NO_SHOW, in batches of `batch` (each its own
        transaction). Returns how many it marked. Raises StudioUnavailable when the studio's
        settings cannot be read: nothing is marked by a guessed grace."""
        rules = await self._studio.attendance_rules()
        marked = 0
        while True:
            done, seen = await self._tx.run(
                functools.partial(mark_no_shows, rules=rules, now=self._now(), batch=batch)
            )
            marked += done
            if seen < batch:
                return marked

    async def no_show_loop(self, interval: float, batch: int = 100) -> None:
        await every(
            interval,
            functools.partial(self.sweep_no_shows, batch),
            "no-show sweep",
            "marked",
            quiet=(StudioUnavailable,),
        )

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


def check_in(uow: Work, reservation_id: str, rules: AttendanceRules, now: datetime) -> Reservation:
    current = _existing(uow.store, reservation_id)
    if not domain.check_in_due(current, rules, now):
        return current
    checked, changed = change(
        uow,
        reservation_id,
        frozenset({Status.CONFIRMED}),
        Status.ATTENDED,
        Reason.NONE,
        now,
        check_in_time=now,
    )
    if not changed:
        # It changed between the read and the write: judged again as it now is (a second
        # check-in that won is answered unchanged; a cancel that won refuses this one).
        domain.check_in_due(checked, rules, now)
    return checked


def mark_no_shows(uow: Work, rules: AttendanceRules, now: datetime, batch: int) -> tuple[int, int]:
    """Marks one batch of due no-shows, each CONFIRMED -> NO_SHOW conditional on its
    version with its own event: a second sweep (a rerun, another replica) that read the same
    row marks it no second time. Returns how many it marked and how many were due."""
    due = uow.store.due_no_shows(domain.no_show_cutoff(rules, now), batch)
    marked = 0
    for reservation_id in due:
        _, changed = change(
            uow, reservation_id, frozenset({Status.CONFIRMED}), Status.NO_SHOW, Reason.NONE, now
        )
        marked += changed
    return marked, len(due)


def class_described(uow: Work, class_id: str, info: ClassInfo, now: datetime) -> int:
    """yogaclass_svc changed the class (moved it, renamed it): its reservations take the new
    description, so check-in windows, no-show times and the cancel rule follow the class.
    Each active reservation of a moved class is told, with its own ReservationRescheduled
    (domain.rescheduled); the rest are redescribed in one statement. Only a newer class
    version is applied: a redelivered or late event moves nothing back and tells nobody.
    Returns how many reservations took the description."""
    told = sum(reschedule(uow, rid, info, now) for rid in uow.store.active_of_class(class_id))
    return told + uow.store.describe_class(class_id, info)


def reschedule(uow: Work, reservation_id: str, info: ClassInfo, now: datetime) -> bool:
    """Moves one reservation to the class's new times with its event, conditional on the
    version it was decided from (a cancel that wins the race leaves it untold; the
    describe_class after it still redescribes it)."""
    for _ in races("reservation", reservation_id):
        current = _existing(uow.store, reservation_id)
        found = domain.rescheduled(current, info, now)
        if found is None:
            return False
        target, event = found
        if uow.store.replace(target, current.version):
            uow.emit(event)
            return True
    raise AssertionError("unreachable")
