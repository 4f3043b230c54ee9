"""yogaclass_svc's use cases: classes and seats. The only code of the service that opens a
transaction (through the unit of work); the rules are in domain.py, the statements in
storage.py, the protobuf mapping in the servicer."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from prometheus_client import Counter

from yoga_common.errors import not_found
from yoga_common.uow import Transactions, Unit, races
from yogaclass_svc import domain
from yogaclass_svc.domain import ClaimState, ClassDetails, ReleaseAction, SeatResult, YogaClass
from yogaclass_svc.storage import ClassStore

SEAT_ANSWERS = Counter("yoga_seat_requests_total", "ReserveSeat answers, by result.", ["result"])
# A retried ReserveSeat of a seat already held answers RESERVED again and is counted again.
SEATS_BOOKED = Counter("yoga_seats_booked_total", "Seats given to reservations.")
SEATS_RELEASED = Counter("yoga_seats_released_total", "Seats given back.")

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
    ) -> list[YogaClass]:
        return await self._tx.read(lambda store: store.page(start, end, limit, after))

    async def update(self, class_id: str, changes: dict[str, Any]) -> YogaClass:
        now = self._now()

        def work(uow: Work) -> YogaClass:
            for _ in races("class", class_id):
                current = _existing(uow.store, class_id)
                target, event = domain.change_class(current, changes, now)
                if uow.store.replace(target, current.version):
                    uow.emit(event)
                    return _existing(uow.store, class_id)
            raise AssertionError("unreachable")

        return await self._tx.run(work)

    async def cancel(self, class_id: str) -> YogaClass:
        now = self._now()

        def work(uow: Work) -> YogaClass:
            for _ in races("class", class_id):
                current = _existing(uow.store, class_id)
                target, event = domain.cancel_class(current, now)
                if event is None:
                    return current
                if uow.store.replace(target, current.version):
                    uow.emit(event)
                    return _existing(uow.store, class_id)
            raise AssertionError("unreachable")

        return await self._tx.run(work)

    async def reserve_seat(
        self, class_id: str, reservation_id: str, user_id: str
    ) -> tuple[SeatResult, YogaClass | None]:
        now = self._now()
        result, current = await self._tx.run(
            lambda uow: reserve_seat(uow, class_id, reservation_id, user_id, now)
        )
        SEAT_ANSWERS.labels(result.value.lower()).inc()
        if result is SeatResult.RESERVED:
            SEATS_BOOKED.inc()
        return result, current

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


def reserve_seat(
    uow: Work, class_id: str, reservation_id: str, user_id: str, now: datetime
) -> tuple[SeatResult, YogaClass | None]:
    store = uow.store
    for _ in races("seat claim", reservation_id):
        claim = store.claim(reservation_id)
        current = store.get(class_id)
        answer = domain.seat_request(current, claim, now)
        if answer is not None:
            return answer, current
        if not store.try_take_seat(class_id):
            return SeatResult.CLASS_FULL, store.get(class_id)
        if store.add_claim(reservation_id, class_id, user_id, ClaimState.HELD, now):
            return SeatResult.RESERVED, store.get(class_id)
        # The same reservation claimed concurrently: give this seat back, answer by theirs.
        store.give_back_seat(class_id)
    raise AssertionError("unreachable")


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
            if store.release_claim(reservation_id, class_id, now):
                store.give_back_seat(class_id)
                return True, store.get(class_id)
        elif action is ReleaseAction.TOMBSTONE:
            if store.add_claim(reservation_id, class_id, "", ClaimState.RELEASED, now):
                return False, current
        else:
            return False, current
    raise AssertionError("unreachable")
