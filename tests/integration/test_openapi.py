"""The OpenAPI document describes the real gateway: each GET operation of
gen/openapi/yoga.openapi.json called through Envoy in front of the four services (SQLite), its
answer held to the document's schema with no property the document does not name; requests
written as the document says accepted; errors, the gateway's own included, shaped as its
google.rpc.Status. And the committed document is what the protos make today."""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from functools import cache
from typing import Any

import pytest

from devtools import openapi
from devtools.processes import free_port
from tests.integration.conftest import ALL, Stack, system_under_test
from tests.integration.events_support import Mailbox
from tests.integration.gateway_support import Answer, JsonClient, booking, class_json, until
from yoga_common.auth import ADMIN
from yoga_common.settings import AuthSettings

DOC = openapi.ROOT / "gen" / "openapi" / "yoga.openapi.json"
ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"


@cache
def doc() -> dict[str, Any]:
    found: dict[str, Any] = json.loads(DOC.read_text())
    return found


def check(answer: Answer, schema: dict[str, Any], status: int = 200) -> Any:
    """The answer has the status, and its JSON body is what `schema` describes: every object's
    keys among the document's properties, every value of its type and format."""
    assert answer.status == status, answer
    body = answer.json
    if "properties" in schema:
        assert set(body) <= set(schema["properties"]), (set(body), schema)
    openapi.strict(doc(), schema).validate(body)
    return body


