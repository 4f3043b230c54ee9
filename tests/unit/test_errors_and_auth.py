"""Error details on the wire, method role tables, page tokens and update masks (bearer tokens:
test_issuer_keys.py)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from yoga.yogaclass.v1 import yogaclass_pb2
from yoga_common import pagination
from yoga_common.auth import ADMIN, MEMBER, SERVICE
from yoga_common.errors import (
    DOMAIN,
    Code,
    FieldViolation,
    ServiceError,
    Violations,
    failed_precondition,
    invalid,
    not_found,
)
from yoga_common.interceptors import role_table, to_status_proto
from yoga_common.timestamps import to_timestamp
from yogaclass_svc.domain import MUTABLE_FIELDS
from yogaclass_svc.servicer import ROLES, _changes

YOGACLASS = yogaclass_pb2.DESCRIPTOR.services_by_name["YogaClassService"]
FULL_TABLE = {
    "CreateClass": frozenset({ADMIN}),
    "GetClass": frozenset({ADMIN, MEMBER}),
    "ListClasses": frozenset({ADMIN, MEMBER}),
    "UpdateClass": frozenset({ADMIN}),
    "DeleteClass": frozenset({ADMIN}),
    "ReserveSeat": frozenset({SERVICE}),
    "ReserveSeats": frozenset({SERVICE}),
    "ReleaseSeat": frozenset({SERVICE}),
    "GetStudioSettings": frozenset({ADMIN, MEMBER, SERVICE}),
    "UpdateStudioSettings": frozenset({ADMIN}),
    "GetMemberStanding": frozenset({ADMIN, MEMBER}),
    "LiftBlock": frozenset({ADMIN}),
    "CreateSeries": frozenset({ADMIN}),
    "GetSeries": frozenset({ADMIN, MEMBER}),
    "ListSeries": frozenset({ADMIN, MEMBER}),
    "UpdateSeries": frozenset({ADMIN}),
    "CancelSeries": frozenset({ADMIN}),
}


# --- ServiceError -> google.rpc.Status ---------------------------------------------------


def unpack_info(any_msg: Any) -> error_details_pb2.ErrorInfo:
    info = error_details_pb2.ErrorInfo()
    assert any_msg.Unpack(info)
    return info


def test_status_carries_error_info_and_every_field_violation() -> None:
    err = invalid(
        [
            FieldViolation("yoga_class.title", "is required"),
            FieldViolation("yoga_class.capacity", "must be between 1 and 1000"),
        ]
    )
    status = to_status_proto(err)
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert status.message == err.message
    assert len(status.details) == 2

    info = unpack_info(status.details[0])
    assert info.reason == "INVALID_ARGUMENT"
    assert info.domain == DOMAIN == "yoga.studio"

    bad = error_details_pb2.BadRequest()
    assert status.details[1].Unpack(bad)
    assert [(v.field, v.description) for v in bad.field_violations] == [
        ("yoga_class.title", "is required"),
        ("yoga_class.capacity", "must be between 1 and 1000"),
    ]
    # An ErrorInfo payload is not mistaken for a BadRequest.
    assert not status.details[0].Unpack(error_details_pb2.BadRequest())


def test_status_without_violations_has_only_error_info_with_metadata() -> None:
    err = failed_precondition("CAPACITY_BELOW_BOOKED", "too small", class_id="c-1", booked="3")
    status = to_status_proto(err)
    assert status.code == grpc.StatusCode.FAILED_PRECONDITION.value[0]
    assert status.message == "too small"
    assert len(status.details) == 1
    info = unpack_info(status.details[0])
    assert info.reason == "CAPACITY_BELOW_BOOKED"
    assert info.domain == DOMAIN
    assert dict(info.metadata) == {"class_id": "c-1", "booked": "3"}


def test_status_survives_the_grpc_status_round_trip() -> None:
    rich = rpc_status.to_status(to_status_proto(not_found("class", "c-9")))
    assert rich.code is grpc.StatusCode.NOT_FOUND
    assert rich.details == "class 'c-9' does not exist"
    (key, blob) = rich.trailing_metadata[0]
    assert key == "grpc-status-details-bin"
    decoded = status_pb2.Status.FromString(blob)
    info = unpack_info(decoded.details[0])
    assert (info.reason, dict(info.metadata)) == ("CLASS_NOT_FOUND", {"id": "c-9"})


@pytest.mark.parametrize("code", list(Code), ids=lambda c: c.name)
def test_error_codes_are_the_grpc_codes(code: Code) -> None:
    assert grpc.StatusCode[code.name].value[0] == code.value


def test_violations_collects_everything_before_raising() -> None:
    v = Violations()
    v.check(True, "a", "fine")
    v.raise_if_any()  # nothing yet
    v.check(False, "b", "bad")
    v.add("c", "worse")
    with pytest.raises(ServiceError) as caught:
        v.raise_if_any()
    assert caught.value.violations == [FieldViolation("b", "bad"), FieldViolation("c", "worse")]
    assert caught.value.message == "b: bad; c: worse"


# --- role tables --------------------------------------------------------------------------


def test_role_table_maps_full_method_paths() -> None:
    table = role_table(YOGACLASS, FULL_TABLE)
    assert set(table) == {f"/yoga.yogaclass.v1.YogaClassService/{m}" for m in FULL_TABLE}
    assert table["/yoga.yogaclass.v1.YogaClassService/ReserveSeat"] == frozenset({SERVICE})
    assert all(isinstance(roles, frozenset) for roles in table.values())


def test_role_table_refuses_a_missing_method() -> None:
    partial = {k: v for k, v in FULL_TABLE.items() if k != "ReleaseSeat"}
    with pytest.raises(ValueError, match="ReleaseSeat"):
        role_table(YOGACLASS, partial)


def test_role_table_refuses_an_unknown_method() -> None:
    with pytest.raises(ValueError, match="YogaClassService"):
        role_table(YOGACLASS, {**FULL_TABLE, "DropAllClasses": frozenset({ADMIN})})


def test_role_table_refuses_a_misspelled_method() -> None:
    table = dict(FULL_TABLE)
    table["Createclass"] = table.pop("CreateClass")
    with pytest.raises(ValueError):
        role_table(YOGACLASS, table)


def test_yogaclass_service_roles() -> None:
    path = "/yoga.yogaclass.v1.YogaClassService/"
    assert MEMBER not in ROLES[path + "CreateClass"]
    assert MEMBER not in ROLES[path + "ReserveSeat"]  # seats only through a reservation
    assert ROLES[path + "ReleaseSeat"] == frozenset({SERVICE})
    assert MEMBER in ROLES[path + "ListClasses"]


# --- page tokens --------------------------------------------------------------------------


def test_page_token_round_trip() -> None:
    position = ["2030-05-01T09:00:00+00:00", "r-17"]
    token = pagination.encode(position)
    assert pagination.decode(token) == position
    assert pagination.decode("") is None


def token_of(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


@pytest.mark.parametrize(
    "token",
    [
        "!",  # the servicers raise their "foreign token" error by decoding this one
        "!!!!",
        "not a token",
        "@@@@",
        "é",
        token_of(b"\xff\xfe\xfd"),
        token_of(b"{not json"),
        token_of(b'{"a": 1}'),
        token_of(b"42"),
        token_of(b"null"),
        token_of(b'"a string"'),
        "W10",  # a token cut short: bad padding
    ],
)
def test_garbage_page_token_is_invalid_argument(token: str) -> None:
    with pytest.raises(ServiceError) as caught:
        pagination.decode(token)
    assert caught.value.code is Code.INVALID_ARGUMENT
    assert [v.field for v in caught.value.violations] == ["page_token"]


def test_deeply_nested_page_token_is_invalid_argument() -> None:
    token = token_of(b"[" * 100_000)
    with pytest.raises(ServiceError) as caught:
        pagination.decode(token)
    assert caught.value.code is Code.INVALID_ARGUMENT


@pytest.mark.parametrize(
    ("requested", "expected"),
    [(0, pagination.DEFAULT_PAGE_SIZE), (1, 1), (37, 37), (100, 100), (101, 100), (10**9, 100)],
)
def test_page_size_bounds(requested: int, expected: int) -> None:
    assert pagination.page_size(requested) == expected


def test_a_bad_page_size_and_token_are_reported_together() -> None:
    v = Violations()
    v.add("user_id", "is required")
    paging = pagination.keyset_paging(v, -1, "!!!!")
    assert [x.field for x in v.items] == ["user_id", "page_size", "page_token"]
    assert paging == pagination.Paging(pagination.DEFAULT_PAGE_SIZE, None)
    good = pagination.keyset_paging(v := Violations(), 500, pagination.encode_after(START, "c-9"))
    assert not v.items and good == pagination.Paging(pagination.MAX_PAGE_SIZE, (START, "c-9"))


@pytest.mark.parametrize("requested", [-1, -(10**9)])
def test_negative_page_size_is_invalid(requested: int) -> None:
    with pytest.raises(ServiceError) as caught:
        pagination.page_size(requested)
    assert caught.value.code is Code.INVALID_ARGUMENT
    assert [v.field for v in caught.value.violations] == ["page_size"]


# --- update masks (yogaclass_svc.servicer._changes) ---------------------------------------

START = datetime(2030, 6, 1, 7, 0, tzinfo=UTC)


def update_request(paths: list[str], **fields: Any) -> yogaclass_pb2.UpdateClassRequest:
    for name in ("start_time", "end_time"):
        if name in fields:
            fields[name] = to_timestamp(fields[name])
    return yogaclass_pb2.UpdateClassRequest(
        yoga_class=yogaclass_pb2.YogaClass(class_id="c-1", **fields),
        update_mask=FieldMask(paths=paths),
    )


def changes_of(request: yogaclass_pb2.UpdateClassRequest) -> dict[str, Any]:
    return _changes(request, Violations())


def violations_of(call: Callable[[], object]) -> list[tuple[str, str]]:
    with pytest.raises(ServiceError) as caught:
        call()
    assert caught.value.code is Code.INVALID_ARGUMENT
    return [(v.field, v.description) for v in caught.value.violations]


def test_empty_mask_changes_what_the_request_sets() -> None:
    assert changes_of(update_request([], title="Yin", capacity=15)) == {
        "title": "Yin",
        "capacity": 15,
    }


def test_empty_mask_with_times_converts_them() -> None:
    end = START + timedelta(hours=1)
    assert changes_of(update_request([], start_time=START, end_time=end)) == {
        "start_time": START,
        "end_time": end,
    }


def test_empty_mask_and_nothing_set_is_refused() -> None:
    found = violations_of(lambda: changes_of(update_request([])))
    assert found == [("update_mask", "nothing to change")]


def test_star_changes_every_mutable_field() -> None:
    end = START + timedelta(hours=1)
    request = update_request(
        ["*"],
        title="Yin",
        instructor="Kai",
        start_time=START,
        end_time=end,
        time_zone="Asia/Tokyo",
        capacity=9,
        waitlist_capacity=4,
    )
    changed = changes_of(request)
    assert list(changed) == list(MUTABLE_FIELDS)
    assert changed == {
        "title": "Yin",
        "instructor": "Kai",
        "start_time": START,
        "end_time": end,
        "time_zone": "Asia/Tokyo",
        "capacity": 9,
        "waitlist_capacity": 4,
        # Not set in the request: the class goes back to the studio's window.
        "cancellation_window": None,
    }
    assert changed["start_time"].tzinfo is not None


def test_star_without_times_reports_both() -> None:
    found = violations_of(lambda: changes_of(update_request(["*"], title="Yin")))
    assert [f for f, _ in found] == ["yoga_class.start_time", "yoga_class.end_time"]


def test_explicit_mask_can_set_zero_values() -> None:
    # With a mask, an empty/zero value is a change (then refused by domain validation).
    assert changes_of(update_request(["capacity", "instructor"])) == {
        "capacity": 0,
        "instructor": "",
    }


def test_mask_limits_the_change_to_its_paths() -> None:
    assert changes_of(update_request(["title"], title="Yin", capacity=40)) == {"title": "Yin"}


def test_duplicate_paths_count_once() -> None:
    assert changes_of(update_request(["title", "title"], title="Yin")) == {"title": "Yin"}


@pytest.mark.parametrize("path", ["booked", "class_id", "status", "version", "Title", "*.title"])
def test_unknown_or_immutable_path_is_refused(path: str) -> None:
    found = violations_of(lambda: changes_of(update_request([path], title="Yin")))
    assert found == [("update_mask.paths", f"{path!r} cannot be changed")]


def test_star_mixed_with_paths_is_refused() -> None:
    found = violations_of(lambda: changes_of(update_request(["*", "title"], title="Yin")))
    assert ("update_mask.paths", "'*' cannot be changed") in found


def test_mask_naming_an_unset_time_is_refused_with_the_other_problems() -> None:
    found = violations_of(lambda: changes_of(update_request(["end_time", "booked"])))
    assert sorted(found) == [
        ("update_mask.paths", "'booked' cannot be changed"),
        ("yoga_class.end_time", "is required by the update mask"),
    ]


def test_violations_collected_before_the_mask_are_reported_too() -> None:
    v = Violations()
    v.add("yoga_class.class_id", "is required")
    with pytest.raises(ServiceError) as caught:
        _changes(update_request(["title"], title="Yin"), v)
    assert [x.field for x in caught.value.violations] == ["yoga_class.class_id"]


def test_mutable_fields_are_yoga_class_fields() -> None:
    # Every mutable field is a field of the YogaClass message (the mask names proto fields).
    names = {f.name for f in yogaclass_pb2.YogaClass.DESCRIPTOR.fields}
    assert set(MUTABLE_FIELDS) <= names
