"""yogaclass_svc's use cases: classes and seats. The only code of the service that opens a
transaction (through the unit of work); the rules are in domain.py, the statements in
storage.py, the protobuf mapping in the servicer."""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from prometheus_client import Counter

from yoga_common.errors import not_found
from yoga_common.jobs import every
from yoga_common.uow import Transactions, Unit, races
from yogaclass_svc import domain, waitlist
from yogaclass_svc.domain import (
    Claim,
    ClaimState,
    ClassDetails,
    ClassStatus,
    ReleaseAction,
    SeatAnswer,
    SeatPromoted,
    SeatResult,
    WaitlistExpired,
    WaitlistSkipped,
    YogaClass,
)
from yogaclass_svc.storage import ClassStore
from yogaclass_svc.studio import StudioRules
from yogaclass_svc.waitlist import Skip, Waiting

log = logging.getLogger(__name__)

SEAT_ANSWERS = Counter("yoga_seat_requests_total", "ReserveSeat answers, by result.", ["result"])
# A retried ReserveSeat of a seat already held answers RESERVED again and is counted again.
SEATS_BOOKED = Counter("yoga_seats_booked_total", "Seats given to reservations.")
SEATS_RELEASED = Counter("yoga_seats_released_total", "Seats given back.")
WAITLIST = Counter(
    "yoga_waitlist_total",
    "Waitlist endings: promoted to a freed seat, skipped (ineligible at promotion time), "
    "expired (the queue closed at its cutoff).",
    ["outcome"],
)

Work = Unit[ClassStore]


def _existing(store: ClassStore, class_id: str) -> YogaClass:
    found = store.get(class_id)
    if found is None:
        raise not_found("class", class_id)
    return found


class ClassService:
    def __init__(self, tx: Transactions[ClassStore], clock: Callable[[], datetime]) -> None:
        self._tx = tx
        self._now = clock

    async def create(self, details: ClassDetails, request_id: str, request_hash: str) -> YogaClass:
        now = self._now()
        # Checked before the transaction too: bad input never waits for the write lock.
        domain.validate_details(details, now)

        def work(uow: Work) -> YogaClass:
            if request_id:
                found = uow.store.by_request(request_id)
                if found is not None:
                    return domain.retried(*found, request_hash)
            created, event = domain.new_class(str(uuid.uuid4()), details, now)
            uow.store.add(created, request_id, request_hash)
            uow.emit(event)
            return _existing(uow.store, created.class_id)

        return await self._tx.run(work)

    async def get(self, class_id: str) -> YogaClass:
        return await self._tx.read(lambda store: _existing(store, class_id))

    async def page(
        self,
        start: datetime | None,
        end: datetime | None,
        limit: int,
        after: tuple[datetime, str] | None,
        series_id: str = "",
        instructor: str = "",
    ) -> list[YogaClass]:
        return await self._tx.read(
            lambda store: store.page(start, end, limit, after, series_id, instructor)
        )

    async def update(self, class_id: str, changes: dict[str, Any]) -> YogaClass:
        now = self._now()

        def work(uow: Work) -> YogaClass:
            for _ in races("class", class_id):
                current = _existing(uow.store, class_id)
                target, event = domain.change_class(current, changes, now)
                if uow.store.replace(target, current.version):
                    uow.emit(event)
                    # More seats (or a class moved back before its cutoff): the queue moves.
                    promote(uow, class_id, now)
                    return _existing(uow.store, class_id)
            raise AssertionError("unreachable")

        return await self._tx.run(work)

    async def cancel(self, class_id: str) -> YogaClass:
        now = self._now()

        return await self._tx.run(lambda uow: cancel_class(uow, class_id, now))

    async def reserve_seat(
        self,
        class_id: str,
        reservation_id: str,
        user_id: str,
        join_waitlist: bool = False,
        override_limit: bool = False,
    ) -> SeatAnswer:
        now = self._now()
        request = SeatRequest(class_id, reservation_id, user_id, join_waitlist, override_limit)
        answer = await self._tx.run(lambda uow: reserve_seat(uow, request, now))
        _count(answer)
        return answer

    async def reserve_seats(self, requests: list[SeatRequest]) -> list[SeatAnswer | Exception]:
        """ReserveSeat for many reservations in ONE transaction (group commit), each item in
        its own savepoint with the same conditional seat update, answered on its own (its
        answer, or the exception it alone failed with), in the order given. Items are taken
        in class order, so two batches lock classes in the same order and cannot deadlock
        on PostgreSQL."""
        now = self._now()
        rules = _RulesOnce()
        order = sorted(range(len(requests)), key=lambda n: requests[n].class_id)
        works = [
            functools.partial(reserve_seat, request=requests[n], now=now, rules=rules)
            for n in order
        ]
        done = await self._tx.run_batch(works)
        for answer in done:
            if not isinstance(answer, Exception):
                _count(answer)
        by_item = dict(zip(order, done, strict=True))
        return [by_item[n] for n in range(len(requests))]

    async def release_seat(
        self, class_id: str, reservation_id: str
    ) -> tuple[bool, YogaClass | None]:
        now = self._now()
        released, current = await self._tx.run(
            lambda uow: release_seat(uow, class_id, reservation_id, now)
        )
        if released:
            SEATS_RELEASED.inc()
        return released, current

    async def close_queues(self, batch: int = 100) -> int:
        """One pass of the waitlist cutoff: the waiting claims of every class past its cutoff
        end EXPIRED. Returns how many. Each class in its own transaction, conditional on the
        claims still WAITING: a second replica, or a rerun after a crash, expires none twice."""
        now = self._now()
        rules = await self._tx.read(lambda store: store.studio_rules())
        due = await self._tx.read(
            lambda store: store.queues_closing(now + rules.waitlist_cutoff, batch)
        )
        expired = 0
        for class_id in due:
            expired += await self._tx.run(
                functools.partial(close_queue, class_id=class_id, now=now)
            )
        return expired

    async def queue_loop(self, interval: float) -> None:
        await every(interval, self.close_queues, "waitlists closed", "expired")


