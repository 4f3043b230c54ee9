"""Rules of a reservation (reservation_svc.domain): states, seat answers and who may do what."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from reservation_svc import messages
from reservation_svc.domain import (
    ACTIVE,
    TRANSITIONS,
    ClassInfo,
    Reason,
    Reservation,
    SeatAnswer,
    Status,
    booking_user,
    change,
    check_owner,
    new_reservation,
    outcome,
    transition,
    visible_user,
)
from yoga_common.auth import ADMIN, MEMBER, SERVICE, Principal
from yoga_common.errors import Code, ServiceError
from yogaclass_svc.domain import SeatResult

NOW = datetime(2030, 5, 1, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(seconds=30)
INFO = ClassInfo("Morning Flow", NOW + timedelta(days=1), NOW + timedelta(days=1, hours=1))

ALLOWED = {
    (Status.PENDING, Status.CONFIRMED),
    (Status.PENDING, Status.REJECTED),
    (Status.PENDING, Status.CANCELLED),
    (Status.PENDING, Status.WAITLISTED),
    (Status.PENDING, Status.EXPIRED),
    (Status.WAITLISTED, Status.CONFIRMED),
    (Status.WAITLISTED, Status.REJECTED),
    (Status.WAITLISTED, Status.CANCELLED),
    (Status.WAITLISTED, Status.EXPIRED),
    (Status.CONFIRMED, Status.CANCELLED),
    (Status.CONFIRMED, Status.ATTENDED),
    (Status.CONFIRMED, Status.NO_SHOW),
}
ALL_PAIRS = list(itertools.product(Status, Status))

ALICE = Principal("alice", MEMBER, "alice@example.com")
BOB = Principal("bob", MEMBER)
STAFF = Principal("staff-1", ADMIN)
ROBOT = Principal("reservation-svc", SERVICE)


def reservation(status: Status = Status.PENDING, **kw: object) -> Reservation:
    r = new_reservation("c-1", "alice", "alice@example.com", "req-1", "hash-1", NOW)
    return replace(r, status=status, **kw)  # type: ignore[arg-type]


def test_new_reservation_is_pending_version_one() -> None:
    a = new_reservation("c-1", "alice", "a@x", "req-1", "h", NOW)
    b = new_reservation("c-1", "alice", "a@x", "req-1", "h", NOW)
    assert a.status is Status.PENDING
    assert a.reason is Reason.NONE
    assert a.version == 1
    assert a.create_time == a.update_time == NOW
    assert a.release_pending is False
    assert a.class_info is None
    assert a.active
    assert a.reservation_id != b.reservation_id  # each gets its own id


def test_transition_table_is_exactly_the_documented_one() -> None:
    table = {(src, dst) for src, targets in TRANSITIONS.items() for dst in targets}
    assert table == ALLOWED
    assert set(TRANSITIONS) == set(Status)
    assert frozenset({Status.PENDING, Status.CONFIRMED, Status.WAITLISTED}) == ACTIVE


@pytest.mark.parametrize(("src", "dst"), sorted(ALLOWED), ids=lambda s: s.value)
def test_allowed_transition(src: Status, dst: Status) -> None:
    reason = {
        Status.CONFIRMED: Reason.NONE,
        Status.REJECTED: Reason.CLASS_FULL,
        Status.CANCELLED: Reason.CANCELLED_BY_USER,
        Status.WAITLISTED: Reason.NONE,
        Status.EXPIRED: Reason.WAITLIST_CLOSED,
        Status.ATTENDED: Reason.NONE,
        Status.NO_SHOW: Reason.NONE,
    }[dst]
    before = reservation(src, version=4)
    after = transition(before, dst, reason, LATER, INFO)
    assert after.status is dst
    assert after.reason is reason
    assert after.version == 5
    assert after.update_time == LATER
    assert after.create_time == NOW
    assert after.class_info == INFO
    assert (after.reservation_id, after.user_id, after.request_id) == (
        before.reservation_id,
        before.user_id,
        before.request_id,
    )
    assert before.status is src and before.version == 4  # a value: unchanged


@pytest.mark.parametrize(
    ("src", "dst"),
    [p for p in ALL_PAIRS if p not in ALLOWED],
    ids=lambda s: s.value,
)
def test_refused_transition(src: Status, dst: Status) -> None:
    before = reservation(src)
    with pytest.raises(ServiceError) as caught:
        transition(before, dst, Reason.NONE, LATER)
    err = caught.value
    assert err.code is Code.FAILED_PRECONDITION
    assert err.reason == "INVALID_TRANSITION"
    assert err.metadata == {"reservation_id": before.reservation_id}
    assert src.value in err.message and dst.value in err.message


def test_every_pair_is_classified() -> None:
    refused = 0
    for src, dst in ALL_PAIRS:
        try:
            transition(reservation(src), dst, Reason.NONE, LATER)
        except ServiceError:
            refused += 1
    assert refused == len(ALL_PAIRS) - len(ALLOWED) == 52


@pytest.mark.parametrize("src", [Status.PENDING, Status.CONFIRMED])
def test_cancelling_sets_release_pending(src: Status) -> None:
    before = reservation(src)
    assert before.release_pending is False
    after = transition(before, Status.CANCELLED, Reason.CANCELLED_BY_STUDIO, LATER)
    assert after.release_pending is True
    assert not after.active


@pytest.mark.parametrize("dst", [Status.CONFIRMED, Status.REJECTED])
def test_settling_does_not_set_release_pending(dst: Status) -> None:
    after = transition(reservation(), dst, Reason.NONE, LATER)
    assert after.release_pending is False


def test_release_pending_is_never_cleared_by_a_transition() -> None:
    before = reservation(Status.PENDING, release_pending=True)
    assert transition(before, Status.CONFIRMED, Reason.NONE, LATER).release_pending is True


def test_transition_keeps_class_info_when_none_given() -> None:
    before = reservation(Status.CONFIRMED, class_info=INFO)
    after = transition(before, Status.CANCELLED, Reason.CANCELLED_BY_USER, LATER)
    assert after.class_info == INFO


def test_transition_replaces_class_info_when_given() -> None:
    newer = ClassInfo("Renamed", INFO.start_time, INFO.end_time)
    before = reservation(Status.PENDING, class_info=INFO)
    assert transition(before, Status.CONFIRMED, Reason.NONE, LATER, newer).class_info == newer


# --- outcome ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (SeatAnswer.RESERVED, (Status.CONFIRMED, Reason.NONE)),
        (SeatAnswer.CLASS_FULL, (Status.REJECTED, Reason.CLASS_FULL)),
        (SeatAnswer.CLASS_NOT_FOUND, (Status.REJECTED, Reason.CLASS_NOT_FOUND)),
        (SeatAnswer.CLASS_CANCELLED, (Status.REJECTED, Reason.CLASS_CANCELLED)),
        (SeatAnswer.CLASS_STARTED, (Status.REJECTED, Reason.CLASS_STARTED)),
        (SeatAnswer.RELEASED, None),
    ],
)
def test_outcome(answer: SeatAnswer, expected: tuple[Status, Reason] | None) -> None:
    assert outcome(answer) == expected


@pytest.mark.parametrize("answer", list(SeatAnswer))
def test_every_outcome_is_a_legal_transition_from_pending(answer: SeatAnswer) -> None:
    end = outcome(answer)
    if end is None:
        return
    status, reason = end
    assert transition(reservation(), status, reason, LATER).status is status


def test_seat_answers_match_what_yogaclass_can_answer() -> None:
    # Two services, two enums: they must name the same answers.
    assert {a.value for a in SeatAnswer} == {r.value for r in SeatResult}


def test_every_status_and_reason_has_a_proto_value() -> None:
    assert set(messages.STATUS) == set(Status)
    assert set(messages.REASON) == set(Reason)
    assert len(set(messages.STATUS.values())) == len(Status)
    assert len(set(messages.REASON.values())) == len(Reason)


# --- permissions --------------------------------------------------------------------------


def assert_denied(call: object) -> None:
    assert isinstance(call, ServiceError), call
    assert call.code is Code.PERMISSION_DENIED
    assert call.reason == "PERMISSION_DENIED"


@pytest.mark.parametrize(
    ("principal", "requested", "expected"),
    [
        (ALICE, "", "alice"),
        (ALICE, "alice", "alice"),
        (STAFF, "", "staff-1"),
        (STAFF, "staff-1", "staff-1"),
        (STAFF, "alice", "alice"),
        (ROBOT, "", "reservation-svc"),
    ],
)
def test_booking_user_allowed(principal: Principal, requested: str, expected: str) -> None:
    assert booking_user(principal, requested) == expected


@pytest.mark.parametrize(("principal", "requested"), [(ALICE, "bob"), (BOB, "alice"), (ROBOT, "x")])
def test_booking_for_someone_else_needs_staff(principal: Principal, requested: str) -> None:
    with pytest.raises(ServiceError) as caught:
        booking_user(principal, requested)
    assert_denied(caught.value)


@pytest.mark.parametrize(
    ("principal", "owner"), [(ALICE, "alice"), (STAFF, "alice"), (STAFF, "staff-1")]
)
def test_check_owner_allowed(principal: Principal, owner: str) -> None:
    check_owner(principal, owner)  # does not raise


@pytest.mark.parametrize(
    ("principal", "owner"), [(ALICE, "bob"), (BOB, "alice"), (ALICE, ""), (ROBOT, "alice")]
)
def test_check_owner_refused(principal: Principal, owner: str) -> None:
    with pytest.raises(ServiceError) as caught:
        check_owner(principal, owner)
    assert_denied(caught.value)


@pytest.mark.parametrize(
    ("principal", "requested", "expected"),
    [
        (STAFF, "", ""),  # everyone
        (STAFF, "alice", "alice"),
        (ALICE, "", "alice"),  # a member never sees "everyone"
        (ALICE, "alice", "alice"),
    ],
)
def test_visible_user_allowed(principal: Principal, requested: str, expected: str) -> None:
    assert visible_user(principal, requested) == expected


@pytest.mark.parametrize(("principal", "requested"), [(ALICE, "bob"), (ROBOT, "alice")])
def test_visible_user_refused(principal: Principal, requested: str) -> None:
    with pytest.raises(ServiceError) as caught:
        visible_user(principal, requested)
    assert_denied(caught.value)


def test_the_class_zone_goes_from_the_seat_answer_to_the_reservation_event() -> None:
    from yoga.yogaclass.v1 import yogaclass_pb2

    answer = yogaclass_pb2.ReserveSeatResponse(
        result=yogaclass_pb2.SEAT_RESULT_RESERVED,
        yoga_class=yogaclass_pb2.YogaClass(title="Flow", time_zone="Asia/Seoul"),
    )
    info = messages.seat_answer(answer).class_info
    assert info is not None and info.time_zone == "Asia/Seoul"
    now = datetime(2030, 1, 1, tzinfo=UTC)
    r = new_reservation("c-1", "11", "", "req", "h", now)
    _, event = change(r, Status.CONFIRMED, Reason.NONE, now, info)
    key, message = messages.event(event)
    assert (key, message.reservation.class_time_zone) == (r.reservation_id, "Asia/Seoul")
