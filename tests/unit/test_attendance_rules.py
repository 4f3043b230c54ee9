"""Check-in, the class roster, the no-show sweep and class moves (issue 14 §3): the rules in
reservation_svc.domain with the time passed in, and the use cases of reservation_svc.service
against the in-memory fakes (tests/fakes/), with a clock the tests move."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest

from reservation_svc import domain, service
from reservation_svc.domain import (
    AttendanceRules,
    ClassInfo,
    Reason,
    Reservation,
    RosterPart,
    RosterPosition,
    SeatAnswer,
    Status,
)
from reservation_svc.service import ReservationService, Studio, StudioUnavailable
from tests.fakes.reservations import FakeReservationStore
from tests.fakes.seats import FakeSeats
from tests.fakes.studio import FakeStudio
from tests.fakes.uow import FakeTransactions
from tests.unit.test_saga import FakeClock
from yoga_common.errors import Code, ServiceError

T = TypeVar("T")
CLASS = "c-flow"
START = datetime(2030, 6, 1, 7, 0, tzinfo=UTC)
END = START + timedelta(hours=1)
INFO = ClassInfo("Morning Flow", START, END, "Asia/Seoul", version=3)
RULES = AttendanceRules(check_in_opens=timedelta(minutes=30), no_show_grace=timedelta(minutes=15))


def a_reservation(status: Status = Status.CONFIRMED, **changes: Any) -> Reservation:
    r = domain.new_reservation(CLASS, "alice", "", "req-1", "h", START - timedelta(days=1))
    fields: dict[str, Any] = {"status": status, "class_info": INFO, **changes}
    return replace(r, **fields)


def refusal(err: pytest.ExceptionInfo[ServiceError]) -> tuple[Code, str]:
    return err.value.code, err.value.reason


# --- the rules ------------------------------------------------------------------------------


def test_check_in_opens_before_the_start_and_closes_at_the_end() -> None:
    r = a_reservation()
    opens = START - RULES.check_in_opens
    with pytest.raises(ServiceError) as err:
        domain.check_in_due(r, RULES, opens - timedelta(seconds=1))
    assert refusal(err) == (Code.FAILED_PRECONDITION, "CHECK_IN_NOT_OPEN")
    assert err.value.metadata["opens_at"] == opens.isoformat()
    assert domain.check_in_due(r, RULES, opens)
    assert domain.check_in_due(r, RULES, END - timedelta(seconds=1))
    with pytest.raises(ServiceError) as err:
        domain.check_in_due(r, RULES, END)
    assert refusal(err) == (Code.FAILED_PRECONDITION, "CLASS_ENDED")


@pytest.mark.parametrize(
    "status",
    [Status.CANCELLED, Status.WAITLISTED, Status.REJECTED, Status.PENDING, Status.NO_SHOW],
)
def test_only_a_confirmed_reservation_is_checked_in(status: Status) -> None:
    with pytest.raises(ServiceError) as err:
        domain.check_in_due(a_reservation(status), RULES, START)
    assert refusal(err) == (Code.FAILED_PRECONDITION, "NOT_CONFIRMED")
    assert err.value.metadata["status"] == status.value


def test_checking_in_again_changes_nothing_even_after_the_class() -> None:
    attended = a_reservation(Status.ATTENDED, check_in_time=START)
    assert not domain.check_in_due(attended, RULES, START)
    assert not domain.check_in_due(attended, RULES, END + timedelta(days=1))


def test_a_reservation_becomes_a_no_show_after_the_end_and_the_grace() -> None:
    r = a_reservation()
    due = END + RULES.no_show_grace
    assert not domain.is_no_show(r, RULES, due - timedelta(seconds=1))
    assert domain.is_no_show(r, RULES, due)
    assert not domain.is_no_show(a_reservation(Status.ATTENDED), RULES, due)
    assert domain.no_show_cutoff(RULES, due) == END


def test_a_class_description_only_gives_way_to_a_newer_one() -> None:
    older = replace(INFO, start_time=START - timedelta(days=1), version=2)
    newer = replace(INFO, start_time=START + timedelta(days=1), version=4)
    assert domain.newer(older, INFO) is INFO
    assert domain.newer(newer, INFO) is newer
    assert domain.newer(None, INFO) is INFO
    # A late seat answer describing an older class does not move a reservation back.
    moved = a_reservation(Status.PENDING, class_info=newer)
    confirmed = domain.transition(moved, Status.CONFIRMED, Reason.NONE, START, older)
    assert confirmed.class_info == newer


def test_roster_parts_and_order() -> None:
    assert domain.roster_part(a_reservation(Status.ATTENDED)) is RosterPart.SEATED
    assert domain.roster_part(a_reservation(Status.WAITLISTED)) is RosterPart.WAITING
    for status in (Status.NO_SHOW, Status.CANCELLED, Status.REJECTED, Status.EXPIRED):
        assert domain.roster_part(a_reservation(status)) is RosterPart.OTHERS
    assert set().union(*domain.ROSTER_STATUSES.values()) == set(Status)


def test_roster_tokens_round_trip_and_belong_to_their_class() -> None:
    seated = RosterPosition(RosterPart.SEATED, (START, "r-1"))
    waiting = RosterPosition(RosterPart.WAITING, (7,))
    for position in (seated, waiting, RosterPosition(RosterPart.OTHERS, (END, "r-9"))):
        assert domain.roster_position(domain.roster_token(CLASS, position), CLASS) == position
    assert domain.roster_position("", CLASS) is None
    with pytest.raises(ServiceError) as err:
        domain.roster_position(domain.roster_token(CLASS, seated), "c-other")
    assert err.value.violations[0].field == "page_token"
    for foreign in ("bm90IGEgdG9rZW4", "WzFd", domain.roster_token(CLASS, seated)[:-4]):
        with pytest.raises(ServiceError) as err:
            domain.roster_position(foreign, CLASS)
        assert err.value.code is Code.INVALID_ARGUMENT


# --- the use cases ---------------------------------------------------------------------------


class World:
    def __init__(self, capacity: int = 10) -> None:
        self.clock = FakeClock()
        self.tx = FakeTransactions(FakeReservationStore())
        self.seats = FakeSeats({CLASS: capacity}, INFO)
        self.studio = FakeStudio(RULES)
        self.svc = ReservationService(self.tx, self.seats, self.clock, self.studio)  # type: ignore[arg-type]
        self.n = 0

    @property
    def store(self) -> FakeReservationStore:
        return self.tx.store

    def run(self, work: Callable[[Any], T]) -> T:
        """One transaction of a step of the service layer, on the fakes."""
        return self.tx.run_sync(work)

    def events(self, status: Status) -> list[str]:
        return [
            e.reservation.reservation_id  # type: ignore[attr-defined]
            for e in self.tx.events
            if e.reservation.status is status  # type: ignore[attr-defined]
        ]

    async def book(self, user: str) -> Reservation:
        self.n += 1
        booked, _ = await self.svc.book(CLASS, user, "", f"req-{self.n}", "h")
        self.clock.advance(1)
        return booked


def test_the_fake_studio_satisfies_the_protocol() -> None:
    studio: Studio = FakeStudio()
    assert studio


async def test_check_in_marks_attended_once() -> None:
    w = World()
    r = await w.book("alice")
    w.clock.now = START - timedelta(minutes=5)
    checked = await w.svc.check_in(r.reservation_id)
    assert checked.status is Status.ATTENDED
    assert checked.check_in_time == w.clock.now
    assert checked.version == r.version + 1
    w.clock.advance(60)
    again = await w.svc.check_in(r.reservation_id)
    assert again == checked
    assert w.events(Status.ATTENDED) == [r.reservation_id]


async def test_check_in_refusals_change_nothing() -> None:
    w = World()
    r = await w.book("alice")
    w.clock.now = START - timedelta(hours=1)
    with pytest.raises(ServiceError) as err:
        await w.svc.check_in(r.reservation_id)
    assert refusal(err) == (Code.FAILED_PRECONDITION, "CHECK_IN_NOT_OPEN")
    with pytest.raises(ServiceError) as err:
        await w.svc.check_in("missing")
    assert err.value.code is Code.NOT_FOUND
    cancelled = await w.svc.cancel(r, by_staff=False)
    w.clock.now = START
    with pytest.raises(ServiceError) as err:
        await w.svc.check_in(r.reservation_id)
    assert refusal(err) == (Code.FAILED_PRECONDITION, "NOT_CONFIRMED")
    assert w.store.rows[r.reservation_id] == cancelled
    assert w.events(Status.ATTENDED) == []


async def test_check_in_without_the_studio_settings_is_unavailable() -> None:
    w = World()
    r = await w.book("alice")
    w.studio.down = True
    w.clock.now = START
    with pytest.raises(ServiceError) as err:
        await w.svc.check_in(r.reservation_id)
    assert refusal(err) == (Code.UNAVAILABLE, "STUDIO_SETTINGS_UNAVAILABLE")
    assert w.store.rows[r.reservation_id].status is Status.CONFIRMED


async def test_check_in_follows_a_changed_window() -> None:
    w = World()
    r = await w.book("alice")
    w.clock.now = START - timedelta(hours=1)
    w.studio.rules = replace(RULES, check_in_opens=timedelta(hours=2))
    assert (await w.svc.check_in(r.reservation_id)).status is Status.ATTENDED


async def test_the_sweep_marks_each_no_show_once_in_batches() -> None:
    w = World()
    booked = [await w.book(f"m{n}") for n in range(7)]
    w.clock.now = START
    await w.svc.check_in(booked[0].reservation_id)
    w.clock.now = END + RULES.no_show_grace - timedelta(seconds=1)
    assert await w.svc.sweep_no_shows(batch=3) == 0
    w.clock.now = END + RULES.no_show_grace
    assert await w.svc.sweep_no_shows(batch=3) == 6
    assert await w.svc.sweep_no_shows(batch=3) == 0  # a rerun marks none twice
    assert sorted(w.events(Status.NO_SHOW)) == sorted(r.reservation_id for r in booked[1:])
    assert w.store.rows[booked[0].reservation_id].status is Status.ATTENDED
    for r in booked[1:]:
        assert w.store.rows[r.reservation_id].status is Status.NO_SHOW


async def test_two_sweeps_that_read_the_same_rows_mark_each_once() -> None:
    w = World()
    booked = [await w.book(f"m{n}") for n in range(3)]
    now = END + RULES.no_show_grace
    # Two replicas decide from the same due rows; the conditional write lets one win each.
    first = w.run(lambda uow: service.mark_no_shows(uow, RULES, now, 10))
    second = w.run(lambda uow: service.mark_no_shows(uow, RULES, now, 10))
    assert first == (3, 3)
    assert second == (0, 0)
    assert len(w.events(Status.NO_SHOW)) == len(booked)


async def test_the_sweep_skips_its_pass_without_the_studio_settings() -> None:
    w = World()
    await w.book("alice")
    w.studio.down = True
    w.clock.now = END + timedelta(days=1)
    with pytest.raises(StudioUnavailable):
        await w.svc.sweep_no_shows()
    assert w.events(Status.NO_SHOW) == []


async def test_roster_lists_seated_then_the_queue_then_the_rest_page_by_page() -> None:
    w = World(capacity=3)
    seated = [await w.book(f"s{n}") for n in range(3)]
    w.seats.forced = [SeatAnswer.WAITLISTED] * 3
    waiting = [await w.book(f"w{n}") for n in range(3)]
    # The queue's order is its tickets', not the booking order.
    for r, ticket in zip(waiting, (30, 10, 20), strict=True):
        w.store.rows[r.reservation_id] = replace(
            w.store.rows[r.reservation_id], waitlist_ticket=ticket
        )
    cancelled = await w.svc.cancel(seated[1], by_staff=False)
    late = await w.book("s3")  # takes the freed seat, booked after everyone
    queue = sorted(waiting, key=lambda r: w.store.rows[r.reservation_id].waitlist_ticket or 0)
    expected = [seated[0].reservation_id, seated[2].reservation_id, late.reservation_id]
    expected += [r.reservation_id for r in queue] + [cancelled.reservation_id]

    listed: list[tuple[str, int]] = []
    position: RosterPosition | None = None
    pages = 0
    while True:
        page, position = await w.svc.roster(CLASS, 2, position)
        pages += 1
        listed += [(r.reservation_id, place) for r, place in page]
        if position is None:
            break
        # Each position survives the token it travels in.
        position = domain.roster_position(domain.roster_token(CLASS, position), CLASS)
    assert [rid for rid, _ in listed] == expected
    assert [place for _, place in listed] == [0, 0, 0, 1, 2, 3, 0]
    assert pages == 4
    whole, end = await w.svc.roster(CLASS, 100, None)
    assert [r.reservation_id for r, _ in whole] == expected and end is None


async def test_a_moved_class_moves_its_reservations_newer_versions_only() -> None:
    w = World()
    r = await w.book("alice")
    later = START + timedelta(days=1)
    moved = replace(INFO, start_time=later, end_time=later + timedelta(hours=1), version=5)
    assert w.run(lambda uow: service.class_described(uow, CLASS, moved, w.clock.now)) == 1
    stale = replace(INFO, title="Old", version=4)
    assert w.run(lambda uow: service.class_described(uow, CLASS, stale, w.clock.now)) == 0
    assert w.run(lambda uow: service.class_described(uow, CLASS, moved, w.clock.now)) == 0
    current = w.store.rows[r.reservation_id]
    assert current.class_info == moved
    assert current.version == r.version + 1
    # The check-in window, the sweep and the cancel rule follow the moved class.
    w.clock.now = START + timedelta(minutes=5)
    with pytest.raises(ServiceError) as err:
        await w.svc.check_in(r.reservation_id)
    assert refusal(err) == (Code.FAILED_PRECONDITION, "CHECK_IN_NOT_OPEN")
    w.clock.now = END + timedelta(hours=2)
    assert await w.svc.sweep_no_shows() == 0
    assert (await w.svc.cancel(current, by_staff=False)).status is Status.CANCELLED
