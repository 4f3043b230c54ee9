"""Rules of the my-page read model (mypage_svc.domain) and the event conversions around them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mypage_svc import messages
from mypage_svc.domain import (
    ClassInfo,
    ClassView,
    PageEntry,
    Reason,
    ReservationView,
    Status,
    newest_class_first,
    page_entry,
    page_owner,
    supersedes,
)
from yoga.reservation.v1 import reservation_pb2 as rpb
from yoga.yogaclass.v1 import yogaclass_pb2 as ypb
from yoga_common.auth import ADMIN, MEMBER, SERVICE, Principal
from yoga_common.consumer import InvalidEvent
from yoga_common.errors import Code, ServiceError
from yoga_common.timestamps import to_timestamp

NOW = datetime(2030, 5, 1, 9, 0, tzinfo=UTC)
START = NOW + timedelta(days=1)
SNAPSHOT = ClassInfo("Morning Flow", START, START + timedelta(hours=1))


def a_reservation(
    reservation_id: str = "r-1", info: ClassInfo = SNAPSHOT, version: int = 2
) -> ReservationView:
    return ReservationView(
        reservation_id=reservation_id,
        class_id="c-1",
        user_id="11",
        status=Status.CONFIRMED,
        reason=Reason.NONE,
        class_info=info,
        update_time=NOW,
        version=version,
    )


def a_class(title: str = "Sunrise Flow", start: datetime = START + timedelta(hours=2)) -> ClassView:
    return ClassView("c-1", title, start, start + timedelta(hours=1), False, 3)


# --- who may read a page -------------------------------------------------------------------


def test_a_member_reads_their_own_page() -> None:
    assert page_owner(Principal("11", MEMBER), "11") == "11"


@pytest.mark.parametrize("role", [MEMBER, SERVICE])
def test_nobody_but_staff_reads_another_members_page(role: str) -> None:
    with pytest.raises(ServiceError) as caught:
        page_owner(Principal("12", role), "11")
    assert caught.value.code is Code.PERMISSION_DENIED
    assert caught.value.reason == "PERMISSION_DENIED"


def test_staff_read_anyones_page() -> None:
    assert page_owner(Principal("staff-1", ADMIN), "11") == "11"


# --- which version wins ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("incoming", "held", "wins"),
    [
        (1, None, True),  # nothing held yet
        (3, 2, True),  # newer
        (2, 2, False),  # the same fact again (a redelivery)
        (1, 2, False),  # older (a replay, or out of order)
    ],
)
def test_only_a_newer_version_supersedes(incoming: int, held: int | None, wins: bool) -> None:
    assert supersedes(incoming, held) is wins


def test_any_delivery_order_ends_on_the_highest_version() -> None:
    held: int | None = None
    for version in [3, 1, 5, 2, 5, 4]:
        if supersedes(version, held):
            held = version
    assert held == 5


# --- what an entry shows ---------------------------------------------------------------------


def test_an_entry_shows_the_reservations_snapshot_until_a_class_event_is_seen() -> None:
    entry = page_entry(a_reservation(), None)
    assert entry.class_info == SNAPSHOT
    assert (entry.reservation_id, entry.class_id, entry.status) == ("r-1", "c-1", Status.CONFIRMED)


def test_an_entry_shows_the_class_as_its_own_events_last_told_it() -> None:
    renamed = a_class("Sunrise Flow")
    entry = page_entry(a_reservation(), renamed)
    assert entry.class_info == ClassInfo("Sunrise Flow", renamed.start_time, renamed.end_time)


def test_an_entry_without_any_class_details_shows_what_is_known() -> None:
    unknown = ClassInfo("", None, None)  # rejected: the class was never found
    entry = page_entry(a_reservation(info=unknown), None)
    assert entry.class_info == unknown


def _entry(reservation_id: str, start: datetime | None, updated: datetime = NOW) -> PageEntry:
    return PageEntry(
        reservation_id, "c", ClassInfo("t", start, None), Status.CONFIRMED, Reason.NONE, updated
    )


def test_the_page_lists_the_newest_class_first_and_unknown_times_last() -> None:
    early = _entry("a", START)
    late = _entry("b", START + timedelta(days=2))
    unknown = _entry("c", None)
    same_start_newer = _entry("d", START, NOW + timedelta(minutes=5))
    ordered = newest_class_first([unknown, early, late, same_start_newer])
    assert [e.reservation_id for e in ordered] == ["b", "d", "a", "c"]


# --- events in, page out ---------------------------------------------------------------------


def _reservation_proto(**changes: object) -> rpb.Reservation:
    message = rpb.Reservation(
        reservation_id="r-1",
        class_id="c-1",
        user_id="11",
        status=rpb.RESERVATION_STATUS_CANCELLED,
        reason=rpb.RESERVATION_REASON_CANCELLED_BY_USER,
        class_title="Morning Flow",
        class_start_time=to_timestamp(START),
        class_end_time=to_timestamp(START + timedelta(hours=1)),
        update_time=to_timestamp(NOW),
        version=3,
    )
    for name, value in changes.items():
        if value is None:
            message.ClearField(name)
        else:
            setattr(message, name, value)
    return message


def test_a_reservation_event_becomes_a_view() -> None:
    view = messages.reservation_view(_reservation_proto())
    assert view == ReservationView(
        "r-1", "c-1", "11", Status.CANCELLED, Reason.CANCELLED_BY_USER, SNAPSHOT, NOW, 3
    )


def test_a_reservation_without_class_times_keeps_them_unknown() -> None:
    view = messages.reservation_view(
        _reservation_proto(class_title="", class_start_time=None, class_end_time=None)
    )
    assert view.class_info == ClassInfo("", None, None)


@pytest.mark.parametrize(
    "changes",
    [
        {"reservation_id": ""},
        {"class_id": ""},
        {"user_id": ""},
        {"version": 0},
        {"update_time": None},
        {"status": rpb.RESERVATION_STATUS_UNSPECIFIED},
        {"status": 99},  # a status from a newer producer: dead-lettered, replayed after upgrade
        {"reason": 99},
    ],
)
def test_a_reservation_event_lacking_what_the_page_needs_is_invalid(
    changes: dict[str, object],
) -> None:
    with pytest.raises(InvalidEvent):
        messages.reservation_view(_reservation_proto(**changes))


def test_a_class_event_becomes_a_view() -> None:
    start = START + timedelta(hours=2)
    proto = ypb.YogaClass(
        class_id="c-1",
        title="Sunrise Flow",
        start_time=to_timestamp(start),
        end_time=to_timestamp(start + timedelta(hours=1)),
        status=ypb.CLASS_STATUS_CANCELLED,
        version=3,
    )
    assert messages.class_view(proto) == ClassView(
        "c-1", "Sunrise Flow", start, start + timedelta(hours=1), True, 3
    )


@pytest.mark.parametrize("missing", ["class_id", "version", "start_time", "end_time"])
def test_a_class_event_lacking_what_the_page_needs_is_invalid(missing: str) -> None:
    proto = ypb.YogaClass(
        class_id="c-1",
        title="Flow",
        start_time=to_timestamp(START),
        end_time=to_timestamp(START + timedelta(hours=1)),
        version=1,
    )
    proto.ClearField(missing)
    with pytest.raises(InvalidEvent):
        messages.class_view(proto)


def test_an_entry_becomes_the_api_message() -> None:
    entry = page_entry(
        ReservationView(
            "r-1",
            "c-1",
            "11",
            Status.REJECTED,
            Reason.CLASS_FULL,
            ClassInfo("Flow", None, None),
            NOW,
            2,
        ),
        None,
    )
    proto = messages.to_proto(entry)
    assert proto.status == rpb.RESERVATION_STATUS_REJECTED
    assert proto.reason == rpb.RESERVATION_REASON_CLASS_FULL
    assert proto.class_title == "Flow"
    assert not proto.HasField("class_start_time")
    assert proto.update_time.ToDatetime(tzinfo=UTC) == NOW


def test_every_status_and_reason_has_a_wire_value() -> None:
    assert set(messages.STATUS) == set(Status)
    assert set(messages.REASON) == set(Reason)
