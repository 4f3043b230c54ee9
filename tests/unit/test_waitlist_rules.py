"""The waitlist's rules (yogaclass_svc/waitlist.py): first in, first out; eligibility asked
at promotion time; positions that stay right as people ahead leave; the cutoff."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yoga_common.errors import Code, ServiceError
from yogaclass_svc.domain import ClassDetails, ClassStatus, YogaClass, apply_changes
from yogaclass_svc.waitlist import MAX_WAITLIST, Skip, Waiting, closed, position, promote

START = datetime(2030, 3, 2, 7, 0, tzinfo=UTC)


def queue(*users: str) -> list[Waiting]:
    return [Waiting(f"r-{u}", u, ticket) for ticket, u in enumerate(users, start=1)]


def test_a_freed_seat_goes_to_the_head_of_the_queue() -> None:
    done = promote(list(reversed(queue("a", "b", "c"))), 1, lambda w: None)
    assert [w.user_id for w in done.promoted] == ["a"]
    assert done.skipped == ()


def test_the_ineligible_are_passed_over_with_their_reason_and_the_next_one_gets_the_seat() -> None:
    reasons = {"a": Skip.OVERLAPPING_BOOKING, "c": Skip.BLOCKED}
    done = promote(queue("a", "b", "c", "d"), 2, lambda w: reasons.get(w.user_id))
    assert [w.user_id for w in done.promoted] == ["b", "d"]
    assert [(w.user_id, why) for w, why in done.skipped] == [
        ("a", Skip.OVERLAPPING_BOOKING),
        ("c", Skip.BLOCKED),
    ]


def test_nobody_behind_the_last_promoted_is_asked() -> None:
    asked: list[str] = []

    def ineligible(w: Waiting) -> Skip | None:
        asked.append(w.user_id)
        return None

    promote(queue("a", "b", "c"), 1, ineligible)
    assert asked == ["a"]


def test_no_free_seat_promotes_nobody() -> None:
    assert promote(queue("a"), 0, lambda w: None).promoted == ()


@given(st.lists(st.integers(min_value=1, max_value=10_000), unique=True, min_size=1))
def test_positions_are_1_to_n_in_ticket_order(tickets: list[int]) -> None:
    ranks = sorted(position(t, tickets) for t in tickets)
    assert ranks == list(range(1, len(tickets) + 1))
    assert position(min(tickets), tickets) == 1


def test_a_position_moves_up_as_people_ahead_leave() -> None:
    assert position(7, [3, 5, 7, 9]) == 3
    assert position(7, [5, 7, 9]) == 2
    assert position(7, [7, 9]) == 1


def test_the_queue_closes_at_its_cutoff_before_the_start() -> None:
    cutoff = timedelta(hours=2)
    assert not closed(START, cutoff, START - cutoff - timedelta(seconds=1))
    assert closed(START, cutoff, START - cutoff)
    assert closed(START, cutoff, START + timedelta(minutes=5))


# --- the class's side: its waitlist capacity ------------------------------------------------


def a_class(waiting: int, waitlist_capacity: int = 20) -> YogaClass:
    details = ClassDetails("Vinyasa", "Jiwoo", START, START + timedelta(hours=1), "Asia/Seoul", 10)
    details = replace(details, waitlist_capacity=waitlist_capacity)
    return YogaClass("c-1", details, 10, ClassStatus.SCHEDULED, NOW, NOW, 1, waiting=waiting)


NOW = START - timedelta(days=3)


def test_a_waitlist_capacity_below_the_queue_is_refused_and_changes_nothing() -> None:
    current = a_class(waiting=5)
    with pytest.raises(ServiceError) as refused:
        apply_changes(current, {"waitlist_capacity": 4}, NOW)
    assert (refused.value.code, refused.value.reason) == (
        Code.FAILED_PRECONDITION,
        "WAITLIST_BELOW_QUEUE",
    )
    assert apply_changes(current, {"waitlist_capacity": 5}, NOW).details.waitlist_capacity == 5


@pytest.mark.parametrize("size", [-1, MAX_WAITLIST + 1])
def test_a_waitlist_capacity_out_of_bounds_is_invalid(size: int) -> None:
    with pytest.raises(ServiceError) as refused:
        apply_changes(a_class(waiting=0), {"waitlist_capacity": size}, NOW)
    assert [v.field for v in refused.value.violations] == ["yoga_class.waitlist_capacity"]
