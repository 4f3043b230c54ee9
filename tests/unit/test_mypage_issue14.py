"""Issue 14 in the my-page read model's rules: the new statuses and reasons, what an entry shows
(promoted, check-in time, the class's zone) and a waiting reservation's place, counted at read
time so it moves up as people ahead leave."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from mypage_svc import messages
from mypage_svc.domain import (
    ClassInfo,
    PageEntry,
    Reason,
    ReservationView,
    Status,
    page_entry,
    waitlist_position,
    waits,
    with_position,
)
from mypage_svc.service import MyPageService
from tests.fakes.mypage import FakeMyPageStore
from tests.fakes.uow import FakeTransactions
from yoga.reservation.v1 import reservation_pb2 as rpb
from yoga_common.consumer import InvalidEvent
from yoga_common.timestamps import to_timestamp

NOW = datetime(2030, 5, 1, 9, 0, tzinfo=UTC)
START = NOW + timedelta(days=1)
INFO = ClassInfo("Morning Flow", START, START + timedelta(hours=1))


def an_entry(
    reservation_id: str,
    status: Status = Status.WAITLISTED,
    ticket: int | None = None,
    class_id: str = "c-1",
) -> PageEntry:
    return PageEntry(
        reservation_id=reservation_id,
        class_id=class_id,
        class_info=INFO,
        status=status,
        reason=Reason.NONE,
        update_time=NOW,
        waitlist_ticket=ticket,
    )


def a_message(**fields: object) -> rpb.Reservation:
    r = rpb.Reservation(
        reservation_id="r-1",
        class_id="c-1",
        user_id="11",
        status=rpb.RESERVATION_STATUS_CONFIRMED,
        class_title="Morning Flow",
        class_start_time=to_timestamp(START),
        update_time=to_timestamp(NOW),
        version=2,
    )
    for name, value in fields.items():
        if name == "check_in_time":
            r.check_in_time.CopyFrom(value)  # type: ignore[arg-type]
        else:
            setattr(r, name, value)
    return r


# --- statuses and reasons --------------------------------------------------------------------


def test_every_status_and_reason_of_the_proto_is_known() -> None:
    assert set(messages.STATUS.values()) == set(rpb.ReservationStatus.values()) - {0}
    assert set(messages.REASON.values()) == set(rpb.ReservationReason.values())
    for status, value in messages.STATUS.items():
        assert rpb.ReservationStatus.Name(value) == f"RESERVATION_STATUS_{status.value}"


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (rpb.RESERVATION_STATUS_EXPIRED, rpb.RESERVATION_REASON_WAITLIST_CLOSED),
        (rpb.RESERVATION_STATUS_REJECTED, rpb.RESERVATION_REASON_WAITLIST_OVERLAPPING_BOOKING),
        (rpb.RESERVATION_STATUS_REJECTED, rpb.RESERVATION_REASON_WAITLIST_BOOKING_LIMIT),
        (rpb.RESERVATION_STATUS_REJECTED, rpb.RESERVATION_REASON_WAITLIST_BLOCKED),
        (rpb.RESERVATION_STATUS_REJECTED, rpb.RESERVATION_REASON_BOOKING_LIMIT),
        (rpb.RESERVATION_STATUS_REJECTED, rpb.RESERVATION_REASON_BLOCKED),
        (rpb.RESERVATION_STATUS_CANCELLED, rpb.RESERVATION_REASON_LATE_CANCELLED),
        (rpb.RESERVATION_STATUS_NO_SHOW, rpb.RESERVATION_REASON_UNSPECIFIED),
    ],
)
def test_new_statuses_and_reasons_round_trip(
    status: rpb.ReservationStatus, reason: rpb.ReservationReason
) -> None:
    view = messages.reservation_view(a_message(status=status, reason=reason))
    proto = messages.to_proto(page_entry(view))
    assert (proto.status, proto.reason) == (status, reason)


def test_an_entry_shows_promoted_check_in_and_the_class_zone() -> None:
    checked = START - timedelta(minutes=8)
    view = messages.reservation_view(
        a_message(
            status=rpb.RESERVATION_STATUS_ATTENDED,
            promoted=True,
            waitlist_ticket=4,
            class_time_zone="Asia/Seoul",
            check_in_time=to_timestamp(checked),
        )
    )
    assert (view.promoted, view.check_in_time, view.class_time_zone, view.waitlist_ticket) == (
        True,
        checked,
        "Asia/Seoul",
        4,
    )
    proto = messages.to_proto(page_entry(view))
    assert proto.status == rpb.RESERVATION_STATUS_ATTENDED
    assert proto.promoted is True
    assert proto.check_in_time == to_timestamp(checked)
    assert proto.class_time_zone == "Asia/Seoul"
    assert proto.waitlist_position == 0  # not waiting: no place


def test_without_the_new_fields_an_entry_shows_none() -> None:
    view = messages.reservation_view(a_message())
    assert (view.promoted, view.check_in_time, view.class_time_zone, view.waitlist_ticket) == (
        False,
        None,
        "",
        None,
    )
    proto = messages.to_proto(page_entry(view))
    assert not proto.HasField("check_in_time")
    assert (proto.promoted, proto.class_time_zone, proto.waitlist_position) == (False, "", 0)


def test_a_waiting_reservation_without_a_ticket_is_invalid() -> None:
    with pytest.raises(InvalidEvent, match="waitlist_ticket"):
        messages.reservation_view(a_message(status=rpb.RESERVATION_STATUS_WAITLISTED))
    view = messages.reservation_view(
        a_message(status=rpb.RESERVATION_STATUS_WAITLISTED, waitlist_ticket=3, waitlist_position=9)
    )
    assert (view.status, view.waitlist_ticket) == (Status.WAITLISTED, 3)


# --- the place in the queue ------------------------------------------------------------------


def test_the_place_is_one_more_than_those_ahead() -> None:
    assert [waitlist_position(n) for n in (0, 1, 5)] == [1, 2, 6]
    assert waitlist_position(-1) == 1
    assert with_position(an_entry("r-1", ticket=7), 2).waitlist_position == 3


def test_only_waiting_entries_with_a_ticket_have_a_place() -> None:
    assert waits(an_entry("r-1", ticket=7))
    assert not waits(an_entry("r-1", ticket=None))
    for status in (Status.CONFIRMED, Status.CANCELLED, Status.EXPIRED, Status.REJECTED):
        assert not waits(an_entry("r-1", status, ticket=7))


async def test_the_page_counts_each_place_and_it_moves_up_as_people_ahead_leave() -> None:
    store = FakeMyPageStore()
    # Class c-1's queue: tickets 3 (another member), 5 (member 11), 8 (another), 9 (member 11
    # in another class with its own queue); a confirmed one with an old ticket never counts.
    store.add("12", an_entry("r-a", ticket=3))
    store.add("11", an_entry("r-mine", ticket=5))
    store.add("13", an_entry("r-b", ticket=8))
    store.add("14", an_entry("r-seated", Status.CONFIRMED, ticket=1))
    store.add("11", replace(an_entry("r-other", ticket=9, class_id="c-2"), reservation_id="r-z"))
    service = MyPageService(FakeTransactions(store), lambda: NOW)  # type: ignore[arg-type]

    async def places() -> dict[str, int]:
        page, _ = await service.page("11", 10, None)
        return {e.reservation_id: e.waitlist_position for e in page}

    assert await places() == {"r-mine": 2, "r-z": 1}
    # The member ahead is promoted (CONFIRMED now): member 11 is next.
    _, ahead = store.entries["r-a"]
    store.add("12", replace(ahead, status=Status.CONFIRMED))
    assert await places() == {"r-mine": 1, "r-z": 1}
    # Member 11 is promoted too: no place any more.
    _, mine = store.entries["r-mine"]
    store.add("11", replace(mine, status=Status.CONFIRMED, promoted=True))
    assert await places() == {"r-mine": 0, "r-z": 1}


def test_a_reservation_view_keeps_its_ticket_through_with_class() -> None:
    view = ReservationView(
        "r-1", "c-1", "11", Status.WAITLISTED, Reason.NONE, INFO, NOW, 2, waitlist_ticket=4
    )
    assert page_entry(view).waitlist_ticket == 4
