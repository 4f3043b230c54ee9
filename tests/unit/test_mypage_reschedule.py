"""Issue 15 in the my-page read model's rules: a reservation told that its class moved shows the
new times whichever of its event and the class's own ClassUpdated comes first, and an entry's
start reads in the class's zone ("Mon 2 Mar 07:00 KST"; UTC when the zone is unknown)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mypage_svc import messages
from mypage_svc.domain import (
    ClassInfo,
    ClassView,
    Move,
    PageEntry,
    Reason,
    ReservationView,
    Status,
    shown_class,
)
from yoga.reservation.v1 import events_pb2
from yoga_common.timestamps import to_timestamp

START = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)  # Mon 2 Mar 07:00 in Seoul
HOUR = timedelta(hours=1)
LATER = START + 2 * HOUR


def view(start: datetime = LATER) -> ReservationView:
    return ReservationView(
        reservation_id="r-1",
        class_id="c-1",
        user_id="11",
        status=Status.CONFIRMED,
        reason=Reason.NONE,
        class_info=ClassInfo("Morning Flow", start, start + HOUR),
        update_time=START - HOUR,
        version=3,
        class_time_zone="Asia/Seoul",
    )


def known(start: datetime, title: str = "Morning Flow") -> ClassView:
    return ClassView("c-1", title, start, start + HOUR, False, 2)


FROM_START = Move(START, START + HOUR)


def test_the_move_shows_before_the_class_event_arrives() -> None:
    # The class as last told still sits where the move left it: the new times show, under
    # the class's title as its own events tell it.
    shown = shown_class(view(), known(START, "Renamed"), FROM_START)
    assert shown == ClassInfo("Renamed", LATER, LATER + HOUR)


def test_the_class_event_that_came_first_agrees() -> None:
    assert shown_class(view(), known(LATER), FROM_START) == ClassInfo(
        "Morning Flow", LATER, LATER + HOUR
    )


def test_a_class_moved_on_again_is_shown_as_its_own_events_tell_it() -> None:
    # A late move (START -> LATER) after the class's own events moved it on to a third time.
    third = LATER + 5 * HOUR
    assert shown_class(view(), known(third), FROM_START).start_time == third


def test_other_reservation_events_keep_showing_the_class_as_its_events_tell_it() -> None:
    assert shown_class(view(), known(START)).start_time == START
    assert shown_class(view(), None, FROM_START).start_time == LATER


def test_the_previous_times_of_the_event_are_read() -> None:
    e = events_pb2.ReservationRescheduled(
        previous_start_time=to_timestamp(START), previous_end_time=to_timestamp(START + HOUR)
    )
    assert messages.moved_from(e) == FROM_START
    assert messages.moved_from(events_pb2.ReservationRescheduled()) == Move(None, None)


def entry(zone: str, start: datetime | None = START) -> PageEntry:
    return PageEntry(
        reservation_id="r-1",
        class_id="c-1",
        class_info=ClassInfo("Morning Flow", start, start + HOUR if start else None),
        status=Status.CONFIRMED,
        reason=Reason.NONE,
        update_time=START,
        class_time_zone=zone,
    )


@pytest.mark.parametrize(
    ("zone", "label"),
    [
        ("Asia/Seoul", "Mon 2 Mar 07:00 KST"),
        ("Europe/Berlin", "Sun 1 Mar 23:00 CET"),
        ("", "Sun 1 Mar 22:00 UTC"),
        ("Not/A_Zone", "Sun 1 Mar 22:00 UTC"),
    ],
)
def test_the_start_reads_in_the_class_zone(zone: str, label: str) -> None:
    message = messages.to_proto(entry(zone))
    assert message.class_start_local == label
    assert message.class_start_time == to_timestamp(START)


def test_no_start_no_label() -> None:
    assert messages.to_proto(entry("Asia/Seoul", None)).class_start_local == ""
