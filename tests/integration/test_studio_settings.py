"""The studio's settings and members' standing through a real yogaclass_svc (gRPC, SQLite and
PostgreSQL), strikes fed by real events on the reservation topic; and the settings as JSON
through the gateway."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from confluent_kafka import Producer
from google.protobuf.duration_pb2 import Duration
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message

from tests.integration.conftest import (
    BACKENDS,
    Clients,
    Stack,
    accounts,
    connect,
    system_under_test,
)
from tests.integration.events_support import drained, rows
from tests.integration.support import a_class, error_details, eventually, ts
from yoga.reservation.v1 import events_pb2 as rev
from yoga.reservation.v1 import reservation_pb2 as rpb
from yoga.yogaclass.v1 import events_pb2 as yev
from yoga.yogaclass.v1 import yogaclass_pb2 as ypb
from yoga_common.auth import ADMIN, SERVICE
from yoga_common.events import headers
from yoga_common.settings import AuthSettings
from yoga_common.timestamps import from_timestamp, utcnow
from yoga_common.topics import RESERVATION_EVENTS

ONLY = ("yogaclass",)


@pytest.fixture(scope="module", params=BACKENDS)
def stack(
    request: pytest.FixtureRequest, auth: AuthSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp(f"studio-{request.param}")
    with system_under_test(request.param, auth, folder, ONLY) as running:
        yield running


@pytest.fixture
async def c(stack: Stack) -> AsyncIterator[Clients]:
    async for clients in connect(stack):
        yield clients


def hours(n: float) -> Duration:
    d = Duration()
    d.FromTimedelta(timedelta(hours=n))
    return d


def days(n: int) -> Duration:
    return hours(24 * n)


async def refused(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call  # type: ignore[misc]
    return err.value


async def settings(
    c: Clients, who: tuple[tuple[str, str], ...] | None = None
) -> ypb.StudioSettings:
    answer = await c.classes.GetStudioSettings(
        ypb.GetStudioSettingsRequest(), metadata=who or c.stack.as_user("11")
    )
    return answer.settings


async def update(
    c: Clients, change: ypb.StudioSettings, mask: list[str] | None = None
) -> ypb.StudioSettings:
    answer = await c.classes.UpdateStudioSettings(
        ypb.UpdateStudioSettingsRequest(settings=change, update_mask=FieldMask(paths=mask or [])),
        metadata=c.stack.as_admin(),
    )
    return answer.settings


async def standing(c: Clients, user: str, as_user: str | None = None) -> ypb.MemberStanding:
    who = c.stack.as_user(as_user) if as_user else c.stack.as_admin()
    answer = await c.classes.GetMemberStanding(
        ypb.GetMemberStandingRequest(user_id=user), metadata=who
    )
    return answer.standing


def outbox_events(stack: Stack, event_type: type[Message], key: str) -> list[Message]:
    found = rows(
        stack,
        "yogaclass",
        "SELECT payload FROM outbox WHERE event_type = :t AND event_key = :k ORDER BY id",
        t=event_type.DESCRIPTOR.full_name,
        k=key,
    )
    return [event_type.FromString(bytes(payload)) for (payload,) in found]


def publish(stack: Stack, events: list[tuple[str, Message]]) -> None:
    """Puts (event id, message) on the stack's reservation topic, as reservation_svc's relay
    does (keyed by reservation id, CloudEvents headers)."""
    producer = Producer(stack.kafka.client_config())
    for event_id, message in events:
        reservation = message.reservation  # type: ignore[attr-defined]
        producer.produce(
            stack.kafka.name(RESERVATION_EVENTS),
            key=reservation.reservation_id.encode(),
            value=message.SerializeToString(),
            headers=headers(event_id, message.DESCRIPTOR.full_name, "test", utcnow(), None),
        )
    assert producer.flush(10) == 0


def reservation(user_id: str, status: int, reason: int = 0) -> rpb.Reservation:
    return rpb.Reservation(
        reservation_id=f"r-{uuid.uuid4().hex[:12]}",
        class_id="c-1",
        user_id=user_id,
        status=status,  # type: ignore[arg-type]
        reason=reason,  # type: ignore[arg-type]
        update_time=ts(datetime.now(UTC)),
        version=3,
    )


def late_cancel(user_id: str) -> rev.ReservationCancelled:
    return rev.ReservationCancelled(
        reservation=reservation(
            user_id, rpb.RESERVATION_STATUS_CANCELLED, rpb.RESERVATION_REASON_LATE_CANCELLED
        )
    )


def no_show(user_id: str) -> rev.ReservationNoShow:
    return rev.ReservationNoShow(reservation=reservation(user_id, rpb.RESERVATION_STATUS_NO_SHOW))


def with_ids(*messages: Message) -> list[tuple[str, Message]]:
    return [(str(uuid.uuid4()), m) for m in messages]


# --- settings --------------------------------------------------------------------------------


async def test_defaults_until_staff_change_them(c: Clients) -> None:
    found = await settings(c)
    assert found.waitlist_cutoff.ToTimedelta() == timedelta(hours=2)
    assert found.cancellation_window.ToTimedelta() == timedelta(hours=12)
    assert found.check_in_opens.ToTimedelta() == timedelta(minutes=30)
    assert found.no_show_grace.ToTimedelta() == timedelta(minutes=15)
    assert found.strike_period.ToTimedelta() == timedelta(days=30)
    assert found.block_duration.ToTimedelta() == timedelta(days=7)
    assert (found.strike_limit, found.booking_limit, found.version) == (0, 0, 0)
    assert not found.HasField("update_time")
    assert await settings(c, c.stack.as_admin()) == found


async def test_staff_change_the_fields_they_set_and_members_cannot(c: Clients) -> None:
    before = await settings(c)
    # No mask: the fields the request sets.
    changed = await update(c, ypb.StudioSettings(cancellation_window=hours(6), booking_limit=3))
    assert changed.cancellation_window.ToTimedelta() == timedelta(hours=6)
    assert changed.booking_limit == 3
    assert changed.waitlist_cutoff == before.waitlist_cutoff
    assert changed.version == before.version + 1
    assert changed.HasField("update_time")
    assert await settings(c) == changed
    events = outbox_events(c.stack, yev.StudioSettingsChanged, "studio")
    assert list(events[-1].changed_fields) == ["cancellation_window", "booking_limit"]  # type: ignore[attr-defined]

    # A mask names a field set to zero.
    zero = await update(c, ypb.StudioSettings(no_show_grace=hours(0)), ["no_show_grace"])
    assert zero.no_show_grace.ToTimedelta() == timedelta()
    assert zero.version == changed.version + 1
    # The same values again: no change, no new version, no event.
    again = await update(c, ypb.StudioSettings(booking_limit=3))
    assert again == zero
    assert len(outbox_events(c.stack, yev.StudioSettingsChanged, "studio")) == len(events) + 1

    err = await refused(
        c.classes.UpdateStudioSettings(
            ypb.UpdateStudioSettingsRequest(settings=ypb.StudioSettings(booking_limit=9)),
            metadata=c.stack.as_user("11"),
        )
    )
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    assert await settings(c) == zero


@pytest.mark.parametrize(
    ("change", "mask", "fields"),
    [
        (ypb.StudioSettings(waitlist_cutoff=hours(-1)), [], ["settings.waitlist_cutoff"]),
        (
            ypb.StudioSettings(booking_limit=1001, strike_limit=-1, cancellation_window=days(8)),
            [],
            ["settings.cancellation_window", "settings.strike_limit", "settings.booking_limit"],
        ),
        (
            ypb.StudioSettings(strike_limit=3, block_duration=hours(2)),
            [],
            ["settings.block_duration"],
        ),
        (
            ypb.StudioSettings(check_in_opens=Duration(seconds=60, nanos=5)),
            [],
            ["settings.check_in_opens"],
        ),
        (ypb.StudioSettings(version=7), ["version"], ["update_mask.paths"]),
        (ypb.StudioSettings(), ["strike_period"], ["settings.strike_period"]),
        (ypb.StudioSettings(), [], ["update_mask"]),
    ],
)
async def test_bad_input_names_the_field_and_changes_nothing(
    c: Clients, change: ypb.StudioSettings, mask: list[str], fields: list[str]
) -> None:
    before = await settings(c)
    err = await refused(update(c, change, mask))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert sorted(error_details(err)[1]) == sorted(fields)
    assert await settings(c) == before


# --- standing --------------------------------------------------------------------------------


async def test_strikes_block_at_the_limit_once_and_a_lift_clears_them(c: Clients) -> None:
    await update(
        c, ypb.StudioSettings(strike_limit=2, strike_period=days(30), block_duration=days(7))
    )
    user = c.stack.user_id("striker-1")
    other = c.stack.user_id("striker-2")
    # A cancel in time is no strike; a late cancel is one.
    in_time = rev.ReservationCancelled(
        reservation=reservation(
            user, rpb.RESERVATION_STATUS_CANCELLED, rpb.RESERVATION_REASON_CANCELLED_BY_USER
        )
    )
    first = with_ids(in_time, late_cancel(user))
    publish(c.stack, first)

    async def strikes(n: int) -> bool:
        return (await standing(c, user)).strikes == n

    await eventually(lambda: strikes(1), within=30)
    assert not (await standing(c, user)).HasField("blocked_until")

    # The second strike reaches the limit: blocked for a week, MemberBlocked once.
    second = with_ids(no_show(user))
    published = datetime.now(UTC)
    publish(c.stack, second)
    await eventually(lambda: strikes(2), within=30)
    blocked = await standing(c, user)
    until = from_timestamp(blocked.blocked_until)
    assert published + timedelta(days=7) - timedelta(minutes=1) < until
    assert until < datetime.now(UTC) + timedelta(days=7, minutes=1)

    # Replays: the same events under their ids (the inbox), and the same facts under new ids
    # (the strike's reservation): nothing counts twice, nobody is blocked twice.
    third_party = with_ids(late_cancel(other))
    publish(c.stack, [*first, *second, *with_ids(*(m for _, m in first + second)), *third_party])
    await drained(c.stack, ["yogaclass"], within=60)
    assert (await standing(c, user)).strikes == 2
    assert (await standing(c, other)).strikes == 1
    shown = outbox_events(c.stack, yev.MemberBlocked, user)
    assert len(shown) == 1
    assert shown[0].standing.strikes == 2  # type: ignore[attr-defined]
    assert shown[0].standing.blocked_until == blocked.blocked_until  # type: ignore[attr-defined]
    assert outbox_events(c.stack, yev.MemberBlocked, other) == []

    # The member reads their own standing (as `me` too); another member may not.
    mine = await standing(c, "me", as_user="striker-1")
    assert mine == await standing(c, user, as_user="striker-1") == blocked
    err = await refused(standing(c, user, as_user="striker-2"))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    err = await refused(
        c.classes.LiftBlock(
            ypb.LiftBlockRequest(user_id=user), metadata=c.stack.as_user("striker-1")
        )
    )
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED

    # Staff lift the block: it ends, the strikes so far stop counting, BlockLifted once.
    lifted = await c.classes.LiftBlock(
        ypb.LiftBlockRequest(user_id=user), metadata=c.stack.as_admin()
    )
    assert not lifted.standing.HasField("blocked_until")
    assert lifted.standing.HasField("lifted_time")
    assert lifted.standing.strikes == 0
    again = await c.classes.LiftBlock(
        ypb.LiftBlockRequest(user_id=user), metadata=c.stack.as_admin()
    )
    assert again.standing == lifted.standing
    assert len(outbox_events(c.stack, yev.BlockLifted, user)) == 1
    assert await standing(c, user) == lifted.standing

    # A new strike after the lift counts from zero again.
    publish(c.stack, with_ids(no_show(user)))
    await eventually(lambda: strikes(1), within=30)
    assert not (await standing(c, user)).HasField("blocked_until")


async def test_standing_shows_held_upcoming_bookings_and_the_limit(c: Clients) -> None:
    await update(c, ypb.StudioSettings(booking_limit=4))
    user = c.stack.user_id("holder-1")
    service = (("authorization", f"Bearer {accounts().token('test', SERVICE)}"),)
    created = await c.classes.CreateClass(
        ypb.CreateClassRequest(yoga_class=a_class(5)), metadata=c.stack.as_admin()
    )
    class_id = created.yoga_class.class_id
    for n in range(2):
        await c.classes.ReserveSeat(
            ypb.ReserveSeatRequest(class_id=class_id, reservation_id=f"h-{user}-{n}", user_id=user),
            metadata=service,
        )
    await c.classes.ReleaseSeat(
        ypb.ReleaseSeatRequest(class_id=class_id, reservation_id=f"h-{user}-1"), metadata=service
    )
    shown = await standing(c, "me", as_user="holder-1")
    assert (shown.user_id, shown.held_bookings, shown.booking_limit) == (user, 1, 4)
    assert (shown.strikes, shown.HasField("blocked_until")) == (0, False)
    # A class cancelled by the studio holds nothing any more.
    await c.classes.DeleteClass(
        ypb.DeleteClassRequest(class_id=class_id), metadata=c.stack.as_admin()
    )
    assert (await standing(c, user)).held_bookings == 0


# --- JSON through the gateway ----------------------------------------------------------------


@pytest.fixture(scope="module")
def gateway(auth: AuthSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("studio-gateway")
    with system_under_test("sqlite", auth, folder, ONLY, gateway=True) as running:
        assert running.envoy is not None
        yield running


async def test_settings_as_json_through_the_gateway(gateway: Stack) -> None:
    member = gateway.json("11")
    staff = gateway.json("staff-1", ADMIN)
    found = await asyncio.to_thread(member.ok, "GET", "/v1/studio/settings")
    assert found["settings"]["cancellationWindow"] == "43200s"
    assert found["settings"].get("version", "0") == "0"

    changed = await asyncio.to_thread(
        staff.ok, "PATCH", "/v1/studio/settings", {"strikeLimit": 3, "waitlistCutoff": "3600s"}
    )
    assert changed["settings"]["strikeLimit"] == 3
    assert changed["settings"]["waitlistCutoff"] == "3600s"
    assert changed["settings"]["version"] == "1"

    refused_member = await asyncio.to_thread(
        member.call, "PATCH", "/v1/studio/settings", {"bookingLimit": 2}
    )
    assert refused_member.status == 403
    bad = await asyncio.to_thread(
        staff.call, "PATCH", "/v1/studio/settings", {"bookingLimit": 5000, "noShowGrace": "-60s"}
    )
    assert bad.status == 400
    assert sorted(bad.violations()) == ["settings.booking_limit", "settings.no_show_grace"]
    after = await asyncio.to_thread(member.ok, "GET", "/v1/studio/settings")
    assert after["settings"] == changed["settings"]
