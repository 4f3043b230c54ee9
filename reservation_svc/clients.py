"""The calls reservation_svc makes to yogaclass_svc: seats, and the studio's settings."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import grpc

from reservation_svc.domain import AttendanceRules, SeatReply
from reservation_svc.messages import attendance_rules, seat_answer
from reservation_svc.service import SeatsRefused, SeatsUnavailable, StudioUnavailable
from yoga.yogaclass.v1 import yogaclass_pb2, yogaclass_pb2_grpc
from yoga_common.clients import channel
from yoga_common.errors import ServiceError
from yoga_common.service_token import Metadata, ServiceToken, T

log = logging.getLogger(__name__)

_SERVICE = "yoga.yogaclass.v1.YogaClassService"
# Worth asking again later; any other status is a refusal that asking again would repeat.
_TRANSIENT = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.CANCELLED,
}


class SeatClient:
    def __init__(self, target: str, token: ServiceToken, timeout: float) -> None:
        # Both calls are idempotent per reservation_id, so the channel may retry them.
        self._channel = channel(target, _SERVICE, ["ReserveSeat", "ReleaseSeat"])
        self._stub = yogaclass_pb2_grpc.YogaClassServiceStub(self._channel)
        self._token = token
        self._timeout = timeout

    async def reserve(
        self,
        class_id: str,
        reservation_id: str,
        user_id: str,
        join_waitlist: bool = True,
        override_limit: bool = False,
    ) -> SeatReply:
        request = yogaclass_pb2.ReserveSeatRequest(
            class_id=class_id,
            reservation_id=reservation_id,
            user_id=user_id,
            join_waitlist=join_waitlist,
            override_limit=override_limit,
        )
        try:
            response: yogaclass_pb2.ReserveSeatResponse = await self._authorized(
                lambda md: self._stub.ReserveSeat(request, timeout=self._timeout, metadata=md),
                reservation_id,
            )
        except grpc.aio.AioRpcError as err:
            raise self._failure(err, "ReserveSeat", reservation_id) from err
        return seat_answer(response)

    async def release(self, class_id: str, reservation_id: str) -> None:
        request = yogaclass_pb2.ReleaseSeatRequest(class_id=class_id, reservation_id=reservation_id)
        try:
            await self._authorized(
                lambda md: self._stub.ReleaseSeat(request, timeout=self._timeout, metadata=md),
                reservation_id,
            )
        except grpc.aio.AioRpcError as err:
            raise self._failure(err, "ReleaseSeat", reservation_id) from err

    async def _authorized(self, call: Callable[[Metadata], Awaitable[T]], reservation_id: str) -> T:
        try:
            return await self._token.authorized(call)
        except ServiceError as err:
            # No token without the provider: the seat cannot be asked for now, later it can.
            log.warning(
                "no service token", extra={"reason": err.reason, "reservation_id": reservation_id}
            )
            raise SeatsUnavailable(f"{err.reason}: {err.message}") from err

    @staticmethod
    def _failure(err: grpc.aio.AioRpcError, method: str, reservation_id: str) -> SeatsUnavailable:
        transient = err.code() in _TRANSIENT
        # A non-transient code here is a defect or a misconfiguration, not the caller's doing.
        log.log(
            logging.WARNING if transient else logging.ERROR,
            "seat call failed",
            extra={"method": method, "code": err.code().name, "reservation_id": reservation_id},
        )
        kind = SeatsUnavailable if transient else SeatsRefused
        return kind(f"{method}: {err.code().name} {err.details()}")

    async def close(self) -> None:
        await self._channel.close(None)


class StudioClient:
    """Reads the studio's settings (GetStudioSettings) and keeps them for `ttl` seconds: staff
    change them at run time, so a check-in or a sweep follows a change within seconds, while
    a burst of check-ins asks yogaclass_svc once. Without an answer nothing stale is used
    past the ttl: the caller hears StudioUnavailable."""

    def __init__(
        self,
        target: str,
        token: ServiceToken,
        timeout: float,
        ttl: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # Reading settings is safe to repeat, so the channel may retry it.
        self._channel = channel(target, _SERVICE, ["GetStudioSettings"])
        self._stub = yogaclass_pb2_grpc.YogaClassServiceStub(self._channel)
        self._token = token
        self._timeout = timeout
        self._ttl = ttl
        self._clock = clock
        self._cached: tuple[float, AttendanceRules] | None = None
        self._lock = asyncio.Lock()

    async def attendance_rules(self) -> AttendanceRules:
        async with self._lock:  # one read at a time; the others take its answer
            if self._cached is not None and self._clock() - self._cached[0] < self._ttl:
                return self._cached[1]
            read_at = self._clock()
            try:
                response = await self._token.authorized(
                    lambda md: self._stub.GetStudioSettings(
                        yogaclass_pb2.GetStudioSettingsRequest(), timeout=self._timeout, metadata=md
                    )
                )
            except ServiceError as err:
                log.warning("no service token", extra={"reason": err.reason})
                raise StudioUnavailable(f"{err.reason}: {err.message}") from err
            except grpc.aio.AioRpcError as err:
                log.warning("studio settings call failed", extra={"code": err.code().name})
                raise StudioUnavailable(f"GetStudioSettings: {err.code().name}") from err
            rules = attendance_rules(response.settings)
            self._cached = (read_at, rules)
            return rules

    async def close(self) -> None:
        await self._channel.close(None)
