"""Rules of the my-page read model (mypage_svc.domain) and the event conversions around them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mypage_svc import messages
from mypage_svc.domain import (
    ClassInfo,
    ClassView,
    PageEntry,
    PagePosition,
    Phase,
    Reason,
    ReservationView,
    Status,
    first_position,
    next_phase,
    page_entry,
    page_order,
    page_owner,
    page_token,
    phase_of,
    position_after,
    position_of,
    shown_class,
    supersedes,
    with_class,
)
from mypage_svc.service import MyPageService, apply_class, apply_reservation
from tests.fakes.mypage import FakeMyPageStore
from tests.fakes.uow import FakeTransactions
from yoga.reservation.v1 import reservation_pb2 as rpb
from yoga.yogaclass.v1 import yogaclass_pb2 as ypb
from yoga_common import pagination
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


def test_the_read_model_keeps_a_reservation_with_its_class_as_shown() -> None:
    moved = a_class("Sunrise Flow")
    kept = with_class(a_reservation(), moved)
    assert kept.class_info == shown_class(a_reservation(), moved)
    assert kept.class_info.start_time == moved.start_time
    assert with_class(a_reservation(), None) == a_reservation()


# --- the order of a page, page by page -------------------------------------------------------


def _entry(reservation_id: str, start: datetime | None, updated: datetime = NOW) -> PageEntry:
    return PageEntry(
        reservation_id, "c", ClassInfo("t", start, None), Status.CONFIRMED, Reason.NONE, updated
    )


def test_upcoming_classes_come_first_soonest_first_then_past_ones_most_recent_first() -> None:
    entries = [
        _entry("past-old", NOW - timedelta(days=30)),
        _entry("soon", NOW + timedelta(hours=1)),
        _entry("undated", None),
        _entry("past-recent", NOW - timedelta(hours=1)),
        _entry("later", NOW + timedelta(days=3)),
        _entry("starting-now", NOW),  # starts at the listing's now: still upcoming
    ]
    ordered = page_order(entries, NOW)
    assert [e.reservation_id for e in ordered] == [
        "starting-now",
        "soon",
        "later",
        "past-recent",
        "past-old",
        "undated",
    ]


def test_entries_of_one_class_time_follow_their_reservation_ids() -> None:
    up, past = NOW + timedelta(days=1), NOW - timedelta(days=1)
    entries = [_entry(i, up) for i in "bca"] + [_entry(i, past) for i in "yxz"]
    entries += [_entry(i, None) for i in "nmo"]
    ordered = [e.reservation_id for e in page_order(entries, NOW)]
    # Upcoming ascending, past and undated descending: each the index order of its part.
    assert ordered == ["a", "b", "c", "z", "y", "x", "o", "n", "m"]


def test_the_parts_of_a_page_follow_one_another() -> None:
    assert phase_of(NOW, NOW) is Phase.UPCOMING
    assert phase_of(NOW - timedelta(microseconds=1), NOW) is Phase.PAST
    assert phase_of(None, NOW) is Phase.UNDATED
    at: PagePosition | None = first_position(NOW)
    phases = []
    while at is not None:
        assert (at.now, at.after) == (NOW, None)
        phases.append(at.phase)
        at = next_phase(at)
    assert phases == [Phase.UPCOMING, Phase.PAST, Phase.UNDATED]


@pytest.mark.parametrize(
    ("start", "phase"),
    [
        (NOW + timedelta(days=2), Phase.UPCOMING),
        (NOW, Phase.UPCOMING),
        (NOW - timedelta(days=2), Phase.PAST),
        (None, Phase.UNDATED),
    ],
)
def test_a_page_token_names_the_listings_now_its_part_and_the_last_entry(
    start: datetime | None, phase: Phase
) -> None:
    position = position_after(_entry("r-9", start), NOW)
    assert position == PagePosition(NOW, phase, (start, "r-9"))
    token = page_token(position)
    assert position_of(token) == position
    assert position_of("") is None


def _bad_token(position: list[object]) -> str:
    return pagination.encode(position)


NOW_TEXT = NOW.isoformat()
LATER_TEXT = (NOW + timedelta(days=1)).isoformat()
EARLIER_TEXT = (NOW - timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    "token",
    [
        "not base64 at all!",
        pagination.encode_after(NOW, "r-1"),  # another list's token
        _bad_token({"phase": "upcoming"}),  # type: ignore[arg-type]
        _bad_token(["upcoming", NOW_TEXT, LATER_TEXT]),
        _bad_token(["soon", NOW_TEXT, LATER_TEXT, "r-1"]),
        _bad_token(["upcoming", "yesterday", LATER_TEXT, "r-1"]),
        _bad_token(["upcoming", NOW_TEXT.removesuffix("+00:00"), LATER_TEXT, "r-1"]),
        _bad_token(["upcoming", NOW_TEXT, EARLIER_TEXT, "r-1"]),  # a past class, upcoming
        _bad_token(["past", NOW_TEXT, LATER_TEXT, "r-1"]),
        _bad_token(["past", NOW_TEXT, None, "r-1"]),
        _bad_token(["undated", NOW_TEXT, EARLIER_TEXT, "r-1"]),
        _bad_token(["upcoming", NOW_TEXT, LATER_TEXT, ""]),
        _bad_token(["upcoming", NOW_TEXT, LATER_TEXT, 7]),
        _bad_token(["upcoming", 5, LATER_TEXT, "r-1"]),
        _bad_token(["past", NOW_TEXT, "0001-01-01T00:00:00+14:00", "r-1"]),
    ],
)
def test_a_token_this_service_did_not_issue_is_invalid_argument(token: str) -> None:
    with pytest.raises(ServiceError) as caught:
        position_of(token)
    assert caught.value.code is Code.INVALID_ARGUMENT
    assert [v.field for v in caught.value.violations] == ["page_token"]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=6,
)
_TIMES = st.datetimes(timezones=st.timezones()).map(lambda t: t.isoformat())
_PARTS = st.sampled_from([*Phase, "soon", ""])


@settings(max_examples=300, deadline=None)
@given(
    position=st.one_of(
        st.lists(_JSON, max_size=5),
        st.tuples(_PARTS, _TIMES | _JSON, _TIMES | st.none() | _JSON, st.text(max_size=5) | _JSON),
    )
)
def test_any_token_is_a_position_or_invalid_argument(position: object) -> None:
    token = pagination.encode(list(position))  # type: ignore[call-overload]
    try:
        found = position_of(token)
    except ServiceError as err:
        assert err.code is Code.INVALID_ARGUMENT
        assert [v.field for v in err.violations] == ["page_token"]
        return
    assert found is not None and found.after is not None
    assert phase_of(found.after[0], found.now) is found.phase
    assert position_of(page_token(found)) == found


def _member_with_history(store: FakeMyPageStore, count: int) -> list[PageEntry]:
    entries = []
    for i in range(count):
        start = None if i % 11 == 0 else NOW + timedelta(hours=(i * 7) % 50 - 25)
        entries.append(_entry(f"r-{i:03d}", start))
        store.add("11", entries[-1])
        store.add("12", _entry(f"other-{i:03d}", start))  # another member's: never listed
    return entries


async def _every_page(
    service: MyPageService, size: int
) -> tuple[list[list[PageEntry]], list[PagePosition | None]]:
    pages, positions = [], []
    at: PagePosition | None = None
    while True:
        page, at = await service.page("11", size, at)
        pages.append(page)
        positions.append(at)
        if at is None:
            return pages, positions


@pytest.mark.parametrize("size", [1, 3, 7, 20, 100])
async def test_paging_lists_every_entry_once_in_the_pages_order(size: int) -> None:
    store = FakeMyPageStore()
    entries = _member_with_history(store, 60)
    service = MyPageService(FakeTransactions(store), lambda: NOW)
    pages, positions = await _every_page(service, size)
    listed = [e for page in pages for e in page]
    assert listed == page_order(entries, NOW)
    assert all(len(page) == size for page in pages[:-1])
    assert 0 < len(pages[-1]) <= size
    # A page ends where a full page ends, whatever part it is in; the last has no next.
    assert positions[-1] is None
    assert all(p is not None and p.now == NOW for p in positions[:-1])


async def test_the_listings_now_holds_while_time_passes() -> None:
    store = FakeMyPageStore()
    entries = _member_with_history(store, 40)
    clock = [NOW]
    service = MyPageService(FakeTransactions(store), lambda: clock[0])
    listed: list[PageEntry] = []
    at: PagePosition | None = None
    while True:
        page, at = await service.page("11", 4, at)
        listed += page
        clock[0] += timedelta(hours=3)  # classes start between two pages
        if at is None:
            break
    assert listed == page_order(entries, NOW)
    # A new listing splits at the new now.
    fresh, _ = await service.page("11", 100, None)
    assert fresh == page_order(entries, clock[0])


async def test_an_empty_page_has_no_next_page() -> None:
    service = MyPageService(FakeTransactions(FakeMyPageStore()), lambda: NOW)
    assert await service.page("11", 20, None) == ([], None)


class _RecordingStore(FakeMyPageStore):
    def __init__(self) -> None:
        super().__init__()
        self.classes: dict[str, ClassView] = {}
        self.saved: list[ReservationView] = []
        self.shown: list[tuple[str, ClassInfo]] = []
        self.locked: list[str] = []

    def lock_class(self, class_id: str) -> None:
        self.locked.append(class_id)

    def get_class(self, class_id: str) -> ClassView | None:
        return self.classes.get(class_id)

    def save_reservation(self, r: ReservationView) -> bool:
        self.saved.append(r)
        return True

    def save_class(self, c: ClassView) -> bool:
        held = self.classes.get(c.class_id)
        if not supersedes(c.version, held.version if held else None):
            return False
        self.classes[c.class_id] = c
        return True

    def show_class(self, class_id: str, info: ClassInfo) -> None:
        self.shown.append((class_id, info))


def test_a_reservation_is_kept_with_its_class_as_last_told() -> None:
    store = _RecordingStore()
    tx = FakeTransactions(store)
    tx.run_sync(lambda uow: apply_reservation(uow, a_reservation("r-1"), "e-1"))
    moved = a_class("Sunrise Flow")
    assert tx.run_sync(lambda uow: apply_class(uow, moved, "e-2"))
    assert store.shown == [("c-1", ClassInfo("Sunrise Flow", moved.start_time, moved.end_time))]
    tx.run_sync(lambda uow: apply_reservation(uow, a_reservation("r-2"), "e-3"))
    assert [r.class_info for r in store.saved] == [SNAPSHOT, store.shown[0][1]]
    # An older class event shows nothing.
    older = ClassView("c-1", "Old", START, START + timedelta(hours=1), False, 1)
    assert not tx.run_sync(lambda uow: apply_class(uow, older, "e-4"))
    assert len(store.shown) == 1
    assert store.locked == ["c-1"] * 4


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
