"""The studio's booking rules through every face (gRPC, and JSON through Envoy), on SQLite and
PostgreSQL, with the real services, Kafka and the SMTP sink: the waitlist and its promotions,
eligibility at promotion time, the cutoff, the cancellation window, refusal after the start,
the booking limit and staff's override, strikes blocking online booking and their lifting.
Times are real but short: rules are set through the studio settings API instead of waiting."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from devtools.processes import free_port
from tests.integration.conftest import ALL, BACKENDS, Clients, Stack, connect, system_under_test
from tests.integration.events_support import Mailbox
from tests.integration.rules_support import (
    STAFF,
    Face,
    GrpcFace,
    JsonFace,
    Refused,
    notification_kinds,
    set_studio,
)
from tests.integration.support import eventually
from yoga.yogaclass.v1 import yogaclass_pb2 as ypb
from yoga_common.settings import AuthSettings

DEFAULTS = {
    "waitlist_cutoff": timedelta(hours=2),
    "cancellation_window": timedelta(hours=12),
    "strike_limit": 0,
    "booking_limit": 0,
}


@pytest.fixture(scope="module", params=BACKENDS)
def rules_stack(
    request: pytest.FixtureRequest, auth: AuthSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    folder: Path = tmp_path_factory.mktemp(f"rules-{request.param}")
    mailbox = Mailbox(free_port())
    mailbox.start()
    try:
        with system_under_test(
            request.param, auth, folder, ALL, smtp_port=mailbox.port, gateway=True
        ) as stack:
            yield stack
    finally:
        mailbox.stop()


@pytest.fixture
async def c(rules_stack: Stack) -> AsyncIterator[Clients]:
    async for clients in connect(rules_stack):
        yield clients
        await set_studio(clients, **DEFAULTS)  # every test starts from the defaults


@pytest.fixture(params=["grpc", "json"])
def face(request: pytest.FixtureRequest, c: Clients) -> Face:
    if request.param == "grpc":
        return GrpcFace(c)
    return JsonFace(c)


async def settles(face: Face, reservation_id: str, status: str, within: float = 20.0) -> None:
    async def reached() -> bool:
        return (await face.get(reservation_id)).status == status

    await eventually(reached, within)


async def the_class(c: Clients, class_id: str) -> ypb.YogaClass:
    answer = await c.classes.GetClass(
        ypb.GetClassRequest(class_id=class_id), metadata=c.stack.as_admin()
    )
    found: ypb.YogaClass = answer.yoga_class
    return found


async def test_a_full_class_queues_and_a_cancel_promotes_the_head(c: Clients, face: Face) -> None:
    class_id = await face.new_class(1, waitlist=2)
    first = await face.book(f"{face.name}-w1", class_id)
    second = await face.book(f"{face.name}-w2", class_id)
    third = await face.book(f"{face.name}-w3", class_id)
    refused = await face.book(f"{face.name}-w4", class_id)  # the queue is full too
    declined = await face.book(f"{face.name}-w5", class_id, decline=True)
    assert (first.status, second.status, third.status) == ("CONFIRMED", "WAITLISTED", "WAITLISTED")
    assert (second.position, third.position) == (1, 2)
    assert (refused.status, refused.reason) == ("REJECTED", "CLASS_FULL")
    assert (declined.status, declined.reason) == ("REJECTED", "CLASS_FULL")

    await face.cancel(f"{face.name}-w1", first.reservation_id)
    await settles(face, second.reservation_id, "CONFIRMED")
    assert (await face.get(second.reservation_id)).promoted
    # The one behind moved up.
    assert (await face.get(third.reservation_id)).position == 1
    # Leaving the queue is a cancel; nobody is left waiting.
    left = await face.cancel(f"{face.name}-w3", third.reservation_id)
    assert (left.status, left.reason) == ("CANCELLED", "CANCELLED_BY_USER")
    now = await the_class(c, class_id)
    assert (now.booked, now.waiting) == (1, 0)
    await eventually(
        lambda: _kinds_are(c, f"{face.name}-w2", second.reservation_id, ["PROMOTED", "WAITLISTED"])
    )


async def _kinds_are(c: Clients, user: str, reservation_id: str, kinds: list[str]) -> bool:
    return await notification_kinds(c, user, reservation_id) == kinds


async def test_a_member_who_cannot_attend_is_skipped_and_told_why(c: Clients, face: Face) -> None:
    full = await face.new_class(1, waitlist=2, starts_in=timedelta(days=2))
    holder = await face.book(f"{face.name}-s1", full)
    skipped = await face.book(f"{face.name}-s2", full)
    next_one = await face.book(f"{face.name}-s3", full)
    # s2 meanwhile books another class at the same time.
    overlapping = await face.new_class(5, starts_in=timedelta(days=2, minutes=30))
    assert (await face.book(f"{face.name}-s2", overlapping)).status == "CONFIRMED"

    await face.cancel(f"{face.name}-s1", holder.reservation_id)
    await settles(face, next_one.reservation_id, "CONFIRMED")
    passed = await face.get(skipped.reservation_id)
    assert (passed.status, passed.reason) == ("REJECTED", "WAITLIST_OVERLAPPING_BOOKING")
    now = await the_class(c, full)
    assert (now.booked, now.waiting) == (1, 0)
    await eventually(
        lambda: _kinds_are(c, f"{face.name}-s2", skipped.reservation_id, ["REJECTED", "WAITLISTED"])
    )


async def test_the_waitlist_closes_at_its_cutoff(c: Clients, face: Face) -> None:
    await set_studio(c, waitlist_cutoff=timedelta(0))
    class_id = await face.new_class(1, waitlist=3, starts_in=timedelta(hours=1))
    await face.book(f"{face.name}-x1", class_id)
    waiting = await face.book(f"{face.name}-x2", class_id)
    assert waiting.status == "WAITLISTED"
    # The studio closes waitlists 2 hours before: this one is past it now.
    await set_studio(c, waitlist_cutoff=timedelta(hours=2))
    await settles(face, waiting.reservation_id, "EXPIRED")
    assert (await face.get(waiting.reservation_id)).reason == "WAITLIST_CLOSED"
    assert (await the_class(c, class_id)).waiting == 0
    # After the cutoff a full class refuses; nobody joins its queue.
    late = await face.book(f"{face.name}-x3", class_id)
    assert (late.status, late.reason) == ("REJECTED", "CLASS_FULL")
    await eventually(
        lambda: _kinds_are(
            c, f"{face.name}-x2", waiting.reservation_id, ["WAITLISTED", "WAITLIST_EXPIRED"]
        )
    )


async def test_a_cancel_inside_the_window_is_late(c: Clients, face: Face) -> None:
    soon = await face.new_class(3, starts_in=timedelta(hours=1))
    later = await face.new_class(3, starts_in=timedelta(hours=13))
    late = await face.cancel(
        f"{face.name}-l1", (await face.book(f"{face.name}-l1", soon)).reservation_id
    )
    early = await face.cancel(
        f"{face.name}-l1", (await face.book(f"{face.name}-l1", later)).reservation_id
    )
    for_member = await face.book(f"{face.name}-l2", soon)
    by_staff = await face.cancel(STAFF, for_member.reservation_id)
    assert (late.status, late.reason) == ("CANCELLED", "LATE_CANCELLED")
    assert (early.status, early.reason) == ("CANCELLED", "CANCELLED_BY_USER")
    # Staff cancel for a member without the late mark.
    assert (by_staff.status, by_staff.reason) == ("CANCELLED", "CANCELLED_BY_USER")
    assert (await the_class(c, soon)).booked == 0


async def test_nothing_is_cancelled_after_the_start(c: Clients, face: Face) -> None:
    class_id = await face.new_class(2, starts_in=timedelta(seconds=3))
    booked = await face.book(f"{face.name}-t1", class_id)
    await asyncio.sleep(3.5)
    with pytest.raises(Refused) as refused:
        await face.cancel(f"{face.name}-t1", booked.reservation_id)
    assert (refused.value.code, refused.value.reason) == ("FAILED_PRECONDITION", "CLASS_STARTED")
    assert (await face.get(booked.reservation_id)).status == "CONFIRMED"
    assert (await the_class(c, class_id)).booked == 1


async def test_the_booking_limit_and_staffs_override(c: Clients, face: Face) -> None:
    await set_studio(c, booking_limit=1)
    first, second = await face.new_class(3), await face.new_class(3)
    assert (await face.book(f"{face.name}-b1", first)).status == "CONFIRMED"
    with pytest.raises(Refused) as refused:
        await face.book(f"{face.name}-b1", second)
    assert (refused.value.code, refused.value.reason) == ("FAILED_PRECONDITION", "BOOKING_LIMIT")
    assert (refused.value.metadata["limit"], refused.value.metadata["held"]) == ("1", "1")
    assert (await the_class(c, second)).booked == 0
    # Staff may book past it for the member, recorded as such.
    member = c.stack.user_id(f"{face.name}-b1")
    with pytest.raises(Refused):
        await face.staff_book(member, second, override=False)
    overridden = await face.staff_book(member, second, override=True)
    assert (overridden.status, overridden.limit_overridden) == ("CONFIRMED", True)
    # A member cannot override it.
    with pytest.raises(Refused) as denied:
        await face.book(f"{face.name}-b1", second, override=True)
    assert denied.value.code == "PERMISSION_DENIED"


async def test_strikes_block_online_booking_until_staff_lift_it(c: Clients, face: Face) -> None:
    await set_studio(c, strike_limit=1)
    soon = await face.new_class(3, starts_in=timedelta(hours=1))
    other = await face.new_class(3)
    user = f"{face.name}-k1"
    late = await face.cancel(user, (await face.book(user, soon)).reservation_id)
    assert late.reason == "LATE_CANCELLED"
    member = c.stack.user_id(user)

    async def blocked() -> bool:
        standing = await c.classes.GetMemberStanding(
            ypb.GetMemberStandingRequest(user_id=member), metadata=c.stack.as_admin()
        )
        return bool(standing.standing.HasField("blocked_until"))

    await eventually(blocked)
    with pytest.raises(Refused) as refused:
        await face.book(user, other)
    assert (refused.value.code, refused.value.reason) == ("FAILED_PRECONDITION", "BLOCKED")
    assert "blocked_until" in refused.value.metadata
    await c.classes.LiftBlock(ypb.LiftBlockRequest(user_id=member), metadata=c.stack.as_admin())
    assert (await face.book(user, other)).status == "CONFIRMED"


async def test_a_waitlist_cannot_shrink_below_its_queue(c: Clients, face: Face) -> None:
    class_id = await face.new_class(1, waitlist=2)
    await face.book(f"{face.name}-q1", class_id)
    await face.book(f"{face.name}-q2", class_id)
    await face.book(f"{face.name}-q3", class_id)
    before = await the_class(c, class_id)
    with pytest.raises(Refused) as refused:
        await face.set_waitlist(class_id, 1)
    assert (refused.value.code, refused.value.reason) == (
        "FAILED_PRECONDITION",
        "WAITLIST_BELOW_QUEUE",
    )
    with pytest.raises(Refused) as invalid:
        await face.set_waitlist(class_id, -1)
    assert invalid.value.code == "INVALID_ARGUMENT"
    assert await the_class(c, class_id) == before


@pytest.mark.parametrize("crashed", ["reservation", "yogaclass"])
async def test_a_crash_between_release_and_settlement_promotes_once(
    c: Clients, crashed: str
) -> None:
    face = GrpcFace(c)
    holder_user, waiting_user = f"{crashed}-p1", f"{crashed}-p2"
    class_id = await face.new_class(1, waitlist=1)
    holder = await face.book(holder_user, class_id)
    waiting = await face.book(waiting_user, class_id)
    process = c.stack.services[crashed]
    if crashed == "reservation":
        await face.cancel(
            holder_user, holder.reservation_id
        )  # released, promoted, event on its way
        process.stop(signal.SIGKILL)
    else:
        # SIGKILL as soon as the release commits: the promotion's event may still be unsent.
        cancel = asyncio.ensure_future(face.cancel(holder_user, holder.reservation_id))

        async def promoted() -> bool:
            return (await the_class(c, class_id)).waiting == 0

        await eventually(promoted)
        process.stop(signal.SIGKILL)
        await cancel
    process.start()
    process.wait_healthy()
    await settles(face, waiting.reservation_id, "CONFIRMED", within=30)
    now = await the_class(c, class_id)
    assert (now.booked, now.waiting) == (1, 0)
    await eventually(
        lambda: _kinds_are(c, waiting_user, waiting.reservation_id, ["PROMOTED", "WAITLISTED"])
    )
    await asyncio.sleep(1)  # a second promotion or notification would show by now
    assert await notification_kinds(c, waiting_user, waiting.reservation_id) == [
        "PROMOTED",
        "WAITLISTED",
    ]
