"""The booking saga (reservation_svc.service) against in-memory fakes of its unit of work,
store and seat keeper (tests/fakes/, held to the real ones by tests/contract/)."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reservation_svc.domain import (
    ACTIVE,
    ClassInfo,
    Reason,
    Reservation,
    SeatAnswer,
    Status,
)
from reservation_svc.service import ReservationService, Seats, SeatsRefused
from tests.fakes.reservations import FakeReservationStore
from tests.fakes.seats import FakeSeats
from tests.fakes.uow import FakeTransactions
from yoga_common.errors import Code, ServiceError

GRACE = timedelta(seconds=30)
CLASS = "c-flow"
START = datetime(2030, 6, 1, 7, 0, tzinfo=UTC)
INFO = ClassInfo("Morning Flow", START, START + timedelta(hours=1))


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2030, 5, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class World:
    clock: FakeClock
    tx: FakeTransactions[FakeReservationStore]
    seats: FakeSeats
    saga: ReservationService
    requests: int = 0

    @property
    def store(self) -> FakeReservationStore:
        return self.tx.store

    @property
    def events(self) -> list[tuple[Status, str]]:
        """The events committed so far, as (the state each announces, reservation id)."""
        return [(e.reservation.status, e.reservation.reservation_id) for e in self.tx.events]  # type: ignore[attr-defined]

    async def book(
        self, user: str, request_id: str | None = None, class_id: str = CLASS
    ) -> Reservation:
        if request_id is None:
            self.requests += 1
            request_id = f"req-{self.requests}"
        booked, _ = await self.saga.book(class_id, user, f"{user}@example.com", request_id, "h")
        return booked

    async def cancel(self, r: Reservation) -> Reservation:
        return await self.saga.cancel(r, by_staff=False)

    async def recover_later(self) -> int:
        self.clock.advance(GRACE.total_seconds() + 1)
        return await self.saga.recover(GRACE)


def make_world(capacity: int = 2, rng: random.Random | None = None) -> World:
    clock = FakeClock()
    tx = FakeTransactions(FakeReservationStore(), rng)
    seats = FakeSeats({CLASS: capacity}, INFO, rng)
    return World(clock, tx, seats, ReservationService(tx, seats, clock))  # type: ignore[arg-type]


def test_fakes_satisfy_the_protocols() -> None:
    # Checked by mypy: the fake keeps the signatures the saga is written against (the fake
    # store and unit of work are held to the real ones by tests/contract/).
    seats: Seats = FakeSeats({}, INFO)
    assert seats


# --- booking ------------------------------------------------------------------------------


async def test_book_confirms_and_takes_a_seat() -> None:
    w = make_world()
    r = await w.book("alice")
    assert r.status is Status.CONFIRMED
    assert r.reason is Reason.NONE
    assert r.class_info == INFO
    assert r.version == 2
    assert not r.release_pending
    assert w.store.rows[r.reservation_id] == r
    assert w.seats.held(CLASS) == {r.reservation_id}
    assert w.seats.reserve_calls == 1
    assert w.events == [(Status.CONFIRMED, r.reservation_id)]


async def test_full_class_rejects() -> None:
    w = make_world(capacity=1)
    alice = await w.book("alice")
    bob = await w.book("bob")
    assert alice.status is Status.CONFIRMED
    assert bob.status is Status.REJECTED
    assert bob.reason is Reason.CLASS_FULL
    assert not bob.release_pending
    assert w.seats.held(CLASS) == {alice.reservation_id}


async def test_unknown_class_rejects() -> None:
    w = make_world()
    r = await w.book("alice", class_id="no-such-class")
    assert (r.status, r.reason) == (Status.REJECTED, Reason.CLASS_NOT_FOUND)
    assert r.class_info is None


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (SeatAnswer.CLASS_CANCELLED, Reason.CLASS_CANCELLED),
        (SeatAnswer.CLASS_STARTED, Reason.CLASS_STARTED),
        (SeatAnswer.CLASS_FULL, Reason.CLASS_FULL),
    ],
)
async def test_refusals_reject_with_their_reason(answer: SeatAnswer, reason: Reason) -> None:
    w = make_world()
    w.seats.forced.append(answer)
    r = await w.book("alice")
    assert (r.status, r.reason) == (Status.REJECTED, reason)
    assert w.seats.held(CLASS) == set()
    assert w.events == [(Status.REJECTED, r.reservation_id)]


async def test_seats_unavailable_leaves_pending_until_recovery_confirms() -> None:
    w = make_world()
    w.seats.mode = "down"
    r = await w.book("alice")
    assert r.status is Status.PENDING
    assert w.store.rows[r.reservation_id].status is Status.PENDING
    assert w.seats.held(CLASS) == set()

    w.seats.mode = "up"
    assert await w.saga.recover(GRACE) == 0  # too fresh: the booking call may still finish it
    assert w.store.rows[r.reservation_id].status is Status.PENDING

    assert await w.recover_later() == 1
    done = w.store.rows[r.reservation_id]
    assert done.status is Status.CONFIRMED
    assert done.class_info == INFO
    assert w.seats.held(CLASS) == {r.reservation_id}
    assert await w.recover_later() == 0  # nothing left to do


async def test_recovery_during_an_outage_changes_nothing() -> None:
    w = make_world()
    w.seats.mode = "down"
    r = await w.book("alice")
    assert await w.recover_later() == 1
    assert w.store.rows[r.reservation_id].status is Status.PENDING
    w.seats.mode = "up"
    await w.recover_later()
    assert w.store.rows[r.reservation_id].status is Status.CONFIRMED


async def test_lost_answer_is_recovered_without_taking_a_second_seat() -> None:
    w = make_world(capacity=1)
    w.seats.mode = "lost"
    r = await w.book("alice")
    assert r.status is Status.PENDING
    assert w.seats.held(CLASS) == {r.reservation_id}  # the seat was taken, the answer lost
    w.seats.mode = "up"
    await w.recover_later()
    assert w.store.rows[r.reservation_id].status is Status.CONFIRMED  # not CLASS_FULL
    assert w.seats.held(CLASS) == {r.reservation_id}


async def test_retry_of_a_finished_request_returns_it_without_asking_for_a_seat() -> None:
    w = make_world(capacity=1)
    first = await w.book("alice", "req-a")
    again = await w.book("alice", "req-a")
    assert again == first
    assert w.seats.reserve_calls == 1
    assert len(w.store.rows) == 1

    rejected = await w.book("bob", "req-b")
    await w.cancel(first)  # a seat is free now, but a retry repeats the answer it got
    retried = await w.book("bob", "req-b")
    assert retried == rejected
    assert retried.status is Status.REJECTED
    assert w.seats.reserve_calls == 2


async def test_retry_of_an_unfinished_request_finishes_it() -> None:
    w = make_world()
    w.seats.mode = "down"
    pending = await w.book("alice", "req-a")
    w.seats.mode = "up"
    done = await w.book("alice", "req-a")
    assert done.reservation_id == pending.reservation_id
    assert done.status is Status.CONFIRMED
    assert w.seats.held(CLASS) == {pending.reservation_id}
    assert len(w.store.rows) == 1


async def test_store_refusals_reach_the_caller_without_asking_for_a_seat() -> None:
    w = make_world()
    await w.book("alice", "req-a")
    with pytest.raises(ServiceError) as reused:
        await w.saga.book(CLASS, "alice", "a@x", "req-a", "another-hash")
    assert reused.value.code is Code.INVALID_ARGUMENT
    with pytest.raises(ServiceError) as twice:
        await w.book("alice", "req-b")
    assert twice.value.reason == "ALREADY_BOOKED"
    assert w.seats.reserve_calls == 1


# --- cancelling ---------------------------------------------------------------------------


async def test_cancel_confirmed_releases_the_seat() -> None:
    w = make_world(capacity=1)
    r = await w.book("alice")
    cancelled = await w.cancel(r)
    assert cancelled.status is Status.CANCELLED
    assert cancelled.reason is Reason.CANCELLED_BY_USER
    assert not cancelled.release_pending
    assert w.store.rows[r.reservation_id] == cancelled
    assert w.seats.held(CLASS) == set()
    assert w.seats.release_calls == 1
    # The freed seat can be booked again.
    assert (await w.book("bob")).status is Status.CONFIRMED


async def test_cancel_during_an_outage_keeps_release_pending_until_recovery() -> None:
    w = make_world(capacity=1)
    r = await w.book("alice")
    w.seats.mode = "down"
    cancelled = await w.cancel(r)
    assert cancelled.status is Status.CANCELLED
    assert cancelled.release_pending
    assert w.store.rows[r.reservation_id].release_pending
    assert w.seats.held(CLASS) == {r.reservation_id}

    w.seats.mode = "up"
    assert await w.saga.recover(GRACE) == 0  # not yet due
    assert await w.recover_later() == 1
    assert not w.store.rows[r.reservation_id].release_pending
    assert w.store.rows[r.reservation_id].status is Status.CANCELLED
    assert w.seats.held(CLASS) == set()
    assert await w.recover_later() == 0


async def test_lost_release_answer_is_retried_harmlessly() -> None:
    w = make_world(capacity=2)
    r = await w.book("alice")
    other = await w.book("bob")
    w.seats.mode = "lost"
    assert (await w.cancel(r)).release_pending
    w.seats.mode = "up"
    await w.recover_later()
    assert not w.store.rows[r.reservation_id].release_pending
    assert w.seats.held(CLASS) == {other.reservation_id}  # bob's seat untouched by the retry


async def test_cancelling_again_retries_a_pending_release() -> None:
    w = make_world()
    r = await w.book("alice")
    w.seats.mode = "down"
    first = await w.cancel(r)
    w.seats.mode = "up"
    second = await w.cancel(first)
    assert second.status is Status.CANCELLED
    assert second.version == first.version  # no second transition
    assert not second.release_pending
    assert w.seats.held(CLASS) == set()


@pytest.mark.parametrize("answer", [SeatAnswer.CLASS_FULL, SeatAnswer.CLASS_CANCELLED])
async def test_cancel_of_a_rejected_reservation_changes_nothing(answer: SeatAnswer) -> None:
    w = make_world()
    w.seats.forced.append(answer)
    rejected = await w.book("alice")
    after = await w.cancel(rejected)
    assert after == rejected
    assert w.store.rows[rejected.reservation_id] == rejected
    assert w.seats.release_calls == 0
    assert w.events == [(Status.REJECTED, rejected.reservation_id)]


async def test_cancel_of_a_cancelled_reservation_changes_nothing() -> None:
    w = make_world()
    cancelled = await w.cancel(await w.book("alice"))
    again = await w.cancel(cancelled)
    assert again == cancelled
    assert w.seats.release_calls == 1


async def test_cancel_of_a_pending_reservation_blocks_a_late_reserve() -> None:
    w = make_world(capacity=1)
    w.seats.mode = "down"
    pending = await w.book("alice")
    w.seats.mode = "up"
    cancelled = await w.cancel(pending)
    assert cancelled.status is Status.CANCELLED
    assert not cancelled.release_pending  # the tombstone is in place
    # The booking's own retry arrives late: it takes nothing and leaves it cancelled.
    settled = await w.saga.settle(pending)
    assert settled.status is Status.CANCELLED
    assert w.seats.held(CLASS) == set()
    assert await w.recover_later() == 0
    assert (await w.book("bob")).status is Status.CONFIRMED


# --- races: a late RESERVED answer ---------------------------------------------------------


async def test_late_reserved_after_cancel_gives_the_seat_back() -> None:
    w = make_world(capacity=1)
    gate = w.seats.gate_next_reserve("after")  # the seat is taken, the answer is slow
    booking = asyncio.create_task(w.book("alice"))
    await gate.arrived.wait()
    (pending,) = w.store.with_status(Status.PENDING)
    assert w.seats.held(CLASS) == {pending.reservation_id}

    cancelled = await w.cancel(pending)
    assert cancelled.status is Status.CANCELLED
    assert w.seats.held(CLASS) == set()

    gate.opened.set()
    result = await booking
    assert result.status is Status.CANCELLED
    assert w.seats.held(CLASS) == set()
    assert not w.store.rows[pending.reservation_id].release_pending


async def test_late_reserved_after_cancel_during_an_outage_is_released_by_recovery() -> None:
    w = make_world(capacity=1)
    gate = w.seats.gate_next_reserve("after")
    booking = asyncio.create_task(w.book("alice"))
    await gate.arrived.wait()
    (pending,) = w.store.with_status(Status.PENDING)
    w.seats.release_mode = "down"
    assert (await w.cancel(pending)).release_pending
    gate.opened.set()
    result = await booking
    assert result.status is Status.CANCELLED
    assert w.seats.held(CLASS) == {pending.reservation_id}  # not yet given back...
    w.seats.release_mode = None
    await w.recover_later()
    assert w.seats.held(CLASS) == set()  # ...but not leaked either
    assert not w.store.rows[pending.reservation_id].release_pending


async def _late_reserved_after_rejection(w: World, release_mode: str | None) -> Reservation:
    """alice holds the only seat; bob's booking call is in flight when recovery rejects it (full);
    then alice cancels and bob's slow call takes the freed seat: its RESERVED arrives late."""
    alice = await w.book("alice")
    gate = w.seats.gate_next_reserve("before")
    booking = asyncio.create_task(w.book("bob"))
    await gate.arrived.wait()
    (bob,) = w.store.with_status(Status.PENDING)

    await w.recover_later()  # an earlier try, from the recovery loop: CLASS_FULL
    assert w.store.rows[bob.reservation_id].status is Status.REJECTED
    await w.cancel(alice)
    assert w.seats.held(CLASS) == set()

    w.seats.release_mode = release_mode
    gate.opened.set()
    result = await booking
    assert result.status is Status.REJECTED
    assert result.reason is Reason.CLASS_FULL
    return result


