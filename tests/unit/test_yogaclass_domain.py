"""Rules of classes and seats (yogaclass_svc.domain): plain values, no fakes needed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yoga_common.errors import Code, FieldViolation, ServiceError
from yogaclass_svc.domain import (
    MAX_AHEAD,
    MAX_CAPACITY,
    MAX_LENGTH,
    MAX_TITLE,
    MUTABLE_FIELDS,
    ClassDetails,
    ClassStatus,
    SeatResult,
    YogaClass,
    apply_changes,
    seat_refusal,
    validate_details,
)

NOW = datetime(2030, 5, 1, 9, 0, tzinfo=UTC)
START = NOW + timedelta(days=2)


def details(**overrides: Any) -> ClassDetails:
    base = ClassDetails(
        title="Morning Flow",
        instructor="Asha",
        start_time=START,
        end_time=START + timedelta(hours=1),
        time_zone="Europe/Berlin",
        capacity=12,
    )
    return replace(base, **overrides)


def yoga_class(
    booked: int = 0, status: ClassStatus = ClassStatus.SCHEDULED, **overrides: Any
) -> YogaClass:
    created = NOW - timedelta(days=1)
    return YogaClass(
        class_id="c-1",
        details=details(**overrides),
        booked=booked,
        status=status,
        create_time=created,
        update_time=created,
        version=3,
    )


def violations_of(d: ClassDetails, now: datetime = NOW) -> list[FieldViolation]:
    with pytest.raises(ServiceError) as caught:
        validate_details(d, now)
    err = caught.value
    assert err.code is Code.INVALID_ARGUMENT
    assert err.reason == "INVALID_ARGUMENT"
    return err.violations


# --- validate_details ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"title": "t" * MAX_TITLE},
        {"instructor": "i" * MAX_TITLE},
        {"instructor": ""},
        {"capacity": 1},
        {"capacity": MAX_CAPACITY},
        {"time_zone": "UTC"},
        {"time_zone": "America/Argentina/Buenos_Aires"},
        {"start_time": NOW + timedelta(microseconds=1), "end_time": NOW + timedelta(hours=1)},
        {"end_time": START + MAX_LENGTH},
        {"end_time": START + timedelta(microseconds=1)},
    ],
)
def test_valid_details_pass(overrides: dict[str, Any]) -> None:
    validate_details(details(**overrides), NOW)  # does not raise


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"title": ""}, "yoga_class.title", "required"),
        ({"title": "   \u3000"}, "yoga_class.title", "required"),
        ({"title": "t" * (MAX_TITLE + 1)}, "yoga_class.title", f"at most {MAX_TITLE}"),
        ({"instructor": "i" * (MAX_TITLE + 1)}, "yoga_class.instructor", f"at most {MAX_TITLE}"),
        # PostgreSQL cannot store a NUL: refused here, not failed in the database.
        ({"title": "Flow\x00"}, "yoga_class.title", "control characters"),
        ({"instructor": "Mi\nna"}, "yoga_class.instructor", "control characters"),
        ({"capacity": 0}, "yoga_class.capacity", f"between 1 and {MAX_CAPACITY}"),
        ({"capacity": -5}, "yoga_class.capacity", f"between 1 and {MAX_CAPACITY}"),
        ({"capacity": MAX_CAPACITY + 1}, "yoga_class.capacity", f"between 1 and {MAX_CAPACITY}"),
        ({"time_zone": "Mars/Olympus_Mons"}, "yoga_class.time_zone", "IANA"),
        ({"time_zone": ""}, "yoga_class.time_zone", "IANA"),
        ({"time_zone": "../../etc/passwd"}, "yoga_class.time_zone", "IANA"),
        ({"time_zone": "+02:00"}, "yoga_class.time_zone", "IANA"),
        # Names the zone database's files make of it: a folder, a name too long for a file.
        ({"time_zone": "Asia"}, "yoga_class.time_zone", "IANA"),
        ({"time_zone": "x" * 5000}, "yoga_class.time_zone", "IANA"),
        ({"time_zone": "Asia/Seoul/.."}, "yoga_class.time_zone", "IANA"),
        (
            {"start_time": NOW, "end_time": NOW + timedelta(hours=1)},
            "yoga_class.start_time",
            "future",
        ),
        (
            {"start_time": NOW - timedelta(hours=1), "end_time": NOW},
            "yoga_class.start_time",
            "future",
        ),
        (
            {"start_time": NOW + MAX_AHEAD + timedelta(seconds=1)}
            | {"end_time": NOW + MAX_AHEAD + timedelta(hours=1)},
            "yoga_class.start_time",
            "within 20 years",
        ),
        ({"end_time": START}, "yoga_class.end_time", "after start_time"),
        ({"end_time": START - timedelta(minutes=5)}, "yoga_class.end_time", "after start_time"),
        (
            {"end_time": START + MAX_LENGTH + timedelta(seconds=1)},
            "yoga_class.end_time",
            "12 hours",
        ),
    ],
)
def test_each_violation_is_reported_alone(
    overrides: dict[str, Any], field: str, words: str
) -> None:
    found = violations_of(details(**overrides))
    assert len(found) == 1, found
    assert found[0].field == field
    assert words in found[0].description


def test_all_violations_are_reported_at_once() -> None:
    bad = ClassDetails(
        title="",
        instructor="i" * (MAX_TITLE + 1),
        start_time=NOW - timedelta(days=1),
        end_time=NOW - timedelta(days=2),
        time_zone="Nowhere/Town",
        capacity=0,
    )
    found = violations_of(bad)
    assert sorted(v.field for v in found) == sorted(
        [
            "yoga_class.title",
            "yoga_class.instructor",
            "yoga_class.capacity",
            "yoga_class.time_zone",
            "yoga_class.start_time",
            "yoga_class.end_time",
        ]
    )


def test_too_long_and_misordered_end_are_both_reported() -> None:
    # A title that is blank-free but too long plus a class that lasts too long: two at once.
    found = violations_of(
        details(title="t" * (MAX_TITLE + 1), end_time=START + MAX_LENGTH + timedelta(minutes=1))
    )
    assert [v.field for v in found] == ["yoga_class.title", "yoga_class.end_time"]


def test_error_message_names_every_violation() -> None:
    with pytest.raises(ServiceError) as caught:
        validate_details(details(title="", capacity=0), NOW)
    assert "yoga_class.title" in caught.value.message
    assert "yoga_class.capacity" in caught.value.message


# --- apply_changes ------------------------------------------------------------------------


def test_apply_changes_returns_the_changed_class_with_version_plus_one() -> None:
    current = yoga_class(booked=4)
    later = NOW + timedelta(minutes=7)
    new_start = START + timedelta(hours=3)
    changed = apply_changes(
        current,
        {
            "title": "Evening Yin",
            "capacity": 20,
            "start_time": new_start,
            "end_time": new_start + timedelta(minutes=90),
        },
        later,
    )
    assert changed.version == current.version + 1
    assert changed.update_time == later
    assert changed.create_time == current.create_time
    assert changed.booked == 4
    assert changed.status is ClassStatus.SCHEDULED
    assert changed.details.title == "Evening Yin"
    assert changed.details.capacity == 20
    assert changed.details.start_time == new_start
    assert changed.details.instructor == current.details.instructor
    assert changed.details.time_zone == current.details.time_zone
    assert changed.free_seats == 16
    # The input is a value: it is not modified.
    assert current.version == 3
    assert current.details.title == "Morning Flow"


@pytest.mark.parametrize("field", MUTABLE_FIELDS)
def test_every_mutable_field_is_a_details_field(field: str) -> None:
    # apply_changes replaces ClassDetails fields by name: every mutable field must be one.
    value = getattr(details(), field)
    assert apply_changes(yoga_class(), {field: value}, NOW).details == details()


def test_capacity_below_booked_is_refused() -> None:
    current = yoga_class(booked=8)
    with pytest.raises(ServiceError) as caught:
        apply_changes(current, {"capacity": 7}, NOW)
    err = caught.value
    assert err.code is Code.FAILED_PRECONDITION
    assert err.reason == "CAPACITY_BELOW_BOOKED"
    assert err.metadata == {"class_id": "c-1", "booked": "8"}
    assert "7" in err.message and "8" in err.message


def test_capacity_equal_to_booked_is_accepted() -> None:
    assert apply_changes(yoga_class(booked=8), {"capacity": 8}, NOW).free_seats == 0


def test_invalid_change_is_invalid_argument_before_capacity_check() -> None:
    with pytest.raises(ServiceError) as caught:
        apply_changes(yoga_class(booked=3), {"capacity": 0}, NOW)
    assert caught.value.code is Code.INVALID_ARGUMENT
    assert [v.field for v in caught.value.violations] == ["yoga_class.capacity"]


def test_change_validates_the_merged_details() -> None:
    # Moving only the end before the (unchanged) start is caught on the merged class.
    with pytest.raises(ServiceError) as caught:
        apply_changes(yoga_class(), {"end_time": START - timedelta(hours=1)}, NOW)
    assert [v.field for v in caught.value.violations] == ["yoga_class.end_time"]


@pytest.mark.parametrize("changes", [{}, {"title": "New"}, {"capacity": 50}])
def test_cancelled_class_cannot_be_changed(changes: dict[str, Any]) -> None:
    with pytest.raises(ServiceError) as caught:
        apply_changes(yoga_class(status=ClassStatus.CANCELLED), changes, NOW)
    err = caught.value
    assert err.code is Code.FAILED_PRECONDITION
    assert err.reason == "CLASS_CANCELLED"
    assert err.metadata == {"class_id": "c-1"}


def test_cancelled_check_comes_before_validation() -> None:
    with pytest.raises(ServiceError) as caught:
        apply_changes(yoga_class(status=ClassStatus.CANCELLED), {"capacity": 0}, NOW)
    assert caught.value.reason == "CLASS_CANCELLED"


@given(
    booked=st.integers(min_value=0, max_value=MAX_CAPACITY),
    capacity=st.integers(min_value=1, max_value=MAX_CAPACITY),
)
def test_capacity_is_accepted_exactly_when_not_below_booked(booked: int, capacity: int) -> None:
    current = yoga_class(booked=booked, capacity=max(booked, 1))
    if capacity >= booked:
        changed = apply_changes(current, {"capacity": capacity}, NOW)
        assert changed.details.capacity == capacity
        assert changed.free_seats == capacity - booked >= 0
        assert changed.version == current.version + 1
    else:
        with pytest.raises(ServiceError) as caught:
            apply_changes(current, {"capacity": capacity}, NOW)
        assert caught.value.reason == "CAPACITY_BELOW_BOOKED"
        assert caught.value.metadata["booked"] == str(booked)


# --- seat_refusal -------------------------------------------------------------------------


def test_unknown_class_refuses_a_seat() -> None:
    assert seat_refusal(None, NOW) is SeatResult.CLASS_NOT_FOUND


def test_cancelled_class_refuses_a_seat_even_after_its_start() -> None:
    gone = yoga_class(status=ClassStatus.CANCELLED)
    assert seat_refusal(gone, NOW) is SeatResult.CLASS_CANCELLED
    assert seat_refusal(gone, START + timedelta(hours=5)) is SeatResult.CLASS_CANCELLED


@pytest.mark.parametrize(
    "now", [START, START + timedelta(seconds=1), START + timedelta(hours=2)], ids=str
)
def test_started_class_refuses_a_seat(now: datetime) -> None:
    assert seat_refusal(yoga_class(), now) is SeatResult.CLASS_STARTED


def test_future_class_has_no_refusal_even_when_full() -> None:
    # A full class is decided by the conditional update, not here.
    full = yoga_class(booked=12)
    assert full.free_seats == 0
    assert seat_refusal(full, START - timedelta(microseconds=1)) is None
    assert seat_refusal(yoga_class(), NOW) is None
