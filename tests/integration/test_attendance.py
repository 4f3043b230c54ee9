"""Check-in, the class roster and the no-show sweep (issue 14 §3) through real gRPC on SQLite
and PostgreSQL, with real short times: classes that start within seconds and last seconds,
and the studio's settings changed through UpdateStudioSettings (tests read them again within
a fraction of a second: RESERVATION_STUDIO_SETTINGS_TTL_SECONDS in conftest)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.field_mask_pb2 import FieldMask

from reservation_svc import messages
from reservation_svc.domain import AttendanceRules
from reservation_svc.service import ReservationService
from reservation_svc.storage import ReservationStore, outbox
from tests.integration.conftest import CORE, Clients, Stack, connect, system_under_test
from tests.integration.events_support import events_of
from tests.integration.gateway_support import booking, class_json
from tests.integration.support import a_class, error_details, eventually, request_id, ts
from yoga.reservation.v1 import events_pb2 as rev
from yoga.reservation.v1 import reservation_pb2 as rpb
from yoga.yogaclass.v1 import yogaclass_pb2 as ypb
from yoga_common.auth import ADMIN
from yoga_common.db import Database
from yoga_common.settings import AuthSettings
from yoga_common.timestamps import from_timestamp
from yoga_common.topics import RESERVATION_EVENTS
from yoga_common.uow import Outbox, Transactions

NO_SHOW = rev.ReservationNoShow


def seconds(n: float) -> Duration:
    d = Duration()
    d.FromTimedelta(timedelta(seconds=n))
    return d


async def studio(c: Clients, check_in_opens: float, no_show_grace: float) -> None:
    """Sets the studio's check-in window and no-show grace; reservation_svc follows within
    its settings cache's ttl."""
    await c.classes.UpdateStudioSettings(
        ypb.UpdateStudioSettingsRequest(
            settings=ypb.StudioSettings(
                check_in_opens=seconds(check_in_opens), no_show_grace=seconds(no_show_grace)
            ),
            update_mask=FieldMask(paths=["check_in_opens", "no_show_grace"]),
        ),
        metadata=c.stack.as_admin(),
    )
    await asyncio.sleep(0.5)


async def soon_class(
    c: Clients, starts_in: float, lasts: float, capacity: int = 10
) -> tuple[str, datetime, datetime]:
    start = datetime.now(UTC) + timedelta(seconds=starts_in)
    end = start + timedelta(seconds=lasts)
    yoga_class = a_class(capacity)
    yoga_class.start_time.CopyFrom(ts(start))
    yoga_class.end_time.CopyFrom(ts(end))
    created = await c.classes.CreateClass(
        ypb.CreateClassRequest(yoga_class=yoga_class, request_id=request_id()),
        metadata=c.stack.as_admin(),
    )
    return created.yoga_class.class_id, start, end


async def book(
    c: Clients, class_id: str, user: str, decline_waitlist: bool = False
) -> rpb.Reservation:
    answer = await c.reservations.CreateReservation(
        rpb.CreateReservationRequest(
            class_id=class_id, request_id=request_id(), decline_waitlist=decline_waitlist
        ),
        metadata=c.stack.as_user(user),
    )
    return answer.reservation


async def check_in(c: Clients, reservation_id: str, user: str | None = None) -> rpb.Reservation:
    who = c.stack.as_user(user) if user else c.stack.as_admin()
    answer = await c.reservations.CheckIn(
        rpb.CheckInRequest(reservation_id=reservation_id), metadata=who
    )
    return answer.reservation


async def refused(c: Clients, reservation_id: str, user: str | None = None) -> tuple[str, str]:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await check_in(c, reservation_id, user)
    return err.value.code().name, error_details(err.value)[0]


async def until_time(at: datetime) -> None:
    await asyncio.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()))


async def status_of(c: Clients, reservation_id: str) -> int:
    answer = await c.reservations.GetReservation(
        rpb.GetReservationRequest(reservation_id=reservation_id), metadata=c.stack.as_admin()
    )
    return answer.reservation.status


# --- check-in ---------------------------------------------------------------------------------


