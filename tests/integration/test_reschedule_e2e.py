"""Issue 15 end to end, with the real services (yogaclass_svc, reservation_svc, mypage_svc) on
SQLite and PostgreSQL and the real broker: staff move a class with UpdateClass; the member
still booked gets exactly one ReservationRescheduled on the reservation topic, the member who
cancelled none, and the page shows the new start in the class's zone."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from tests.integration.conftest import BACKENDS, Clients, Stack, system_under_test
from tests.integration.events_support import book, events_of
from tests.integration.support import a_class, eventually, request_id, ts
from yoga.mypage.v1 import mypage_pb2 as mpb
from yoga.reservation.v1 import events_pb2 as rev
from yoga.reservation.v1 import reservation_pb2 as rpb
from yoga.yogaclass.v1 import yogaclass_pb2 as ypb
from yoga_common.settings import AuthSettings
from yoga_common.timestamps import from_timestamp

pytestmark = pytest.mark.integration

SEOUL = timedelta(hours=9)  # Asia/Seoul keeps no daylight saving time


# conftest's `stack`, with my page running too (its `clients` fixture takes this one).
@pytest.fixture(scope="module", params=BACKENDS)
def stack(
    request: pytest.FixtureRequest, auth: AuthSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    names = ("yogaclass", "reservation", "mypage")
    folder = tmp_path_factory.mktemp(f"resched-{request.param}")
    with system_under_test(request.param, auth, folder, names) as running:
        yield running


def kst(at: datetime) -> str:
    local = at + SEOUL
    return f"{local:%a} {local.day} {local:%b %H:%M} KST"


async def entry(c: Clients, user: str, reservation_id: str) -> mpb.MyPageEntry | None:
    page = await c.mypage.GetMyPage(
        mpb.GetMyPageRequest(user_id=c.stack.user_id(user)), metadata=c.stack.as_user(user)
    )
    return next((e for e in page.entries if e.reservation_id == reservation_id), None)


async def test_moving_a_class_tells_the_member_still_booked(clients: Clients) -> None:
    c = clients
    created = await c.classes.CreateClass(
        ypb.CreateClassRequest(
            yoga_class=a_class(5, title="Moving Flow", starts_in=timedelta(days=2)),
            request_id=request_id(),
        ),
        metadata=c.stack.as_admin(),
    )
    yoga_class = created.yoga_class
    assert yoga_class.time_zone == "Asia/Seoul"
    start = from_timestamp(yoga_class.start_time)
    kept = await book(c, yoga_class.class_id, "resched-kept")
    gone = await book(c, yoga_class.class_id, "resched-gone")
    assert {kept.status, gone.status} == {rpb.RESERVATION_STATUS_CONFIRMED}
    await c.reservations.CancelReservation(
        rpb.CancelReservationRequest(reservation_id=gone.reservation_id),
        metadata=c.stack.as_user("resched-gone"),
    )

    async def on_page() -> bool:
        found = await entry(c, "resched-kept", kept.reservation_id)
        return found is not None and found.class_start_local == kst(start)

    await eventually(on_page, within=30.0)

    later = start + timedelta(hours=3, minutes=30)
    await c.classes.UpdateClass(
        ypb.UpdateClassRequest(
            yoga_class=ypb.YogaClass(
                class_id=yoga_class.class_id,
                start_time=ts(later),
                end_time=ts(later + timedelta(hours=1)),
            ),
            update_mask=FieldMask(paths=["start_time", "end_time"]),
        ),
        metadata=c.stack.as_admin(),
    )

    ids = {kept.reservation_id, gone.reservation_id}
    told = await asyncio.to_thread(
        events_of, c.stack, rev.ReservationRescheduled, ids, 3.0, {kept.reservation_id}
    )
    assert told == Counter({kept.reservation_id: 1})

    async def moved() -> bool:
        found = await entry(c, "resched-kept", kept.reservation_id)
        return found is not None and from_timestamp(found.class_start_time) == later

    await eventually(moved, within=30.0)
    shown = await entry(c, "resched-kept", kept.reservation_id)
    assert shown is not None
    assert shown.class_start_local == kst(later)
    assert shown.class_time_zone == "Asia/Seoul"
    assert shown.status == rpb.RESERVATION_STATUS_CONFIRMED
    answer = await c.reservations.GetReservation(
        rpb.GetReservationRequest(reservation_id=kept.reservation_id),
        metadata=c.stack.as_user("resched-kept"),
    )
    assert from_timestamp(answer.reservation.class_start_time) == later
    assert datetime.now(UTC) < later