async def test_late_reserved_after_rejection_gives_the_seat_back() -> None:
    w = make_world(capacity=1)
    await _late_reserved_after_rejection(w, None)
    assert w.seats.held(CLASS) == set()
    assert (await w.book("carol")).status is Status.CONFIRMED


async def test_late_reserved_after_rejection_during_an_outage_is_not_leaked() -> None:
    w = make_world(capacity=1)
    bob = await _late_reserved_after_rejection(w, "down")
    w.seats.release_mode = None
    await w.recover_later()
    await w.recover_later()
    assert w.seats.held(CLASS) == set(), f"seat of REJECTED {bob.reservation_id} still held"


async def test_a_place_in_the_queue_given_after_a_rejection_is_given_back() -> None:
    """Found by `make chaos` (two reservation_svc replicas): one try of bob's booking was
    refused (his booking limit), another, still on its way, got a place in the queue once the
    limit allowed it. The reservation stays REJECTED; the place must not hold the queue."""
    w = make_world(capacity=1)
    w.seats.queues = True
    await w.book("alice")
    gate = w.seats.gate_next_reserve("before")
    booking = asyncio.create_task(w.book("bob"))
    await gate.arrived.wait()
    (bob,) = w.store.with_status(Status.PENDING)
    w.seats.forced = [SeatAnswer.BOOKING_LIMIT]
    await w.recover_later()  # the earlier try, from the recovery loop: refused
    assert w.store.rows[bob.reservation_id].status is Status.REJECTED

    gate.opened.set()
    with pytest.raises(ServiceError, match="BOOKING_LIMIT"):  # the refusal, as stored
        await booking  # the later try: WAITLISTED, for a reservation already ended
    assert w.store.rows[bob.reservation_id].status is Status.REJECTED
    assert w.seats.waiting(CLASS) == set(), "a REJECTED booking keeps a place in the queue"
    assert not w.store.rows[bob.reservation_id].release_pending
    assert w.events == [
        (Status.CONFIRMED, w.store.with_status(Status.CONFIRMED)[0].reservation_id),
        (Status.REJECTED, bob.reservation_id),
    ]