def cancel_class(uow: Work, class_id: str, now: datetime) -> YogaClass:
    """DeleteClass, and each occurrence a CancelSeries cancels: the class CANCELLED and
    ClassCancelled emitted (reservation_svc cancels its reservations by the studio); a
    cancelled class is left as it is."""
    for _ in races("class", class_id):
        current = _existing(uow.store, class_id)
        target, event = domain.cancel_class(current, now)
        if event is None:
            return current
        if uow.store.replace(target, current.version):
            uow.emit(event)
            return _existing(uow.store, class_id)
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class SeatRequest:
    class_id: str
    reservation_id: str
    user_id: str
    join_waitlist: bool
    override_limit: bool


def _answer(store: ClassStore, result: SeatResult, claim: Claim | None) -> SeatAnswer:
    current = store.get(claim.class_id if claim else "")
    if result is SeatResult.WAITLISTED and claim is not None and claim.ticket is not None:
        position = store.position(claim.class_id, claim.ticket)
        return SeatAnswer(result, current, position=position, ticket=claim.ticket)
    return SeatAnswer(result, current)


def _refusal_by_rules(
    store: ClassStore, request: SeatRequest, rules: StudioRules, now: datetime
) -> SeatAnswer | None:
    """A member blocked by strikes, or at the booking limit (unless staff override it)."""
    blocked = store.blocked_until(request.user_id, now)
    if blocked is not None:
        return SeatAnswer(SeatResult.BLOCKED, store.get(request.class_id), blocked_until=blocked)
    if rules.booking_limit and not request.override_limit:
        held = store.held_upcoming(request.user_id, now)
        if held >= rules.booking_limit:
            return SeatAnswer(
                SeatResult.BOOKING_LIMIT,
                store.get(request.class_id),
                booking_limit=rules.booking_limit,
                held=held,
            )
    return None


def _count(answer: SeatAnswer) -> None:
    SEAT_ANSWERS.labels(answer.result.value.lower()).inc()
    if answer.result is SeatResult.RESERVED:
        SEATS_BOOKED.inc()


class _RulesOnce:
    """The studio's rules read once per transaction of a batch, not once per item (a retried
    batch is a new transaction with a new store: it reads them again)."""

    def __init__(self) -> None:
        self._read: tuple[ClassStore, StudioRules] | None = None

    def __call__(self, store: ClassStore) -> StudioRules:
        if self._read is None or self._read[0] is not store:
            self._read = (store, store.studio_rules())
        return self._read[1]


def reserve_seat(
    uow: Work,
    request: SeatRequest,
    now: datetime,
    rules: Callable[[ClassStore], StudioRules] | None = None,
) -> SeatAnswer:
    # The studio's rules are read once per call (per batch in a batch): the seat path is the
    # hot one.
    studio = rules(uow.store) if rules is not None else uow.store.studio_rules()
    answer = _reserve(uow, request, studio, now)
    own = answer.yoga_class.details.cancellation_window if answer.yoga_class else None
    window = own if own is not None else studio.cancellation_window
    return replace(answer, cancellation_window=window)