async def test_check_in_inside_the_window_only(clients: Clients) -> None:
    c = clients
    await studio(c, check_in_opens=3, no_show_grace=3600)
    # Bookings must be made before the start, refusals before check-in opens: seconds of slack.
    class_id, start, end = await soon_class(c, starts_in=10, lasts=2)
    came = await book(c, class_id, "att-1")
    late = await book(c, class_id, "att-2")
    gone = await book(c, class_id, "att-3")
    assert {came.status, late.status, gone.status} == {rpb.RESERVATION_STATUS_CONFIRMED}
    await c.reservations.CancelReservation(
        rpb.CancelReservationRequest(reservation_id=gone.reservation_id),
        metadata=c.stack.as_user("att-3"),
    )

    assert await refused(c, came.reservation_id) == ("FAILED_PRECONDITION", "CHECK_IN_NOT_OPEN")
    assert (await refused(c, came.reservation_id, "att-1"))[0] == "PERMISSION_DENIED"
    assert await refused(c, gone.reservation_id) == ("FAILED_PRECONDITION", "NOT_CONFIRMED")
    assert (await refused(c, str(uuid.uuid4())))[0] == "NOT_FOUND"
    for bad in ("", "x" * 300):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await check_in(c, bad)
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert error_details(err.value)[1] == ["reservation_id"]

    await until_time(start - timedelta(seconds=3) + timedelta(milliseconds=200))
    checked = await check_in(c, came.reservation_id)
    assert checked.status == rpb.RESERVATION_STATUS_ATTENDED
    assert checked.HasField("check_in_time")
    assert from_timestamp(checked.check_in_time) <= datetime.now(UTC)
    again = await check_in(c, came.reservation_id)
    assert (again.status, again.version) == (checked.status, checked.version)
    assert await status_of(c, gone.reservation_id) == rpb.RESERVATION_STATUS_CANCELLED

    await until_time(end + timedelta(milliseconds=200))
    assert await refused(c, late.reservation_id) == ("FAILED_PRECONDITION", "CLASS_ENDED")
    assert await status_of(c, late.reservation_id) == rpb.RESERVATION_STATUS_CONFIRMED
    # Checked in once stays answered as it is, even after the class.
    assert (await check_in(c, came.reservation_id)).version == checked.version


