"""Helpers for the gateway tests: a JSON client over the standard library, and a gRPC server
that records what reaches it through Envoy."""

from __future__ import annotations

import http.client
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc

from yoga.mypage.v1 import mypage_pb2
from yoga.mypage.v1 import mypage_pb2_grpc as mypage_grpc
from yoga.notification.v1 import notification_pb2
from yoga.notification.v1 import notification_pb2_grpc as notification_grpc
from yoga.reservation.v1 import reservation_pb2


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)

    def error(self) -> tuple[int, str, list[dict[str, Any]]]:
        """(code, message, details) of a JSON error body; every error must have all three."""
        assert self.headers.get("content-type", "").startswith("application/json"), self
        body = self.json
        assert set(body) >= {"code", "message", "details"}, body
        assert isinstance(body["details"], list), body
        return body["code"], body["message"], body["details"]

    def reason(self) -> str:
        """The ErrorInfo reason among the details ("" when there is none)."""
        for detail in self.error()[2]:
            if detail.get("@type") == "type.googleapis.com/google.rpc.ErrorInfo":
                return str(detail["reason"])
        return ""

    def violations(self) -> list[str]:
        for detail in self.error()[2]:
            if detail.get("@type") == "type.googleapis.com/google.rpc.BadRequest":
                return [v["field"] for v in detail["fieldViolations"]]
        return []


@dataclass
class JsonClient:
    """Plain HTTP/1.1 calls, as a web page or curl makes them."""

    host: str
    port: int
    token: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def as_(self, token: str | None) -> JsonClient:
        return JsonClient(self.host, self.port, token, dict(self.headers))

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        sent = dict(self.headers)
        if self.token:
            sent["authorization"] = f"Bearer {self.token}"
        if body is not None:
            raw = json.dumps(body).encode()
        if raw is not None:
            sent["content-type"] = "application/json"
        sent.update(headers or {})
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request(method, path, body=raw, headers=sent)
            response = conn.getresponse()
            text = response.read().decode()
            found = {k.lower(): v for k, v in response.getheaders()}
            return Answer(response.status, found, text)
        finally:
            conn.close()

    def get(self, path: str, **kw: Any) -> Answer:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Answer:
        return self.call("POST", path, body, **kw)

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        answer = self.call(method, path, body)
        assert answer.status == 200, answer
        return answer.json


def rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def class_json(
    capacity: int = 2,
    title: str = "Morning Vinyasa",
    start: datetime | None = None,
) -> dict[str, Any]:
    begin = start or datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    return {
        "title": title,
        "instructor": "Jiwoo",
        "startTime": rfc3339(begin),
        "endTime": rfc3339(begin + timedelta(hours=1)),
        "timeZone": "Asia/Seoul",
        "capacity": capacity,
    }


def booking(class_id: str) -> dict[str, str]:
    return {"classId": class_id, "requestId": str(uuid.uuid4())}


def until(check: Callable[[], bool], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached within {within}s")
        time.sleep(0.1)


GET_MY_PAGE = "/yoga.mypage.v1.MyPageService/GetMyPage"


class Recorder(grpc.GenericRpcHandler):  # type: ignore[misc]
    """Stands in for mypage_svc behind a gateway: answers GetMyPage and keeps the metadata of
    every call, so a test sees exactly which headers Envoy forwards."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        if details.method != GET_MY_PAGE:
            return None
        self.seen.append({k: str(v) for k, v in details.invocation_metadata or ()})

        async def answer(
            request: mypage_pb2.GetMyPageRequest, context: object
        ) -> mypage_pb2.GetMyPageResponse:
            return mypage_pb2.GetMyPageResponse(user_id=request.user_id)

        return grpc.unary_unary_rpc_method_handler(
            answer,
            request_deserializer=mypage_pb2.GetMyPageRequest.FromString,
            response_serializer=mypage_pb2.GetMyPageResponse.SerializeToString,
        )


async def booked_then_cancelled_arrived(
    notifications: notification_grpc.NotificationServiceStub,
    mypage: mypage_grpc.MyPageServiceStub,
    metadata: tuple[tuple[str, str], ...],
    class_id: str,
) -> bool:
    """The member's notifications of `class_id` are BOOKED and CANCELLED, and their my page
    shows the reservation CANCELLED: both consumers applied the booking and its cancel."""
    notes = await notifications.ListNotifications(
        notification_pb2.ListNotificationsRequest(user_id="me", page_size=100), metadata=metadata
    )
    page = await mypage.GetMyPage(
        mypage_pb2.GetMyPageRequest(user_id="me", page_size=100), metadata=metadata
    )
    return sorted(n.kind for n in notes.notifications if n.class_id == class_id) == [
        notification_pb2.NOTIFICATION_KIND_BOOKED,
        notification_pb2.NOTIFICATION_KIND_CANCELLED,
    ] and [e.status for e in page.entries if e.class_id == class_id] == [
        reservation_pb2.RESERVATION_STATUS_CANCELLED
    ]