async def test_concurrent_settles_of_one_reservation_take_one_seat() -> None:
    w = make_world(capacity=3)
    w.seats.mode = "down"
    pending = await w.book("alice", "req-a")
    w.seats.mode = "up"
    w.clock.advance(60)
    results = await asyncio.gather(
        w.saga.settle(pending), w.saga.settle(pending), w.book("alice", "req-a")
    )
    assert {r.status for r in results} == {Status.CONFIRMED}
    assert w.seats.held(CLASS) == {pending.reservation_id}
    assert w.events == [(Status.CONFIRMED, pending.reservation_id)]


# --- the recovery loop --------------------------------------------------------------------


async def test_recovery_loop_survives_a_failing_pass() -> None:
    w = make_world()
    calls = 0
    real = w.store.stale_pending

    def flaky(before: datetime, limit: int = 100) -> list[Reservation]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database went away")
        return real(before, limit)

    w.store.stale_pending = flaky  # type: ignore[method-assign]
    w.seats.mode = "down"
    r = await w.book("alice")
    w.seats.mode = "up"
    w.clock.advance(60)
    loop = asyncio.create_task(w.saga.recovery_loop(GRACE, interval=0))
    for _ in range(200):
        await asyncio.sleep(0)
        if w.store.rows[r.reservation_id].status is Status.CONFIRMED:
            break
    loop.cancel()
    with pytest.raises(asyncio.CancelledError):
        await loop
    assert calls >= 2
    assert w.store.rows[r.reservation_id].status is Status.CONFIRMED


