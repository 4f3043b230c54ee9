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
from yoga_common.batching import Batcher
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
# A per-item status of ReserveSeats carries its code as a number.
_CODES = {code.value[0]: code for code in grpc.StatusCode}
# The most seat requests one ReserveSeats call carries (yogaclass_svc takes up to 1000).
SEAT_BATCH = 64


class SeatClient:
    """Seats from yogaclass_svc. Concurrent `reserve` calls share one ReserveSeats call (group
    commit: one round trip, one transaction there), each answered on its own; a lone call is
    sent at once, alone. A yogaclass_svc that does not know ReserveSeats yet (a rolling
    upgrade) is asked item by item with ReserveSeat."""

    def __init__(
        self, target: str, token: ServiceToken, timeout: float, batch: int = SEAT_BATCH
    ) -> None:
        # Every call is idempotent per reservation_id, so the channel may retry them.
        self._channel = channel(target, _SERVICE, ["ReserveSeat", "ReserveSeats", "ReleaseSeat"])
        self._stub = yogaclass_pb2_grpc.YogaClassServiceStub(self._channel)
        self._token = token
        self._timeout = timeout
        self._batcher: Batcher[yogaclass_pb2.ReserveSeatRequest, SeatReply] = Batcher(
            self._reserve_batch, batch, "seat batch"
        )
        self._batch_served = True

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
        return await self._batcher.submit(request)

    async def _reserve_batch(
        self, requests: list[yogaclass_pb2.ReserveSeatRequest]
    ) -> list[SeatReply | Exception]:
        if not self._batch_served:
            return await self._reserve_each(requests)
        batch = yogaclass_pb2.ReserveSeatsRequest(items=requests)
        ids = ",".join(r.reservation_id for r in requests)
        try:
            response: yogaclass_pb2.ReserveSeatsResponse = await self._authorized(
                lambda md: self._stub.ReserveSeats(batch, timeout=self._timeout, metadata=md), ids
            )
        except grpc.aio.AioRpcError as err:
            if err.code() is grpc.StatusCode.UNIMPLEMENTED:
                log.warning("yogaclass_svc has no ReserveSeats; asking seat by seat")
                self._batch_served = False
                return await self._reserve_each(requests)
            raise self._failure(err, "ReserveSeats", ids) from err
        if len(response.results) != len(requests):
            return [
                SeatsRefused(
                    f"ReserveSeats: {len(response.results)} results, {len(requests)} asked"
                )
            ] * len(requests)
        return [
            self._item(result, request.reservation_id)
            for result, request in zip(response.results, requests, strict=True)
        ]

    def _item(
        self, result: yogaclass_pb2.ReserveSeatsResult, reservation_id: str
    ) -> SeatReply | Exception:
        if result.WhichOneof("result") == "seat":
            try:
                return seat_answer(result.seat)
            except ValueError as err:
                return err
        code = _CODES.get(result.error.code, grpc.StatusCode.UNKNOWN)
        return self._refusal(code, result.error.message, "ReserveSeats", reservation_id)

    async def _reserve_each(
        self, requests: list[yogaclass_pb2.ReserveSeatRequest]
    ) -> list[SeatReply | Exception]:
        answers = await asyncio.gather(
            *(self._reserve_one(r) for r in requests), return_exceptions=True
        )
        return [a if isinstance(a, SeatReply | Exception) else RuntimeError(a) for a in answers]

    async def _reserve_one(self, request: yogaclass_pb2.ReserveSeatRequest) -> SeatReply:
        try:
            response: yogaclass_pb2.ReserveSeatResponse = await self._authorized(
                lambda md: self._stub.ReserveSeat(request, timeout=self._timeout, metadata=md),
                request.reservation_id,
            )
        except grpc.aio.AioRpcError as err:
            raise self._failure(err, "ReserveSeat", request.reservation_id) from err
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

    @classmethod
    def _failure(
        cls, err: grpc.aio.AioRpcError, method: str, reservation_id: str
    ) -> SeatsUnavailable:
        return cls._refusal(err.code(), err.details() or "", method, reservation_id)

    @staticmethod
    def _refusal(
        code: grpc.StatusCode, details: str, method: str, reservation_id: str
    ) -> SeatsUnavailable:
        transient = code in _TRANSIENT
        # A non-transient code here is a defect or a misconfiguration, not the caller's doing.
        log.log(
            logging.WARNING if transient else logging.ERROR,
            "seat call failed",
            extra={"method": method, "code": code.name, "reservation_id": reservation_id},
        )
        kind = SeatsUnavailable if transient else SeatsRefused
        return kind(f"{method}: {code.name} {details}")

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
