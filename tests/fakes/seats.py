"""A fake of the seat keeper (`reservation_svc.service.Seats`, in production `SeatClient`
calling yogaclass_svc): a reserve is idempotent per reservation id, a release leaves a tombstone
so a late reserve takes nothing and answers RELEASED. It can be scripted: down (no answer,
nothing done), lost (done, but the answer never arrives), forced answers, and gates that hold
a call in flight."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

from reservation_svc.domain import ClassInfo, SeatAnswer, SeatReply
from reservation_svc.service import SeatsRefused, SeatsUnavailable
from tests.fakes.uow import jitter

HELD = "HELD"
WAITING = "WAITING"
RELEASED = "RELEASED"


@dataclass
class Gate:
    """Holds one reserve call: `before` it reaches the seat keeper, or `after` it was done."""

    when: str
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    opened: asyncio.Event = field(default_factory=asyncio.Event)

    async def hold(self) -> None:
        self.arrived.set()
        await self.opened.wait()


class FakeSeats:
    def __init__(
        self, capacity: dict[str, int], info: ClassInfo, rng: random.Random | None = None
    ) -> None:
        self.capacity = dict(capacity)
        self.info = info
        self.claims: dict[str, tuple[str, str]] = {}  # reservation_id -> (class_id, state)
        # up | down (no answer, nothing done) | lost (done, answer lost) | refused (a
        # non-transient status: nothing done)
        self.mode = "up"
        self.release_mode: str | None = None  # overrides `mode` for release only
        self.forced: list[SeatAnswer] = []  # answers for the next reserve calls, nothing done
        self.gates: list[Gate] = []
        self.reserve_calls = 0
        self.release_calls = 0
        self.rng = rng
        # A full class queues a booking that asks to (WAITLISTED, a WAITING claim).
        self.queues = False

    def waiting(self, class_id: str) -> set[str]:
        return {
            rid for rid, (c, state) in self.claims.items() if c == class_id and state == WAITING
        }

    def held(self, class_id: str) -> set[str]:
        return {rid for rid, (c, state) in self.claims.items() if c == class_id and state == HELD}

    def gate_next_reserve(self, when: str) -> Gate:
        gate = Gate(when)
        self.gates.append(gate)
        return gate

    async def reserve(
        self,
        class_id: str,
        reservation_id: str,
        user_id: str,
        join_waitlist: bool = True,
        override_limit: bool = False,
    ) -> SeatReply:
        self.reserve_calls += 1
        mode = self.mode
        gate = self.gates.pop(0) if self.gates else None
        if gate and gate.when == "before":
            await gate.hold()
            mode = self.mode  # the call reaches the seat keeper only now
        await jitter(self.rng)
        if mode == "down":
            raise SeatsUnavailable("yogaclass_svc did not answer")
        if mode == "refused":
            raise SeatsRefused("ReserveSeat: PERMISSION_DENIED")
        answer = (
            self.forced.pop(0)
            if self.forced
            else self._reserve(class_id, reservation_id, join_waitlist)
        )
        info = self.info if class_id in self.capacity else None
        if gate and gate.when == "after":
            await gate.hold()
        await jitter(self.rng)
        if mode == "lost":
            raise SeatsUnavailable("the answer was lost")
        return SeatReply(answer, info)

    def _reserve(self, class_id: str, reservation_id: str, join_waitlist: bool) -> SeatAnswer:
        claim = self.claims.get(reservation_id)
        if claim is not None:
            return {
                HELD: SeatAnswer.RESERVED,
                WAITING: SeatAnswer.WAITLISTED,
                RELEASED: SeatAnswer.RELEASED,
            }[claim[1]]
        if class_id not in self.capacity:
            return SeatAnswer.CLASS_NOT_FOUND
        if len(self.held(class_id)) >= self.capacity[class_id]:
            if self.queues and join_waitlist:
                self.claims[reservation_id] = (class_id, WAITING)
                return SeatAnswer.WAITLISTED
            return SeatAnswer.CLASS_FULL
        self.claims[reservation_id] = (class_id, HELD)
        return SeatAnswer.RESERVED

    async def release(self, class_id: str, reservation_id: str) -> None:
        self.release_calls += 1
        mode = self.release_mode or self.mode
        await jitter(self.rng)
        if mode == "down":
            raise SeatsUnavailable("yogaclass_svc did not answer")
        if mode == "refused":
            raise SeatsRefused("ReleaseSeat: PERMISSION_DENIED")
        if class_id in self.capacity:
            claim = self.claims.get(reservation_id)
            if claim is None or claim in ((class_id, HELD), (class_id, WAITING)):
                # Frees a held seat or a place in the queue, or leaves a tombstone for a
                # reserve still on its way.
                self.claims[reservation_id] = (class_id, RELEASED)
        if mode == "lost":
            raise SeatsUnavailable("the answer was lost")