async def test_a_refusing_seat_keeper_leaves_pending_and_recovery_stops_asking() -> None:
    """A non-transient status (a defect or a misconfiguration): the booking stays PENDING as in
    an outage, but a recovery pass stops at the first refusal instead of asking for every
    reservation, and the loop waits longer after each refused pass."""
    w = make_world()
    w.seats.mode = "refused"
    first, second = await w.book("alice"), await w.book("bob")
    assert {first.status, second.status} == {Status.PENDING}
    calls = w.seats.reserve_calls
    w.clock.advance(GRACE.total_seconds() + 1)
    with pytest.raises(SeatsRefused):
        await w.saga.recover(GRACE)
    assert w.seats.reserve_calls == calls + 1
    w.seats.mode = "up"
    assert await w.saga.recover(GRACE) == 2
    assert {r.status for r in w.store.rows.values()} == {Status.CONFIRMED}


async def test_the_recovery_loop_backs_off_while_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    w = make_world()
    w.seats.mode = "refused"
    await w.book("alice")
    w.clock.advance(GRACE.total_seconds() + 1)
    pauses: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 4:
            w.seats.mode = "up"
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    loop = asyncio.create_task(w.saga.recovery_loop(GRACE, interval=0.5, max_interval=3.0))
    for _ in range(200):
        await real_sleep(0)
        if len(pauses) >= 6:
            break
    loop.cancel()
    with pytest.raises(asyncio.CancelledError):
        await loop
    # Doubling while refused (at most 3 s), back to the interval once the seat keeper answers.
    assert pauses[:6] == [1.0, 2.0, 3.0, 3.0, 0.5, 0.5]
    assert {r.status for r in w.store.rows.values()} == {Status.CONFIRMED}