def ok_schema(op: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = op["responses"]["200"]["content"]["application/json"]["schema"]
    return schema


def resolved(schema: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = doc()["components"]["schemas"][
        schema["$ref"].removeprefix(openapi.SCHEMAS)
    ]
    return found


def status_of(answer: Answer, status: int, reason: str) -> list[dict[str, Any]]:
    """An error answer: a google.rpc.Status as the document says, with an ErrorInfo of
    `reason`; its details, each checked against its own schema."""
    body = check(answer, resolved({"$ref": openapi.SCHEMAS + "google.rpc.Status"}), status)
    details: list[dict[str, Any]] = body["details"]
    for detail in details:
        name = detail["@type"].removeprefix("type.googleapis.com/")
        fields = {k: v for k, v in detail.items() if k != "@type"}
        openapi.strict(doc(), {"$ref": openapi.SCHEMAS + name}).validate(fields)
    assert [d["reason"] for d in details if d["@type"] == ERROR_INFO] == [reason], body
    return details


@pytest.fixture(scope="module")
def stack(auth: AuthSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    mailbox = Mailbox(free_port())
    mailbox.start()
    try:
        folder = tmp_path_factory.mktemp("openapi")
        with system_under_test(
            "sqlite", auth, folder, ALL, smtp_port=mailbox.port, gateway=True
        ) as running:
            yield running
    finally:
        mailbox.stop()


def test_the_committed_document_matches_the_protos() -> None:
    done = subprocess.run(
        [str(openapi.ROOT / "scripts" / "gen_openapi.sh"), "--check"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_get_answers_as_documented(stack: Stack) -> None:
    admin, member = stack.json("staff-1", ADMIN), stack.json("11")
    created = admin.ok("POST", "/v1/classes", class_json(3))["yogaClass"]
    reservation = member.ok("POST", "/v1/reservations", booking(created["classId"]))
    start = date.today() + timedelta(days=3)
    series = admin.ok(
        "POST",
        f"/v1/series?requestId={uuid.uuid4()}",
        {
            "title": "Evening Yin",
            "instructor": "Jiwoo",
            "capacity": 4,
            "timeZone": "Asia/Seoul",
            "startDate": start.isoformat(),
            "startTime": "19:00",
            "duration": "3600s",
            "recurrence": "FREQ=WEEKLY;COUNT=2",
        },
    )["series"]
    # The read models fill from events: wait for them, so their entries are checked too.
    until(lambda: bool(member.ok("GET", "/v1/users/me/mypage")["entries"]))
    until(lambda: bool(member.ok("GET", "/v1/users/me/notifications")["notifications"]))
    values = {
        "classId": created["classId"],
        "reservationId": reservation["reservation"]["reservationId"],
        "seriesId": series["seriesId"],
        "userId": "me",  # the caller (yoga_common.principal)
    }
    called = []
    for path, verb, op in openapi.operations(doc()):
        if verb != "get":
            continue
        url = re.sub(r"\{([^}]*)\}", lambda m: values[m.group(1)], path)
        # The member's own pages as the member; staff's views (the roster) as staff.
        client: JsonClient = member if "{userId}" in path else admin
        body = check(client.get(url), resolved(ok_schema(op)))
        assert body, op["operationId"]
        called.append(op["operationId"])
    assert sorted(called) == [
        "MyPageService_GetMyPage",
        "NotificationService_ListNotifications",
        "ReservationService_GetReservation",
        "ReservationService_GetRoster",
        "ReservationService_ListReservations",
        "YogaClassService_GetClass",
        "YogaClassService_GetMemberStanding",
        "YogaClassService_GetSeries",
        "YogaClassService_GetStudioSettings",
        "YogaClassService_ListClasses",
        "YogaClassService_ListSeries",
    ]


def test_requests_as_documented(stack: Stack) -> None:
    admin, member = stack.json("staff-1", ADMIN), stack.json("11")
    schemas = doc()["components"]["schemas"]
    # The create's idempotency key is a query parameter, the body the class.
    key = f"/v1/classes?requestId={uuid.uuid4()}"
    first = check(admin.post(key, class_json(2)), schemas["yoga.yogaclass.v1.CreateClassResponse"])
    again = admin.ok("POST", key, class_json(2))
    assert again["yogaClass"]["classId"] == first["yogaClass"]["classId"]
    class_id = first["yogaClass"]["classId"]
    # The update mask: comma-separated lowerCamelCase paths in the query; the path's classId.
    change = {"waitlistCapacity": 3, "cancellationWindow": "5400s"}
    openapi.strict(doc(), {"$ref": openapi.SCHEMAS + "yoga.yogaclass.v1.YogaClass"}).validate(
        change
    )
    updated = check(
        admin.call(
            "PATCH",
            f"/v1/classes/{class_id}?updateMask=waitlistCapacity,cancellationWindow",
            change,
        ),
        schemas["yoga.yogaclass.v1.UpdateClassResponse"],
    )["yogaClass"]
    assert (updated["waitlistCapacity"], updated["cancellationWindow"]) == (3, "5400s")
    # A custom verb with no body at all: the body is optional.
    booked = member.ok("POST", "/v1/reservations", booking(class_id))["reservation"]
    cancelled = check(
        member.post(f"/v1/reservations/{booked['reservationId']}:cancel"),
        schemas["yoga.reservation.v1.CancelReservationResponse"],
    )
    assert cancelled["reservation"]["status"] == "RESERVATION_STATUS_CANCELLED"


def test_errors_as_documented(stack: Stack) -> None:
    admin, member = stack.json("staff-1", ADMIN), stack.json("11")
    anonymous = JsonClient(admin.host, admin.port)
    # The gateway's own reply (no token), which the document gives every operation as 401.
    status_of(anonymous.get("/v1/classes"), 401, "UNAUTHENTICATED")
    status_of(member.get(f"/v1/classes/{uuid.uuid4()}"), 404, "CLASS_NOT_FOUND")
    status_of(
        member.call("PATCH", "/v1/studio/settings", {"bookingLimit": 1}), 403, "PERMISSION_DENIED"
    )
    details = status_of(admin.post("/v1/classes", {"capacity": 2}), 400, "INVALID_ARGUMENT")
    violations = [d for d in details if d["@type"] == BAD_REQUEST]
    assert violations and "yoga_class.title" in [
        v["field"] for v in violations[0]["fieldViolations"]
    ]
