"""The Envoy gateway (one listener, JSON and gRPC) in front of the four real services (SQLite),
with a real Kafka broker and SMTP server behind them: every JSON route of DESIGN.md §2, the seed
scenario as JSON and as gRPC through the gateway, errors as JSON bodies with gRPC codes,
the internal RPCs refused, identity headers dropped, the configuration and descriptor checked."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import grpc
import pytest
from grpc_status import rpc_status

from devtools import envoy
from devtools import gateway_config as gateway
from devtools.processes import free_port
from tests.integration.conftest import ALL, Stack, accounts, system_under_test
from tests.integration.events_support import Mailbox
from tests.integration.gateway_support import (
    Answer,
    JsonClient,
    Recorder,
    booked_then_cancelled_arrived,
    booking,
    class_json,
    rfc3339,
    until,
)
from tests.integration.support import a_class, error_details, eventually, request_id
from yoga.mypage.v1 import mypage_pb2 as mpb
from yoga.mypage.v1 import mypage_pb2_grpc
from yoga.notification.v1 import notification_pb2_grpc
from yoga.reservation.v1 import reservation_pb2 as rpb
from yoga.reservation.v1 import reservation_pb2_grpc
from yoga.yogaclass.v1 import yogaclass_pb2 as ypb
from yoga.yogaclass.v1 import yogaclass_pb2_grpc
from yoga_common.auth import ADMIN, SERVICE
from yoga_common.settings import AuthSettings

ROOT = Path(__file__).resolve().parents[2]
RESERVE_SEAT = "/yoga.yogaclass.v1.YogaClassService/ReserveSeat"
RELEASE_SEAT = "/yoga.yogaclass.v1.YogaClassService/ReleaseSeat"
RESERVE_SEATS = "/yoga.yogaclass.v1.YogaClassService/ReserveSeats"


@dataclass
class Gateway:
    stack: Stack
    envoy: envoy.EnvoyProcess
    folder: Path

    def json(self, user: str | None = None, role: str = "member") -> JsonClient:
        token = self.stack.token(user, role) if user else None
        return JsonClient("127.0.0.1", self.envoy.listen_port, token)

    def admin(self) -> JsonClient:
        return self.json("staff-1", ADMIN)

    def uid(self, user: str) -> str:
        """The member's id in the system: the provider's id of development user `user`."""
        return self.stack.user_id(user)

    def targets(self) -> dict[str, str]:
        return self.stack.targets()


@pytest.fixture(scope="module")
def gw(auth: AuthSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    folder = tmp_path_factory.mktemp("gateway")
    mailbox = Mailbox(free_port())
    mailbox.start()
    try:
        with system_under_test(
            "sqlite", auth, folder, ALL, pending_grace=1.0, smtp_port=mailbox.port, gateway=True
        ) as stack:
            assert stack.envoy is not None
            yield Gateway(stack, stack.envoy, folder)
    finally:
        mailbox.stop()


def new_class(gw: Gateway, capacity: int = 2, **fields: Any) -> dict[str, Any]:
    body = {**class_json(capacity, title=f"Flow {uuid.uuid4().hex[:6]}"), **fields}
    created = gw.admin().ok("POST", "/v1/classes", body)
    return dict(created["yogaClass"])


def booked(gw: Gateway, class_id: str) -> int:
    return int(gw.json("11").ok("GET", f"/v1/classes/{class_id}")["yogaClass"]["booked"])


# --- the configuration -----------------------------------------------------------------------


def test_descriptor_matches_protos() -> None:
    """The descriptor set Envoy loads is envoy/yoga.pb, and it is what buf builds from protos/."""
    done = subprocess.run(
        [str(ROOT / "scripts" / "build_descriptor.sh"), "--check"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    config = gateway.build_config(8088, {name: "127.0.0.1:1" for name in gateway.SERVICES})
    filters = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"]
    http_filters = filters[0]["typed_config"]["http_filters"]
    transcoder = next(f for f in http_filters if f["name"].endswith("grpc_json_transcoder"))
    assert transcoder["typed_config"]["proto_descriptor"] == str(gateway.DESCRIPTOR)
    assert gateway.DESCRIPTOR == ROOT / "envoy" / "yoga.pb"


def test_rendered_config_is_valid_for_envoy(gw: Gateway, tmp_path: Path) -> None:
    """`envoy --mode validate` on exactly what `render_config` writes (it loads the descriptor
    set too): a configuration error fails here, never skips."""
    path = tmp_path / "envoy.yaml"
    path.write_text(
        gateway.render_config(8088, gw.targets(), admin_port=0, opts=gw.stack.gateway_opts())
    )
    envoy.validate(path)
    assert gateway.internal_methods() == [RESERVE_SEAT, RESERVE_SEATS, RELEASE_SEAT]


def test_broken_config_fails_to_start(gw: Gateway, tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    missing = tmp_path / "no-such-descriptor.pb"
    bad.write_text(
        gateway.render_config(free_port(), gw.targets(), missing, opts=gw.stack.gateway_opts())
    )
    with pytest.raises(RuntimeError, match="envoy rejects"):
        envoy.validate(bad)
    broken = envoy.EnvoyProcess(bad, tmp_path / "broken.log", free_port())
    broken.start()
    try:
        with pytest.raises(RuntimeError, match="envoy exited"):
            broken.wait_ready(timeout=20)
    finally:
        broken.stop()
    with pytest.raises(ValueError, match="targets must name"):
        gateway.render_config(8088, {"yogaclass": "127.0.0.1:1"}, tmp_path)


# --- every JSON route --------------------------------------------------------------------------


def test_class_routes(gw: Gateway) -> None:
    admin, member = gw.admin(), gw.json("11")
    start = datetime(2031, 3, 1, 9, tzinfo=UTC) + timedelta(days=int(uuid.uuid4().int % 3000))
    created = admin.ok("POST", "/v1/classes", class_json(3, "Yin", start))["yogaClass"]
    # proto3 JSON: lowerCamelCase names, enums by name, int64 as a string, zeros printed.
    assert created["title"] == "Yin"
    assert created["startTime"] == rfc3339(start)
    assert created["timeZone"] == "Asia/Seoul"
    assert (created["capacity"], created["booked"], created["version"]) == (3, 0, "1")
    assert created["status"] == "CLASS_STATUS_SCHEDULED"
    class_id = created["classId"]
    assert member.ok("GET", f"/v1/classes/{class_id}") == {"yogaClass": created}

    later = [
        admin.ok("POST", "/v1/classes", class_json(3, f"Hour {h}", start + timedelta(hours=h)))
        for h in (1, 2)
    ]
    window = f"startTime={rfc3339(start)}&endTime={rfc3339(start + timedelta(hours=3))}"
    first = member.ok("GET", f"/v1/classes?{window}&pageSize=2")
    assert [c["classId"] for c in first["yogaClasses"]] == [
        class_id,
        later[0]["yogaClass"]["classId"],
    ]
    second = member.ok("GET", f"/v1/classes?{window}&pageSize=2&pageToken={first['nextPageToken']}")
    assert [c["classId"] for c in second["yogaClasses"]] == [later[1]["yogaClass"]["classId"]]
    assert second["nextPageToken"] == ""
    snake = member.ok(
        "GET",
        f"/v1/classes?start_time={rfc3339(start)}&end_time={rfc3339(start + timedelta(hours=1))}"
        "&page_size=5",
    )
    assert [c["classId"] for c in snake["yogaClasses"]] == [class_id]

    updated = admin.ok(
        "PATCH",
        f"/v1/classes/{class_id}?updateMask=title,capacity",
        {"title": "Yin Yang", "capacity": 5, "instructor": "not in the mask"},
    )["yogaClass"]
    assert (updated["title"], updated["capacity"], updated["instructor"]) == (
        "Yin Yang",
        5,
        "Jiwoo",
    )
    assert updated["version"] == "2"

    deleted = admin.ok("DELETE", f"/v1/classes/{class_id}")["yogaClass"]
    assert deleted["status"] == "CLASS_STATUS_CANCELLED"
    kept = member.ok("GET", f"/v1/classes/{class_id}")["yogaClass"]
    assert (kept["status"], kept["title"]) == ("CLASS_STATUS_CANCELLED", "Yin Yang")


def test_seed_scenario_as_json(gw: Gateway) -> None:
    """The seed demo through the gateway only: 2 seats; 11 and 12 get them, 13 is refused;
    11 cancels; 13 books again and gets the freed seat. Notifications and my page follow."""
    yoga_class = new_class(gw, 2)
    class_id = yoga_class["classId"]
    users = {u: gw.json(u) for u in ("11", "12", "13")}

    def book(user: str) -> dict[str, Any]:
        return dict(users[user].ok("POST", "/v1/reservations", booking(class_id))["reservation"])

    r11, r12, r13 = book("11"), book("12"), book("13")
    assert (r11["status"], r12["status"]) == ("RESERVATION_STATUS_CONFIRMED",) * 2
    assert (r11["userId"], r11["classTitle"]) == (gw.uid("11"), yoga_class["title"])
    assert r11["classStartTime"] == yoga_class["startTime"]
    assert (r13["status"], r13["reason"]) == (
        "RESERVATION_STATUS_REJECTED",
        "RESERVATION_REASON_CLASS_FULL",
    )
    assert booked(gw, class_id) == 2

    cancelled = users["11"].ok("POST", f"/v1/reservations/{r11['reservationId']}:cancel")
    assert (cancelled["reservation"]["status"], cancelled["reservation"]["reason"]) == (
        "RESERVATION_STATUS_CANCELLED",
        "RESERVATION_REASON_CANCELLED_BY_USER",
    )
    assert booked(gw, class_id) == 1
    again = book("13")
    assert again["status"] == "RESERVATION_STATUS_CONFIRMED"
    assert booked(gw, class_id) == 2

    got = users["13"].ok("GET", f"/v1/reservations/{again['reservationId']}")
    assert got == {"reservation": again}
    own = users["13"].ok("GET", f"/v1/reservations?classId={class_id}")["reservations"]
    assert {r["reservationId"] for r in own} == {r13["reservationId"], again["reservationId"]}
    everyone = gw.admin().ok("GET", f"/v1/reservations?class_id={class_id}&pageSize=10")
    assert len(everyone["reservations"]) == 4
    of_12 = gw.admin().ok("GET", f"/v1/reservations?classId={class_id}&userId={gw.uid('12')}")
    assert [r["reservationId"] for r in of_12["reservations"]] == [r12["reservationId"]]

    def kinds(user: str) -> list[str]:
        page = users[user].ok("GET", f"/v1/users/{gw.uid(user)}/notifications?pageSize=50")
        return sorted(n["kind"] for n in page["notifications"] if n["classId"] == class_id)

    def page(user: str) -> list[tuple[str, str]]:
        entries = users[user].ok("GET", "/v1/users/me/mypage?pageSize=100")["entries"]
        return [(e["status"], e["reason"]) for e in entries if e["classId"] == class_id]

    until(
        lambda: (
            kinds("11") == ["NOTIFICATION_KIND_BOOKED", "NOTIFICATION_KIND_CANCELLED"]
            and kinds("13") == ["NOTIFICATION_KIND_BOOKED", "NOTIFICATION_KIND_REJECTED"]
            and page("11")
            == [("RESERVATION_STATUS_CANCELLED", "RESERVATION_REASON_CANCELLED_BY_USER")]
            and sorted(page("13"))
            == [
                ("RESERVATION_STATUS_CONFIRMED", "RESERVATION_REASON_UNSPECIFIED"),
                ("RESERVATION_STATUS_REJECTED", "RESERVATION_REASON_CLASS_FULL"),
            ]
        )
    )
    notification = users["11"].ok("GET", "/v1/users/me/notifications")["notifications"][0]
    assert {"notificationId", "subject", "body", "emailState", "createTime"} <= set(notification)
    mypage = users["11"].ok("GET", f"/v1/users/{gw.uid('11')}/mypage?pageSize=100")
    assert mypage["userId"] == gw.uid("11")
    mine = [e for e in mypage["entries"] if e["classId"] == class_id]
    assert mine[0]["classTitle"] == yoga_class["title"]
    # Paged as JSON too: the page size and the token travel as query parameters.
    listed = [e["reservationId"] for e in mypage["entries"]]
    first = users["11"].ok("GET", "/v1/users/me/mypage?pageSize=1")
    assert [e["reservationId"] for e in first["entries"]] == listed[:1]
    if len(listed) > 1:
        token = quote(first["nextPageToken"])
        second = users["11"].ok("GET", f"/v1/users/me/mypage?pageSize=1&pageToken={token}")
        assert [e["reservationId"] for e in second["entries"]] == listed[1:2]
    else:
        assert first["nextPageToken"] == ""


def test_cancel_path_decides_which_reservation(gw: Gateway) -> None:
    """`POST /v1/reservations/A:cancel` with another id in the body cancels A, never the other."""
    class_id = new_class(gw, 3)["classId"]
    member = gw.json("11")
    mine = member.ok("POST", "/v1/reservations", booking(class_id))["reservation"]
    other = gw.json("12").ok("POST", "/v1/reservations", booking(class_id))["reservation"]
    answer = member.post(
        f"/v1/reservations/{mine['reservationId']}:cancel",
        {"reservationId": other["reservationId"]},
    )
    if answer.status == 200:
        assert answer.json["reservation"]["reservationId"] == mine["reservationId"]
    else:
        assert answer.status == 400, answer
    still = gw.json("12").ok("GET", f"/v1/reservations/{other['reservationId']}")
    assert still["reservation"]["status"] == "RESERVATION_STATUS_CONFIRMED"


# --- errors ------------------------------------------------------------------------------------


def expect(answer: Answer, status: int, code: int, reason: str | None = None) -> Answer:
    assert answer.status == status, answer
    got_code, message, details = answer.error()
    assert got_code == code, answer
    assert message, answer
    if reason is not None:
        assert answer.reason() == reason, answer
        assert details
    return answer


def test_errors_are_json_with_grpc_codes(gw: Gateway) -> None:
    admin, member = gw.admin(), gw.json("11")
    class_id = new_class(gw, 1)["classId"]

    # Envoy's own replies.
    expect(admin.post("/v1/classes", raw=b'{"title": '), 400, 3, "INVALID_ARGUMENT")
    expect(member.get("/v1/classes?colour=blue"), 400, 3, "INVALID_ARGUMENT")
    expect(member.get("/v1/studios"), 404, 5, "ROUTE_NOT_FOUND")
    expect(member.call("PUT", f"/v1/classes/{class_id}", {}), 404, 5, "ROUTE_NOT_FOUND")
    expect(gw.json().get(f"/v1/classes/{class_id}"), 401, 16, "UNAUTHENTICATED")
    expect(member.as_("not.a.token").get(f"/v1/classes/{class_id}"), 401, 16, "UNAUTHENTICATED")
    big = class_json(2, title="x" * 100_000)
    expect(admin.post("/v1/classes", big), 413, 8, "REQUEST_TOO_LARGE")

    # The services' errors, with their details.
    expect(member.post("/v1/classes", class_json()), 403, 7, "PERMISSION_DENIED")
    expect(member.get("/v1/classes/no-such-class"), 404, 5, "CLASS_NOT_FOUND")
    member.ok("POST", "/v1/reservations", booking(class_id))
    expect(member.post("/v1/reservations", booking(class_id)), 409, 6, "ALREADY_BOOKED")
    bad = expect(admin.post("/v1/classes", class_json(0, title=" ")), 400, 3, "INVALID_ARGUMENT")
    assert set(bad.violations()) == {"yoga_class.title", "yoga_class.capacity"}
    expect(gw.json("12").get(f"/v1/users/{gw.uid('11')}/mypage"), 403, 7, "PERMISSION_DENIED")


def test_paths_outside_the_api_belong_to_the_web_app(gw: Gateway) -> None:
    """Neither /v1/ nor gRPC: the web app's, without a token (tests/integration/
    test_web_serving.py serves one). This stack runs none, so the gateway answers UNAVAILABLE,
    not 401 or ROUTE_NOT_FOUND as before the web app."""
    for path in ("/", "/timetable", "/assets/index-1.js", "/config.json"):
        expect(gw.json().get(path), 503, 14, "UNAVAILABLE")
    # The OpenAPI document too, but only for reading; anything else under /v1/ is the API's.
    expect(gw.json().get("/v1/openapi.json"), 503, 14, "UNAVAILABLE")
    expect(gw.json().post("/v1/openapi.json", {}), 401, 16, "UNAUTHENTICATED")
    expect(gw.json("11").get("/v1/"), 404, 5, "ROUTE_NOT_FOUND")


def test_a_token_only_in_the_query_string_is_not_accepted(gw: Gateway) -> None:
    """Forged, expired and foreign tokens: tests/integration/test_sign_in.py."""
    token = gw.stack.token("11")
    expect(gw.json().get(f"/v1/classes?access_token={token}"), 401, 16, "UNAUTHENTICATED")


def test_cors_for_localhost_pages(gw: Gateway) -> None:
    preflight = gw.json().call(
        "OPTIONS",
        "/v1/classes",
        headers={
            "origin": "http://localhost:5173",
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type",
        },
    )
    assert preflight.status == 200, preflight
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:5173"
    for method in ("GET", "POST", "PATCH", "DELETE", "OPTIONS"):
        assert method in preflight.headers["access-control-allow-methods"]
    allowed = preflight.headers["access-control-allow-headers"]
    assert {"authorization", "content-type", "x-request-id"} <= {
        h.strip() for h in allowed.split(",")
    }
    actual = gw.json("11").get("/v1/classes", headers={"origin": "http://127.0.0.1:8000"})
    assert actual.status == 200
    assert actual.headers["access-control-allow-origin"] == "http://127.0.0.1:8000"
    refused = gw.json().get("/v1/classes", headers={"origin": "http://localhost:3000"})
    assert refused.status == 401  # a browser can read the error too
    assert refused.headers["access-control-allow-origin"] == "http://localhost:3000"
    foreign = gw.json("11").get("/v1/classes", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in foreign.headers


# --- internal RPCs and identity headers ---------------------------------------------------------


async def test_internal_rpcs_are_refused_as_json_and_grpc(gw: Gateway) -> None:
    yoga_class = await asyncio.to_thread(new_class, gw, 2)
    class_id = yoga_class["classId"]
    service_token = accounts().token("x", SERVICE)
    as_service = gw.json().as_(service_token)
    body = {"classId": class_id, "reservationId": str(uuid.uuid4()), "userId": "11"}
    for path in (RESERVE_SEAT, RELEASE_SEAT):
        answer = await asyncio.to_thread(as_service.post, path, body)
        expect(answer, 404, 5)

    metadata = (("authorization", f"Bearer {service_token}"),)
    async with grpc.aio.insecure_channel(gw.envoy.target) as channel:
        stub = yogaclass_pb2_grpc.YogaClassServiceStub(channel)
        request = ypb.ReserveSeatRequest(
            class_id=class_id, reservation_id=str(uuid.uuid4()), user_id="11"
        )
        for call in (stub.ReserveSeat, stub.ReleaseSeat):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await call(request, metadata=metadata, timeout=10)
            assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.ReserveSeats(
                ypb.ReserveSeatsRequest(items=[request]), metadata=metadata, timeout=10
            )
        assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
        # Spelled differently, the path is normalized before routing, or refused.
        for path in (
            "/yoga.yogaclass.v1.YogaClassService/%52eserveSeat",
            "//yoga.yogaclass.v1.YogaClassService//ReserveSeat",
            "/yoga.yogaclass.v1.YogaClassService%2FReserveSeat",
            "/yoga.yogaclass.v1.YogaClassService/./ReserveSeat",
        ):
            raw = channel.unary_unary(
                path,
                request_serializer=ypb.ReserveSeatRequest.SerializeToString,
                response_deserializer=ypb.ReserveSeatResponse.FromString,
            )
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await raw(request, metadata=metadata, timeout=10)
            assert err.value.code() in (
                grpc.StatusCode.UNIMPLEMENTED,
                grpc.StatusCode.INVALID_ARGUMENT,
            ), (path, err.value)
    assert await asyncio.to_thread(booked, gw, class_id) == 0


def test_forged_identity_headers_change_nothing(gw: Gateway) -> None:
    class_id = new_class(gw, 3)["classId"]
    forged = {
        "x-user-id": "12",
        "x-user-role": "admin",
        "x-jwt-payload": "eyJzdWIiOiIxMiJ9",
        "x-forwarded-user": "12",
    }
    member = gw.json("11")
    member.headers.update(forged)
    made = member.ok("POST", "/v1/reservations", booking(class_id))["reservation"]
    assert made["userId"] == gw.uid("11")
    gw.json("12").ok("POST", "/v1/reservations", booking(class_id))
    listed = member.ok("GET", f"/v1/reservations?classId={class_id}")["reservations"]
    assert [r["userId"] for r in listed] == [gw.uid("11")]
    expect(member.get(f"/v1/users/{gw.uid('12')}/mypage"), 403, 7, "PERMISSION_DENIED")
    expect(member.post("/v1/classes", class_json()), 403, 7, "PERMISSION_DENIED")


async def test_gateway_forwards_the_token_and_drops_identity_headers(
    gw: Gateway, tmp_path: Path
) -> None:
    """What reaches a service through Envoy, seen by a recording server in mypage's place."""
    recorder = Recorder()
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((recorder,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    proxy = None
    try:
        targets = {**gw.targets(), "mypage": f"127.0.0.1:{port}"}
        proxy = await asyncio.to_thread(
            envoy.start_gateway,
            tmp_path,
            free_port(),
            targets,
            gateway.DESCRIPTOR,
            dataclasses.replace(gw.stack.gateway_opts(), access_log=False),
        )
        token = gw.stack.token("11")
        forged = {
            "x-user-id": "12",
            "x_user_id": "12",
            "x-user-role": "admin",
            "x-jwt-payload": "e30",
            "x-forwarded-user": "12",
        }
        client = JsonClient("127.0.0.1", proxy.listen_port, token, forged)
        member = gw.uid("11")
        answer = await asyncio.to_thread(client.get, f"/v1/users/{member}/mypage")
        assert answer.status == 200, answer
        assert answer.json == {"userId": member, "entries": [], "nextPageToken": ""}
        async with grpc.aio.insecure_channel(proxy.target) as channel:
            stub = mypage_pb2_grpc.MyPageServiceStub(channel)
            metadata = (("authorization", f"Bearer {token}"), *forged.items())
            await stub.GetMyPage(mpb.GetMyPageRequest(user_id=member), metadata=metadata)
    finally:
        if proxy:
            proxy.stop()
        await server.stop(None)
    assert len(recorder.seen) == 2
    for seen in recorder.seen:
        assert seen["authorization"] == f"Bearer {token}"
        assert not {"x-user-id", "x_user_id", "x-user-role", "x-jwt-payload"} & set(seen), seen
        assert "x-forwarded-user" not in seen


# --- the same calls as gRPC through the gateway ----------------------------------------------


@dataclass
class GrpcThroughGateway:
    classes: yogaclass_pb2_grpc.YogaClassServiceStub
    reservations: reservation_pb2_grpc.ReservationServiceStub
    notifications: notification_pb2_grpc.NotificationServiceStub
    mypage: mypage_pb2_grpc.MyPageServiceStub


@pytest.fixture
async def via(gw: Gateway) -> AsyncIterator[GrpcThroughGateway]:
    async with grpc.aio.insecure_channel(gw.envoy.target) as channel:
        yield GrpcThroughGateway(
            yogaclass_pb2_grpc.YogaClassServiceStub(channel),
            reservation_pb2_grpc.ReservationServiceStub(channel),
            notification_pb2_grpc.NotificationServiceStub(channel),
            mypage_pb2_grpc.MyPageServiceStub(channel),
        )


async def test_seed_scenario_as_grpc_through_the_gateway(
    gw: Gateway, via: GrpcThroughGateway
) -> None:
    stack = gw.stack
    created = await via.classes.CreateClass(
        ypb.CreateClassRequest(yoga_class=a_class(2)), metadata=stack.as_admin()
    )
    class_id = created.yoga_class.class_id

    async def book(user: str) -> rpb.Reservation:
        answer = await via.reservations.CreateReservation(
            rpb.CreateReservationRequest(class_id=class_id, request_id=request_id()),
            metadata=stack.as_user(user),
        )
        return answer.reservation

    async def seats() -> int:
        answer = await via.classes.GetClass(
            ypb.GetClassRequest(class_id=class_id), metadata=stack.as_user("11")
        )
        return answer.yoga_class.booked

    r11, r12, r13 = await book("11"), await book("12"), await book("13")
    assert (r11.status, r12.status) == (rpb.RESERVATION_STATUS_CONFIRMED,) * 2
    assert (r13.status, r13.reason) == (
        rpb.RESERVATION_STATUS_REJECTED,
        rpb.RESERVATION_REASON_CLASS_FULL,
    )
    await via.reservations.CancelReservation(
        rpb.CancelReservationRequest(reservation_id=r11.reservation_id),
        metadata=stack.as_user("11"),
    )
    assert await seats() == 1
    assert (await book("13")).status == rpb.RESERVATION_STATUS_CONFIRMED
    assert await seats() == 2
    listed = await via.reservations.ListReservations(
        rpb.ListReservationsRequest(class_id=class_id), metadata=stack.as_user("13")
    )
    assert len(listed.reservations) == 2
    got = await via.reservations.GetReservation(
        rpb.GetReservationRequest(reservation_id=r12.reservation_id), metadata=stack.as_user("12")
    )
    assert got.reservation.status == rpb.RESERVATION_STATUS_CONFIRMED

    async def arrived() -> bool:
        return await booked_then_cancelled_arrived(
            via.notifications, via.mypage, stack.as_user("11"), class_id
        )

    await eventually(arrived, within=20.0)


async def test_grpc_errors_through_the_gateway(gw: Gateway, via: GrpcThroughGateway) -> None:
    async def refused(call: Any) -> grpc.aio.AioRpcError:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        return err.value

    missing = await refused(via.classes.GetClass(ypb.GetClassRequest(class_id="x")))
    assert missing.code() == grpc.StatusCode.UNAUTHENTICATED
    unknown = await refused(
        via.classes.GetClass(ypb.GetClassRequest(class_id="nope"), metadata=gw.stack.as_user("11"))
    )
    assert unknown.code() == grpc.StatusCode.NOT_FOUND
    assert error_details(unknown)[0] == "CLASS_NOT_FOUND"
    member = await refused(
        via.classes.CreateClass(
            ypb.CreateClassRequest(yoga_class=a_class()), metadata=gw.stack.as_user("11")
        )
    )
    assert member.code() == grpc.StatusCode.PERMISSION_DENIED
    bad = await refused(
        via.classes.CreateClass(ypb.CreateClassRequest(), metadata=gw.stack.as_admin())
    )
    assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(bad)[1] == ["yoga_class"]
    assert rpc_status.from_call(bad) is not None
    huge = a_class()
    huge.title = "x" * 100_000
    too_big = await refused(
        via.classes.CreateClass(
            ypb.CreateClassRequest(yoga_class=huge), metadata=gw.stack.as_admin()
        )
    )
    assert too_big.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    async with grpc.aio.insecure_channel(gw.envoy.target) as channel:
        nowhere = channel.unary_unary(
            "/yoga.studio.v1.Nothing/Here",
            request_serializer=ypb.GetClassRequest.SerializeToString,
            response_deserializer=ypb.GetClassResponse.FromString,
        )
        no_method = await refused(
            nowhere(ypb.GetClassRequest(), metadata=gw.stack.as_user("11"), timeout=10)
        )
    assert no_method.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_a_time_no_datetime_can_hold_is_a_caller_error_through_the_gateway(
    gw: Gateway, via: GrpcThroughGateway
) -> None:
    """Year 10000 was INTERNAL "internal error" as gRPC through 8088 (issue 12 §4)."""
    odd = ypb.ListClassesRequest()
    odd.start_time.seconds = 253402300800
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await via.classes.ListClasses(odd, metadata=gw.stack.as_user("11"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(err.value)[1] == ["start_time"]
    # As JSON, such a time is not RFC 3339 at all: the transcoder refuses it first.
    answer = await asyncio.to_thread(
        gw.json("11").get, "/v1/classes?startTime=10000-01-01T00:00:00Z"
    )
    assert answer.status == 400, answer
    assert answer.json["code"] == 3
