"""The studio's booking rules seen from outside, through either face of the system: gRPC to the
services, or JSON through the Envoy gateway. A scenario is written once against `Face` and runs
through both, so each rule has a test through gRPC and one through JSON."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import grpc
from google.protobuf.duration_pb2 import Duration
from google.protobuf.field_mask_pb2 import FieldMask
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from tests.integration.conftest import Clients
from tests.integration.gateway_support import rfc3339
from tests.integration.support import ts
from yoga.notification.v1 import notification_pb2 as npb
from yoga.reservation.v1 import reservation_pb2 as rpb
from yoga.yogaclass.v1 import yogaclass_pb2 as ypb

STAFF = "staff-1"
DURATIONS = ("waitlist_cutoff", "cancellation_window", "check_in_opens", "no_show_grace")


@dataclass(frozen=True)
class Booking:
    """A reservation as either face shows it, enum prefixes dropped."""

    reservation_id: str
    status: str
    reason: str
    position: int = 0
    promoted: bool = False
    limit_overridden: bool = False


class Refused(Exception):
    """An error status: its code's name, the ErrorInfo reason and metadata."""

    def __init__(self, code: str, reason: str, metadata: dict[str, str]) -> None:
        super().__init__(f"{code} {reason} {metadata}")
        self.code, self.reason, self.metadata = code, reason, metadata


class Face(Protocol):
    name: str

    async def new_class(
        self, capacity: int, waitlist: int = 0, starts_in: timedelta = timedelta(days=1)
    ) -> str: ...
    async def book(
        self, user: str, class_id: str, *, decline: bool = False, override: bool = False
    ) -> Booking: ...
    async def staff_book(self, user_id: str, class_id: str, override: bool) -> Booking: ...
    async def cancel(self, user: str, reservation_id: str) -> Booking: ...
    async def get(self, reservation_id: str) -> Booking: ...
    async def set_waitlist(self, class_id: str, places: int) -> None: ...


def _name(value: str, prefix: str) -> str:
    return value.removeprefix(prefix)


def _from_proto(r: rpb.Reservation) -> Booking:
    return Booking(
        r.reservation_id,
        _name(rpb.ReservationStatus.Name(r.status), "RESERVATION_STATUS_"),
        _name(rpb.ReservationReason.Name(r.reason), "RESERVATION_REASON_"),
        r.waitlist_position,
        r.promoted,
        r.limit_overridden,
    )


def _from_json(r: dict[str, Any]) -> Booking:
    return Booking(
        r["reservationId"],
        _name(r.get("status", ""), "RESERVATION_STATUS_"),
        _name(r.get("reason", "RESERVATION_REASON_UNSPECIFIED"), "RESERVATION_REASON_"),
        int(r.get("waitlistPosition", 0)),
        bool(r.get("promoted", False)),
        bool(r.get("limitOverridden", False)),
    )


def _refused(err: grpc.aio.AioRpcError) -> Refused:
    reason, metadata = "", {}
    status = rpc_status.from_call(err)
    for detail in status.details if status else []:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            reason, metadata = info.reason, dict(info.metadata)
    return Refused(err.code().name, reason, metadata)


def _start(starts_in: timedelta) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + starts_in


class GrpcFace:
    name = "grpc"

    def __init__(self, clients: Clients) -> None:
        self.c = clients

    def _as(self, user: str) -> tuple[tuple[str, str], ...]:
        return self.c.stack.as_admin() if user == STAFF else self.c.stack.as_user(user)

    async def _call(self, method: Any, request: Any, user: str) -> Any:
        try:
            return await method(request, metadata=self._as(user), timeout=30)
        except grpc.aio.AioRpcError as err:
            raise _refused(err) from err

    async def new_class(
        self, capacity: int, waitlist: int = 0, starts_in: timedelta = timedelta(days=1)
    ) -> str:
        start = _start(starts_in)
        spec = ypb.YogaClass(
            title=f"Rules {uuid.uuid4().hex[:6]}",
            instructor="Jiwoo",
            start_time=ts(start),
            end_time=ts(start + timedelta(hours=1)),
            time_zone="Asia/Seoul",
            capacity=capacity,
            waitlist_capacity=waitlist,
        )
        created = await self._call(
            self.c.classes.CreateClass, ypb.CreateClassRequest(yoga_class=spec), STAFF
        )
        return str(created.yoga_class.class_id)

    async def book(
        self, user: str, class_id: str, *, decline: bool = False, override: bool = False
    ) -> Booking:
        request = rpb.CreateReservationRequest(
            class_id=class_id,
            request_id=str(uuid.uuid4()),
            decline_waitlist=decline,
            override_limit=override,
        )
        answer = await self._call(self.c.reservations.CreateReservation, request, user)
        return _from_proto(answer.reservation)

    async def staff_book(self, user_id: str, class_id: str, override: bool) -> Booking:
        request = rpb.CreateReservationRequest(
            class_id=class_id,
            request_id=str(uuid.uuid4()),
            user_id=user_id,
            override_limit=override,
        )
        answer = await self._call(self.c.reservations.CreateReservation, request, STAFF)
        return _from_proto(answer.reservation)

    async def cancel(self, user: str, reservation_id: str) -> Booking:
        request = rpb.CancelReservationRequest(reservation_id=reservation_id)
        answer = await self._call(self.c.reservations.CancelReservation, request, user)
        return _from_proto(answer.reservation)

    async def get(self, reservation_id: str) -> Booking:
        request = rpb.GetReservationRequest(reservation_id=reservation_id)
        answer = await self._call(self.c.reservations.GetReservation, request, STAFF)
        return _from_proto(answer.reservation)

    async def set_waitlist(self, class_id: str, places: int) -> None:
        request = ypb.UpdateClassRequest(
            yoga_class=ypb.YogaClass(class_id=class_id, waitlist_capacity=places),
            update_mask=FieldMask(paths=["waitlist_capacity"]),
        )
        await self._call(self.c.classes.UpdateClass, request, STAFF)