async def test_check_in_is_unavailable_while_yogaclass_is_down(
    auth: AuthSettings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("attendance-outage")
    with system_under_test("sqlite", auth, folder) as stack:
        async for c in connect(stack):
            class_id, _, _ = await soon_class(c, starts_in=3600, lasts=3600)
            r = await book(c, class_id, "att-9")
            stack.services["yogaclass"].stop()
            await asyncio.sleep(0.5)  # past the settings cache's ttl
            code, reason = await refused(c, r.reservation_id)
            assert (code, reason) == ("UNAVAILABLE", "STUDIO_SETTINGS_UNAVAILABLE")
            assert await status_of(c, r.reservation_id) == rpb.RESERVATION_STATUS_CONFIRMED


# --- the roster -------------------------------------------------------------------------------


async def roster(c: Clients, class_id: str, size: int, token: str = "") -> rpb.GetRosterResponse:
    return await c.reservations.GetRoster(
        rpb.GetRosterRequest(class_id=class_id, page_size=size, page_token=token),
        metadata=c.stack.as_admin(),
    )


async def test_roster_lists_seated_then_waiting_then_the_rest_in_pages(clients: Clients) -> None:
    c = clients
    yoga_class = a_class(2)
    yoga_class.waitlist_capacity = 5
    created = await c.classes.CreateClass(
        ypb.CreateClassRequest(yoga_class=yoga_class, request_id=request_id()),
        metadata=c.stack.as_admin(),
    )
    class_id = created.yoga_class.class_id
    seated = [await book(c, class_id, f"ros-{n}") for n in range(2)]
    waiting = [await book(c, class_id, f"ros-{n}") for n in range(2, 5)]
    assert [r.status for r in waiting] == [rpb.RESERVATION_STATUS_WAITLISTED] * 3
    refused_full = await book(c, class_id, "ros-5", decline_waitlist=True)
    assert refused_full.status == rpb.RESERVATION_STATUS_REJECTED
    await c.reservations.CancelReservation(
        rpb.CancelReservationRequest(reservation_id=waiting[1].reservation_id),
        metadata=c.stack.as_user("ros-3"),
    )
    expected = [
        *(r.reservation_id for r in seated),
        waiting[0].reservation_id,
        waiting[2].reservation_id,
        waiting[1].reservation_id,  # cancelled: with the rest, by booking time
        refused_full.reservation_id,
    ]

    listed: list[rpb.Reservation] = []
    token, pages = "", 0
    while True:
        page = await roster(c, class_id, 2, token)
        pages += 1
        listed += page.reservations
        token = page.next_page_token
        if not token:
            break
    assert [r.reservation_id for r in listed] == expected
    assert pages == 3
    assert [r.waitlist_position for r in listed] == [0, 0, 1, 2, 0, 0]
    assert [r.status for r in listed][-2:] == [
        rpb.RESERVATION_STATUS_CANCELLED,
        rpb.RESERVATION_STATUS_REJECTED,
    ]
    whole = await roster(c, class_id, 0)
    assert [r.reservation_id for r in whole.reservations] == expected
    assert not whole.next_page_token

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await c.reservations.GetRoster(
            rpb.GetRosterRequest(class_id=class_id), metadata=c.stack.as_user("ros-0")
        )
    assert err.value.code() is grpc.StatusCode.PERMISSION_DENIED
    first = await roster(c, class_id, 2)
    for bad, fields in (
        (rpb.GetRosterRequest(class_id=class_id, page_token="not-a-token"), ["page_token"]),
        (rpb.GetRosterRequest(class_id="other", page_token=first.next_page_token), ["page_token"]),
        (rpb.GetRosterRequest(class_id=class_id, page_size=-1), ["page_size"]),
        (rpb.GetRosterRequest(), ["class_id"]),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await c.reservations.GetRoster(bad, metadata=c.stack.as_admin())
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert error_details(err.value)[1] == fields


# --- class moves ------------------------------------------------------------------------------


async def test_a_moved_class_moves_its_reservations(clients: Clients) -> None:
    c = clients
    class_id, start, _ = await soon_class(c, starts_in=86400, lasts=3600)
    r = await book(c, class_id, "move-1")
    later = start + timedelta(days=1)
    await c.classes.UpdateClass(
        ypb.UpdateClassRequest(
            yoga_class=ypb.YogaClass(
                class_id=class_id,
                start_time=ts(later),
                end_time=ts(later + timedelta(hours=1)),
            ),
            update_mask=FieldMask(paths=["start_time", "end_time"]),
        ),
        metadata=c.stack.as_admin(),
    )

    async def moved() -> bool:
        answer = await c.reservations.GetReservation(
            rpb.GetReservationRequest(reservation_id=r.reservation_id),
            metadata=c.stack.as_admin(),
        )
        return from_timestamp(answer.reservation.class_start_time) == later

    await eventually(moved, within=30.0)


# --- the no-show sweep ------------------------------------------------------------------------


class SettledStudio:
    """The studio's settings as a second replica's sweep would read them: no grace."""

    async def attendance_rules(self) -> AttendanceRules:
        return AttendanceRules(no_show_grace=timedelta(0))


def replica(stack: Stack) -> tuple[Database, ReservationService]:
    """reservation_svc's sweep on its own connection pool to the stack's database: a replica."""
    db = Database(stack.database_url("reservation"), threads=2)
    tx = Transactions(db, ReservationStore, Outbox(outbox, RESERVATION_EVENTS, messages.event))
    return db, ReservationService(tx, None, lambda: datetime.now(UTC), SettledStudio())  # type: ignore[arg-type]


async def test_replicas_mark_each_no_show_once(clients: Clients) -> None:
    c = clients
    # The running service waits an hour past the end; the two replicas below do not wait.
    await studio(c, check_in_opens=3600, no_show_grace=3600)
    class_id, start, end = await soon_class(c, starts_in=6, lasts=1)
    booked = [await book(c, class_id, f"ns-{n}") for n in range(6)]
    await until_time(start + timedelta(milliseconds=100))
    came = await check_in(c, booked[0].reservation_id)
    await until_time(end + timedelta(milliseconds=200))

    replicas = [replica(c.stack), replica(c.stack)]
    try:
        marked = await asyncio.gather(*(svc.sweep_no_shows(batch=2) for _, svc in replicas))
        again = await asyncio.gather(*(svc.sweep_no_shows(batch=2) for _, svc in replicas))
    finally:
        for db, _ in replicas:
            db.close()
    absent = {r.reservation_id for r in booked[1:]}
    assert sum(marked) >= len(absent)  # other tests' classes may be due as well
    assert sum(again) == 0
    for rid in absent:
        assert await status_of(c, rid) == rpb.RESERVATION_STATUS_NO_SHOW
    assert await status_of(c, came.reservation_id) == rpb.RESERVATION_STATUS_ATTENDED
    counted = await asyncio.to_thread(events_of, c.stack, NO_SHOW, absent)
    assert counted == Counter(dict.fromkeys(absent, 1))


async def test_the_running_sweep_marks_no_shows(clients: Clients) -> None:
    c = clients
    await studio(c, check_in_opens=3600, no_show_grace=0)
    class_id, start, end = await soon_class(c, starts_in=5, lasts=1)
    came = await book(c, class_id, "nsl-1")
    absent = await book(c, class_id, "nsl-2")
    await until_time(start + timedelta(milliseconds=100))
    await check_in(c, came.reservation_id)

    async def marked() -> bool:
        return await status_of(c, absent.reservation_id) == rpb.RESERVATION_STATUS_NO_SHOW

    await eventually(marked, within=10.0)
    assert datetime.now(UTC) >= end
    assert await status_of(c, came.reservation_id) == rpb.RESERVATION_STATUS_ATTENDED
    counted = await asyncio.to_thread(events_of, c.stack, NO_SHOW, {absent.reservation_id})
    assert counted == Counter({absent.reservation_id: 1})
    # A member not checked in cannot be checked in any more.
    assert await refused(c, absent.reservation_id) == ("FAILED_PRECONDITION", "NOT_CONFIRMED")


# --- JSON through the gateway -----------------------------------------------------------------


@pytest.fixture(scope="module")
def gateway(auth: AuthSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("attendance-gateway")
    with system_under_test("sqlite", auth, folder, CORE, gateway=True) as running:
        assert running.envoy is not None
        yield running


async def test_check_in_and_roster_as_json(gateway: Stack) -> None:
    member = gateway.json("att-json")
    staff = gateway.json("staff-1", ADMIN)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    created = await asyncio.to_thread(staff.ok, "POST", "/v1/classes", class_json(2, start=start))
    class_id = created["yogaClass"]["classId"]
    booked = await asyncio.to_thread(member.ok, "POST", "/v1/reservations", booking(class_id))
    rid = booked["reservation"]["reservationId"]
    path = f"/v1/reservations/{rid}:checkIn"

    await asyncio.to_thread(
        staff.ok, "PATCH", "/v1/studio/settings", {"checkInOpens": "1800s", "noShowGrace": "900s"}
    )
    await asyncio.sleep(0.5)
    early = await asyncio.to_thread(staff.post, path, {})
    assert early.status == 400, early
    assert early.reason() == "CHECK_IN_NOT_OPEN"
    by_member = await asyncio.to_thread(member.post, path, {})
    assert by_member.status == 403, by_member

    await asyncio.to_thread(staff.ok, "PATCH", "/v1/studio/settings", {"checkInOpens": "10800s"})
    await asyncio.sleep(0.5)
    checked = await asyncio.to_thread(staff.ok, "POST", path, {})
    assert checked["reservation"]["status"] == "RESERVATION_STATUS_ATTENDED"
    assert checked["reservation"]["checkInTime"]

    listed = await asyncio.to_thread(staff.ok, "GET", f"/v1/classes/{class_id}/roster?pageSize=1")
    assert [r["reservationId"] for r in listed["reservations"]] == [rid]
    assert listed.get("nextPageToken", "") == ""
    denied = await asyncio.to_thread(member.get, f"/v1/classes/{class_id}/roster")
    assert denied.status == 403, denied
    bad = await asyncio.to_thread(staff.get, f"/v1/classes/{class_id}/roster?pageToken=zzz")
    assert bad.status == 400 and bad.violations() == ["page_token"], bad
