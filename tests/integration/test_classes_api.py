"""YogaClassService through a real server: the catalogue, its errors and its guards."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.integration.conftest import Clients, accounts
from tests.integration.support import a_class, error_details, request_id, ts
from yoga.reservation.v1 import reservation_pb2 as rpb
from yoga.yogaclass.v1 import yogaclass_pb2 as ypb
from yoga_common.auth import SERVICE


async def create(c: Clients, yoga_class: ypb.YogaClass, key: str = "") -> ypb.YogaClass:
    answer = await c.classes.CreateClass(
        ypb.CreateClassRequest(yoga_class=yoga_class, request_id=key), metadata=c.stack.as_admin()
    )
    return answer.yoga_class


async def get(c: Clients, class_id: str) -> ypb.YogaClass:
    answer = await c.classes.GetClass(
        ypb.GetClassRequest(class_id=class_id), metadata=c.stack.as_user("11")
    )
    return answer.yoga_class


async def refused(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call  # type: ignore[misc]
    return err.value


async def test_create_get_and_idempotent_create(clients: Clients) -> None:
    key = request_id()
    # One class sent each time: a_class() reads the clock, and a retry carries the same body.
    yin = a_class(12, title="Yin")
    created = await create(clients, yin, key)
    assert (created.title, created.capacity, created.booked, created.version) == ("Yin", 12, 0, 1)
    assert created.status == ypb.CLASS_STATUS_SCHEDULED
    assert await get(clients, created.class_id) == created

    again = await create(clients, yin, key)
    assert again.class_id == created.class_id
    other = ypb.YogaClass()
    other.CopyFrom(yin)
    other.capacity = 13
    err = await refused(create(clients, other, key))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(err)[1] == ["request_id"]


async def test_invalid_class_reports_every_field_and_creates_nothing(clients: Clients) -> None:
    bad = a_class(0, title=" ")
    bad.time_zone = "Mars/Olympus"
    bad.end_time.CopyFrom(bad.start_time)
    err = await refused(create(clients, bad))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    reason, fields = error_details(err)
    assert reason == "INVALID_ARGUMENT"
    assert set(fields) == {
        "yoga_class.title",
        "yoga_class.capacity",
        "yoga_class.time_zone",
        "yoga_class.end_time",
    }
    past = a_class(5, starts_in=timedelta(hours=-2))
    err = await refused(create(clients, past))
    assert error_details(err)[1] == ["yoga_class.start_time"]
    missing = await refused(
        clients.classes.CreateClass(ypb.CreateClassRequest(), metadata=clients.stack.as_admin())
    )
    assert error_details(missing)[1] == ["yoga_class"]


async def test_list_by_time_range_with_pages(clients: Clients) -> None:
    # A window of its own, far ahead, so other tests' classes stay out of it.
    base = datetime(2031, 1, 1, tzinfo=UTC) + timedelta(days=random.randrange(3000))
    ids = []
    for hour in range(5):
        yoga_class = a_class(3, title=f"Hour {hour}")
        yoga_class.start_time.CopyFrom(ts(base + timedelta(hours=hour)))
        yoga_class.end_time.CopyFrom(ts(base + timedelta(hours=hour, minutes=50)))
        ids.append((await create(clients, yoga_class)).class_id)

    seen, token = [], ""
    for _ in range(3):
        page = await clients.classes.ListClasses(
            ypb.ListClassesRequest(
                start_time=ts(base),
                end_time=ts(base + timedelta(hours=5)),
                page_size=2,
                page_token=token,
            ),
            metadata=clients.stack.as_user("11"),
        )
        seen += [c.class_id for c in page.yoga_classes]
        token = page.next_page_token
    assert seen == ids
    assert token == ""

    narrow = await clients.classes.ListClasses(
        ypb.ListClassesRequest(
            start_time=ts(base + timedelta(hours=1)), end_time=ts(base + timedelta(hours=3))
        ),
        metadata=clients.stack.as_user("11"),
    )
    assert [c.class_id for c in narrow.yoga_classes] == ids[1:3]

    err = await refused(
        clients.classes.ListClasses(
            ypb.ListClassesRequest(page_token="not-a-token"), metadata=clients.stack.as_user("11")
        )
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(err)[1] == ["page_token"]
    err = await refused(
        clients.classes.ListClasses(
            ypb.ListClassesRequest(
                start_time=Timestamp(seconds=-(10**12)), page_size=-3, page_token="not-a-token"
            ),
            metadata=clients.stack.as_user("11"),
        )
    )
    assert error_details(err)[1] == ["start_time", "page_size", "page_token"]


async def set_capacity(c: Clients, class_id: str, capacity: int) -> ypb.UpdateClassResponse:
    return await c.classes.UpdateClass(
        ypb.UpdateClassRequest(
            yoga_class=ypb.YogaClass(class_id=class_id, capacity=capacity),
            update_mask=FieldMask(paths=["capacity"]),
        ),
        metadata=c.stack.as_admin(),
    )


async def test_update_with_mask_and_capacity_never_below_booked(clients: Clients) -> None:
    created = await create(clients, a_class(3))
    for user in ("91", "92"):
        await clients.reservations.CreateReservation(
            rpb.CreateReservationRequest(class_id=created.class_id, request_id=request_id()),
            metadata=clients.stack.as_user(user),
        )
    change = ypb.YogaClass(class_id=created.class_id, title="Power Yoga", capacity=99)
    updated = await clients.classes.UpdateClass(
        ypb.UpdateClassRequest(yoga_class=change, update_mask=FieldMask(paths=["title"])),
        metadata=clients.stack.as_admin(),
    )
    assert (updated.yoga_class.title, updated.yoga_class.capacity) == ("Power Yoga", 3)
    assert updated.yoga_class.version == 2

    err = await refused(set_capacity(clients, created.class_id, 1))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_details(err)[0] == "CAPACITY_BELOW_BOOKED"
    assert (await get(clients, created.class_id)).capacity == 3
    assert (await set_capacity(clients, created.class_id, 2)).yoga_class.capacity == 2

    err = await refused(
        clients.classes.UpdateClass(
            ypb.UpdateClassRequest(
                yoga_class=ypb.YogaClass(class_id=created.class_id, booked=0),
                update_mask=FieldMask(paths=["booked"]),
            ),
            metadata=clients.stack.as_admin(),
        )
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(err)[1] == ["update_mask.paths"]
    unknown = await refused(
        clients.classes.UpdateClass(
            ypb.UpdateClassRequest(yoga_class=ypb.YogaClass(class_id="missing", title="x")),
            metadata=clients.stack.as_admin(),
        )
    )
    assert unknown.code() == grpc.StatusCode.NOT_FOUND
    assert error_details(unknown)[0] == "CLASS_NOT_FOUND"


async def test_delete_cancels_and_keeps_history(clients: Clients) -> None:
    created = await create(clients, a_class(3))
    first = await clients.classes.DeleteClass(
        ypb.DeleteClassRequest(class_id=created.class_id), metadata=clients.stack.as_admin()
    )
    second = await clients.classes.DeleteClass(
        ypb.DeleteClassRequest(class_id=created.class_id), metadata=clients.stack.as_admin()
    )
    assert first.yoga_class.status == ypb.CLASS_STATUS_CANCELLED
    assert second.yoga_class.version == first.yoga_class.version == 2
    kept = await get(clients, created.class_id)
    assert (kept.status, kept.title) == (ypb.CLASS_STATUS_CANCELLED, created.title)
    err = await refused(set_capacity(clients, created.class_id, 5))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_details(err)[0] == "CLASS_CANCELLED"


async def test_tokens_and_roles_are_checked(clients: Clients) -> None:
    no_token = await refused(clients.classes.GetClass(ypb.GetClassRequest(class_id="x")))
    assert no_token.code() == grpc.StatusCode.UNAUTHENTICATED
    garbage = await refused(
        clients.classes.GetClass(
            ypb.GetClassRequest(class_id="x"), metadata=(("authorization", "Bearer abc.def.ghi"),)
        )
    )
    assert garbage.code() == grpc.StatusCode.UNAUTHENTICATED
    member = await refused(
        clients.classes.CreateClass(
            ypb.CreateClassRequest(yoga_class=a_class()), metadata=clients.stack.as_user("11")
        )
    )
    assert member.code() == grpc.StatusCode.PERMISSION_DENIED
    internal = await refused(
        clients.classes.ReserveSeat(
            ypb.ReserveSeatRequest(class_id="x", reservation_id="r", user_id="11"),
            metadata=clients.stack.as_admin(),
        )
    )
    assert internal.code() == grpc.StatusCode.PERMISSION_DENIED
    # Health stays open, for probes.
    async with grpc.aio.insecure_channel(clients.stack.services["yogaclass"].target) as channel:
        answer = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


async def test_seat_calls_are_idempotent_per_reservation(clients: Clients) -> None:
    created = await create(clients, a_class(2))
    service = (("authorization", f"Bearer {accounts().token('test', SERVICE)}"),)
    reserve = ypb.ReserveSeatRequest(class_id=created.class_id, reservation_id="r-1", user_id="u")
    release = ypb.ReleaseSeatRequest(class_id=created.class_id, reservation_id="r-1")
    for _ in range(2):
        answer = await clients.classes.ReserveSeat(reserve, metadata=service)
        assert answer.result == ypb.SEAT_RESULT_RESERVED
        assert answer.yoga_class.booked == 1
    freed = [(await clients.classes.ReleaseSeat(release, metadata=service)) for _ in range(2)]
    assert [f.released for f in freed] == [True, False]
    assert freed[1].yoga_class.booked == 0
    late = await clients.classes.ReserveSeat(reserve, metadata=service)
    assert late.result == ypb.SEAT_RESULT_RELEASED
    assert late.yoga_class.booked == 0
    # A release that arrives before its reserve leaves a tombstone: the reserve takes nothing.
    early = ypb.ReleaseSeatRequest(class_id=created.class_id, reservation_id="r-2")
    assert not (await clients.classes.ReleaseSeat(early, metadata=service)).released
    after = await clients.classes.ReserveSeat(
        ypb.ReserveSeatRequest(class_id=created.class_id, reservation_id="r-2", user_id="u"),
        metadata=service,
    )
    assert after.result == ypb.SEAT_RESULT_RELEASED
    assert (await get(clients, created.class_id)).booked == 0


# --- bad input that once got through (issue 12 §4) -------------------------------------------

# Seconds and nanos no datetime can hold: year 10000, before year 1, negative and whole-second
# nanos. Each was INTERNAL "internal error" (a ValueError from Timestamp.ToDatetime).
UNREPRESENTABLE = [(253402300800, 0), (-62135596801, 0), (0, -1), (0, 1_000_000_000)]


@pytest.mark.parametrize(("seconds", "nanos"), UNREPRESENTABLE)
async def test_unrepresentable_times_are_invalid_arguments_naming_the_field(
    clients: Clients, seconds: int, nanos: int
) -> None:
    odd = ypb.YogaClass().start_time.__class__(seconds=seconds, nanos=nanos)
    admin = clients.stack.as_admin()
    listed = await refused(
        clients.classes.ListClasses(ypb.ListClassesRequest(start_time=odd), metadata=admin)
    )
    assert listed.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(listed)[1] == ["start_time"]

    bad = a_class()
    bad.end_time.CopyFrom(odd)
    made = await refused(create(clients, bad))
    assert made.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "yoga_class.end_time" in error_details(made)[1]

    existing = await create(clients, a_class())
    change = ypb.YogaClass(class_id=existing.class_id)
    change.start_time.CopyFrom(odd)
    updated = await refused(
        clients.classes.UpdateClass(
            ypb.UpdateClassRequest(yoga_class=change, update_mask=FieldMask(paths=["start_time"])),
            metadata=admin,
        )
    )
    assert updated.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(updated)[1] == ["yoga_class.start_time"]
    assert await get(clients, existing.class_id) == existing


async def test_a_class_at_the_end_of_time_is_an_invalid_argument(clients: Clients) -> None:
    """9999-12-31T23:00Z with no end: the stand-in end an hour later overflowed (INTERNAL,
    found by test_any_request's hypothesis). A class may start at most 20 years ahead."""
    late = a_class()
    late.start_time.seconds = 253402297200
    late.ClearField("end_time")
    err = await refused(create(clients, late))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {"yoga_class.start_time", "yoga_class.end_time"} <= set(error_details(err)[1])


async def test_an_empty_class_names_every_offending_field_at_once(clients: Clients) -> None:
    """`{}` as the JSON body: the times were named first, the other fields on the next try."""
    err = await refused(create(clients, ypb.YogaClass()))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    fields = set(error_details(err)[1])
    assert {
        "yoga_class.start_time",
        "yoga_class.end_time",
        "yoga_class.title",
        "yoga_class.capacity",
    } <= fields


async def test_an_error_echoes_a_bounded_part_of_a_huge_field(clients: Clients) -> None:
    """A 10,000-character mask path once came back in the trailers whole, and the client
    refused them (RESOURCE_EXHAUSTED) in place of the real error."""
    existing = await create(clients, a_class())
    huge = "x" * 10_000
    err = await refused(
        clients.classes.UpdateClass(
            ypb.UpdateClassRequest(
                yoga_class=ypb.YogaClass(class_id=existing.class_id, title="T"),
                update_mask=FieldMask(paths=[huge, f"{huge}y", "title"]),
            ),
            metadata=clients.stack.as_admin(),
        )
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(err)[1] == ["update_mask.paths", "update_mask.paths"]
    assert len(err.details() or "") <= 500


async def test_health_lists_every_service(clients: Clients) -> None:
    async with grpc.aio.insecure_channel(clients.stack.target("yogaclass")) as channel:
        listed = await health_pb2_grpc.HealthStub(channel).List(health_pb2.HealthListRequest())
    assert {name: s.status for name, s in listed.statuses.items()} == {
        "": health_pb2.HealthCheckResponse.SERVING,
        "yoga.yogaclass.v1.YogaClassService": health_pb2.HealthCheckResponse.SERVING,
    }