_CODES = {code.value[0]: code.name for code in grpc.StatusCode}


class JsonFace:
    name = "json"

    def __init__(self, clients: Clients) -> None:
        self.c = clients

    def _call(self, user: str, method: str, path: str, body: Any = None) -> Any:
        answer = self.c.stack.json(user, "admin" if user == STAFF else "member").call(
            method, path, body
        )
        if answer.status != 200:
            code, _, details = answer.error()
            info: dict[str, Any] = next(
                (d for d in details if d.get("@type", "").endswith("google.rpc.ErrorInfo")), {}
            )
            raise Refused(_CODES[code], answer.reason(), info.get("metadata", {}))
        return answer.json

    async def new_class(
        self, capacity: int, waitlist: int = 0, starts_in: timedelta = timedelta(days=1)
    ) -> str:
        start = _start(starts_in)
        body = {
            "title": f"Rules {uuid.uuid4().hex[:6]}",
            "instructor": "Jiwoo",
            "startTime": rfc3339(start),
            "endTime": rfc3339(start + timedelta(hours=1)),
            "timeZone": "Asia/Seoul",
            "capacity": capacity,
            "waitlistCapacity": waitlist,
        }
        return str(self._call(STAFF, "POST", "/v1/classes", body)["yogaClass"]["classId"])

    async def book(
        self, user: str, class_id: str, *, decline: bool = False, override: bool = False
    ) -> Booking:
        body: dict[str, Any] = {"classId": class_id, "requestId": str(uuid.uuid4())}
        if decline:
            body["declineWaitlist"] = True
        if override:
            body["overrideLimit"] = True
        return _from_json(self._call(user, "POST", "/v1/reservations", body)["reservation"])

    async def staff_book(self, user_id: str, class_id: str, override: bool) -> Booking:
        body = {
            "classId": class_id,
            "requestId": str(uuid.uuid4()),
            "userId": user_id,
            "overrideLimit": override,
        }
        return _from_json(self._call(STAFF, "POST", "/v1/reservations", body)["reservation"])

    async def cancel(self, user: str, reservation_id: str) -> Booking:
        path = f"/v1/reservations/{reservation_id}:cancel"
        return _from_json(self._call(user, "POST", path, {})["reservation"])

    async def get(self, reservation_id: str) -> Booking:
        path = f"/v1/reservations/{reservation_id}"
        return _from_json(self._call(STAFF, "GET", path)["reservation"])

    async def set_waitlist(self, class_id: str, places: int) -> None:
        path = f"/v1/classes/{class_id}?updateMask=waitlistCapacity"
        self._call(STAFF, "PATCH", path, {"waitlistCapacity": places})


async def set_studio(clients: Clients, **fields: Any) -> None:
    """Changes the named studio settings (durations as timedelta) through the staff API."""
    settings = ypb.StudioSettings()
    for name, value in fields.items():
        if name in DURATIONS or isinstance(value, timedelta):
            d = Duration()
            d.FromTimedelta(value)
            getattr(settings, name).CopyFrom(d)
        else:
            setattr(settings, name, value)
    await clients.classes.UpdateStudioSettings(
        ypb.UpdateStudioSettingsRequest(
            settings=settings, update_mask=FieldMask(paths=list(fields))
        ),
        metadata=clients.stack.as_admin(),
    )


async def notification_kinds(clients: Clients, user: str, reservation_id: str) -> list[str]:
    page = await clients.notifications.ListNotifications(
        npb.ListNotificationsRequest(user_id=clients.stack.user_id(user), page_size=100),
        metadata=clients.stack.as_user(user),
    )
    return sorted(
        npb.NotificationKind.Name(n.kind).removeprefix("NOTIFICATION_KIND_")
        for n in page.notifications
        if n.reservation_id == reservation_id
    )