def _reserve(uow: Work, request: SeatRequest, rules: StudioRules, now: datetime) -> SeatAnswer:
    store = uow.store
    class_id, reservation_id = request.class_id, request.reservation_id
    for _ in races("seat claim", reservation_id):
        claim = store.claim(reservation_id)
        if claim is not None:
            return _answer(store, domain.claim_answer(claim), claim)
        current = store.get(class_id)
        refusal = domain.seat_refusal(current, now)
        if refusal is not None:
            return SeatAnswer(refusal, current)
        assert current is not None
        by_rules = _refusal_by_rules(store, request, rules, now)
        if by_rules is not None:
            return by_rules
        if current.waiting and close_queue(uow, class_id, now):
            current = _existing(store, class_id)  # past the cutoff: the queue is gone
        taken = store.take_seat(class_id)
        if taken is not None:
            if store.add_claim(reservation_id, class_id, request.user_id, ClaimState.HELD, now):
                return SeatAnswer(SeatResult.RESERVED, taken)
            # The same reservation claimed concurrently: give this seat back, answer by theirs.
            store.give_back_seat(class_id)
            continue
        open_queue = not waitlist.closed(current.details.start_time, rules.waitlist_cutoff, now)
        ticket = store.try_join_queue(class_id) if request.join_waitlist and open_queue else None
        if ticket is None:
            return SeatAnswer(SeatResult.CLASS_FULL, store.get(class_id))
        if store.add_claim(
            reservation_id, class_id, request.user_id, ClaimState.WAITING, now, ticket
        ):
            return _answer(
                store, SeatResult.WAITLISTED, Claim(class_id, ClaimState.WAITING, ticket)
            )
        store.leave_queue(class_id)
    raise AssertionError("unreachable")


def promote(uow: Work, class_id: str, now: datetime) -> None:
    """Free seats of the class go to the head of its queue, in this transaction: each
    eligible member in ticket order gets one; those who cannot take it are passed over and
    leave the queue (told why); after the cutoff nobody is promoted."""
    store = uow.store
    current = store.get(class_id)
    if current is None or current.waiting == 0 or current.free_seats <= 0:
        return
    rules = store.studio_rules()
    if current.status is not ClassStatus.SCHEDULED:
        return
    if waitlist.closed(current.details.start_time, rules.waitlist_cutoff, now):
        close_queue(uow, class_id, now)  # nobody is promoted after the cutoff
        return

    def ineligible(w: Waiting) -> Skip | None:
        if store.blocked_until(w.user_id, now) is not None:
            return Skip.BLOCKED
        if store.overlapping_held(w.user_id, current):
            return Skip.OVERLAPPING_BOOKING
        if rules.booking_limit and store.held_upcoming(w.user_id, now) >= rules.booking_limit:
            return Skip.BOOKING_LIMIT
        return None

    promotion = waitlist.promote(store.queue(class_id), current.free_seats, ineligible)
    for w, reason in promotion.skipped:
        if store.move_claim(
            w.reservation_id, class_id, ClaimState.WAITING, ClaimState.RELEASED, now, reason
        ):
            store.leave_queue(class_id)
            uow.emit(
                WaitlistSkipped(_existing(store, class_id), w.reservation_id, w.user_id, reason)
            )
            WAITLIST.labels("skipped").inc()
    for w in promotion.promoted:
        if store.move_claim(w.reservation_id, class_id, ClaimState.WAITING, ClaimState.HELD, now):
            store.leave_queue(class_id, seat=True)
            uow.emit(SeatPromoted(_existing(store, class_id), w.reservation_id, w.user_id))
            WAITLIST.labels("promoted").inc()


def close_queue(uow: Work, class_id: str, now: datetime) -> int:
    """The class's waiting claims EXPIRED, if its queue is past the cutoff."""
    store = uow.store
    current = store.get(class_id)
    if current is None:
        return 0
    rules = store.studio_rules()
    if not waitlist.closed(current.details.start_time, rules.waitlist_cutoff, now):
        return 0
    expired = 0
    for w in store.queue(class_id):
        if store.move_claim(
            w.reservation_id, class_id, ClaimState.WAITING, ClaimState.EXPIRED, now
        ):
            store.leave_queue(class_id)
            uow.emit(WaitlistExpired(_existing(store, class_id), w.reservation_id, w.user_id))
            WAITLIST.labels("expired").inc()
            expired += 1
    return expired


def release_seat(
    uow: Work, class_id: str, reservation_id: str, now: datetime
) -> tuple[bool, YogaClass | None]:
    store = uow.store
    current = store.get(class_id)
    if current is None:
        return False, None
    for _ in races("seat claim", reservation_id):
        action = domain.release_action(class_id, store.claim(reservation_id))
        if action is ReleaseAction.FREE_SEAT:
            if store.move_claim(
                reservation_id, class_id, ClaimState.HELD, ClaimState.RELEASED, now
            ):
                store.give_back_seat(class_id)
                promote(uow, class_id, now)
                return True, store.get(class_id)
        elif action is ReleaseAction.LEAVE_QUEUE:
            if store.move_claim(
                reservation_id, class_id, ClaimState.WAITING, ClaimState.RELEASED, now
            ):
                store.leave_queue(class_id)
                return False, store.get(class_id)
        elif action is ReleaseAction.TOMBSTONE:
            if store.add_claim(reservation_id, class_id, "", ClaimState.RELEASED, now):
                return False, current
        else:
            return False, current
    raise AssertionError("unreachable")