# --- randomized: interleaved bookings, cancels, outages and recovery -----------------------

USERS = ["u0", "u1", "u2", "u3"]

user_op = st.one_of(
    st.tuples(st.just("book"), st.sampled_from(USERS), st.booleans()),
    st.tuples(st.just("cancel"), st.sampled_from(USERS)),
)
op = st.one_of(
    user_op,
    st.tuples(st.just("mode"), st.sampled_from(["up", "down", "lost"])),
    st.tuples(st.just("recover"), st.booleans()),
    st.tuples(st.just("batch"), st.lists(st.one_of(user_op, st.just(("recover",))), max_size=8)),
)


def check_no_leak(w: World, capacity: int) -> None:
    held = w.seats.held(CLASS)
    rows = w.store.rows
    assert len(held) <= capacity
    for r in w.store.with_status(Status.CONFIRMED):
        assert r.reservation_id in held, f"CONFIRMED {r.reservation_id} holds no seat"
    for rid in held:
        r = rows[rid]
        # A seat is held only by a reservation that is (or may become) confirmed, or that
        # recovery will still give back.
        assert r.status in ACTIVE or r.release_pending, f"seat leaked by {r}"


async def run_scenario(capacity: int, ops: list[Any], rnd: random.Random) -> None:
    w = make_world(capacity, rnd)
    latest: dict[str, Reservation] = {}
    last_request: dict[str, str] = {}

    async def do(step: tuple[Any, ...]) -> None:
        mode = w.seats.mode
        if step[0] == "book":
            _, user, retry = step
            request_id = last_request.get(user) if retry else None
            if request_id is None:
                w.requests += 1
                request_id = last_request[user] = f"req-{w.requests}"
            try:
                r = await w.book(user, request_id)
            except ServiceError as err:
                assert err.code is Code.ALREADY_EXISTS
                return
            latest[user] = r
            if mode == "up":
                assert r.status is not Status.PENDING
        elif step[0] == "cancel":
            before = latest.get(step[1])
            if before is None:
                return
            r = await w.cancel(before)
            assert r.status in (Status.CANCELLED, Status.REJECTED)
            if mode == "up":
                assert not r.release_pending
        elif step[0] == "recover":
            await w.saga.recover(GRACE)

    for step in ops:
        w.clock.advance(1)
        if step[0] == "mode":
            w.seats.mode = step[1]
        elif step[0] == "recover":
            if step[1]:
                w.clock.advance(GRACE.total_seconds() + 1)
            await w.saga.recover(GRACE)
        elif step[0] == "batch":
            w.clock.advance(GRACE.total_seconds() + 1)
            await asyncio.gather(*(do(s) for s in step[1]))
        else:
            await do(step)
        check_no_leak(w, capacity)

    w.seats.mode = "up"
    await w.recover_later()
    check_no_leak(w, capacity)
    assert w.store.with_status(Status.PENDING) == []
    assert [r for r in w.store.rows.values() if r.release_pending] == []
    confirmed = {r.reservation_id for r in w.store.with_status(Status.CONFIRMED)}
    assert w.seats.held(CLASS) == confirmed
    assert len(confirmed) <= capacity
    active_users = [r.user_id for r in w.store.rows.values() if r.active]
    assert len(active_users) == len(set(active_users))


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    capacity=st.integers(min_value=1, max_value=3),
    ops=st.lists(op, max_size=25),
    rnd=st.randoms(use_true_random=False),
)
def test_seats_held_match_confirmed_reservations(
    capacity: int, ops: list[Any], rnd: random.Random
) -> None:
    asyncio.run(run_scenario(capacity, ops, rnd))


async def run_storm(
    capacity: int, holders: int, waiting: int, steps: list[Any], rnd: random.Random
) -> None:
    """Some members hold seats, others wait PENDING after an outage; then cancels, retries and
    recovery passes all run at once, interleaved at random."""
    w = make_world(capacity, rnd)
    users = [f"u{i}" for i in range(holders + waiting)]
    latest: dict[str, Reservation] = {}
    for user in users[:holders]:
        latest[user] = await w.book(user, f"req-{user}")
    w.seats.mode = "down"
    for user in users[holders:]:
        latest[user] = await w.book(user, f"req-{user}")
    w.seats.mode = "up"
    w.clock.advance(GRACE.total_seconds() + 1)

    async def do(step: tuple[Any, ...]) -> None:
        if step[0] == "recover":
            await w.saga.recover(GRACE)
            return
        user = users[step[1] % len(users)]
        if step[0] == "book":
            r = await w.book(user, f"req-{user}")
            assert r.status is not Status.PENDING
        else:
            r = await w.cancel(latest[user])
            assert not r.release_pending

    await asyncio.gather(*(do(s) for s in steps))
    check_no_leak(w, capacity)
    await w.recover_later()
    check_no_leak(w, capacity)
    confirmed = {r.reservation_id for r in w.store.with_status(Status.CONFIRMED)}
    assert w.store.with_status(Status.PENDING) == []
    assert w.seats.held(CLASS) == confirmed


@settings(max_examples=200, deadline=None)
@given(
    capacity=st.integers(min_value=1, max_value=2),
    holders=st.integers(min_value=0, max_value=2),
    waiting=st.integers(min_value=1, max_value=3),
    steps=st.lists(
        st.one_of(
            st.just(("recover",)),
            st.tuples(st.sampled_from(["book", "cancel"]), st.integers(0, 4)),
        ),
        min_size=1,
        max_size=6,
    ),
    rnd=st.randoms(use_true_random=False),
)
def test_concurrent_cancels_retries_and_recovery_leak_no_seat(
    capacity: int, holders: int, waiting: int, steps: list[Any], rnd: random.Random
) -> None:
    asyncio.run(run_storm(capacity, holders, waiting, steps, rnd))
