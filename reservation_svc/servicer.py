"""gRPC face of reservation_svc: maps protobuf to the service layer and back, nothing more."""

from __future__ import annotations

from reservation_svc.domain import (
    booking_user,
    check_owner,
    roster_position,
    roster_token,
    visible_user,
)
from reservation_svc.messages import to_proto
from reservation_svc.service import ReservationService
from yoga.reservation.v1 import reservation_pb2, reservation_pb2_grpc
from yoga_common import pagination
from yoga_common.errors import ServiceError, Violations, permission_denied
from yoga_common.interceptors import Context, current_principal, role_table
from yoga_common.principal import ADMIN, MEMBER
from yoga_common.requests import check_id, fingerprint

SERVICE_NAME = reservation_pb2.DESCRIPTOR.services_by_name["ReservationService"]
ROLES = role_table(
    SERVICE_NAME,
    {
        "CreateReservation": {ADMIN, MEMBER},
        "GetReservation": {ADMIN, MEMBER},
        "ListReservations": {ADMIN, MEMBER},
        "CancelReservation": {ADMIN, MEMBER},
        "CheckIn": {ADMIN},
        "GetRoster": {ADMIN},
    },
)


class ReservationServicer(reservation_pb2_grpc.ReservationServiceServicer):
    def __init__(self, service: ReservationService) -> None:
        self._service = service

    async def CreateReservation(
        self, request: reservation_pb2.CreateReservationRequest, context: Context
    ) -> reservation_pb2.CreateReservationResponse:
        v = Violations()
        check_id(v, "class_id", request.class_id)
        check_id(v, "request_id", request.request_id)
        check_id(v, "user_id", request.user_id, required=False)
        v.raise_if_any()
        principal = current_principal()
        user_id = booking_user(principal, principal.user(request.user_id))
        if request.override_limit and not principal.is_admin:
            raise permission_denied("only staff may book past the studio's booking limit")
        # The address in the caller's token is the member's own only when booking for oneself.
        email = principal.email if user_id == principal.subject else ""
        payload = reservation_pb2.CreateReservationRequest(
            class_id=request.class_id,
            decline_waitlist=request.decline_waitlist,
            override_limit=request.override_limit,
        )
        reservation, position = await self._service.book(
            request.class_id,
            user_id,
            email,
            request.request_id,
            fingerprint(payload),
            join_waitlist=not request.decline_waitlist,
            override_limit=request.override_limit,
        )
        return reservation_pb2.CreateReservationResponse(
            reservation=to_proto(reservation, position)
        )

    async def GetReservation(
        self, request: reservation_pb2.GetReservationRequest, context: Context
    ) -> reservation_pb2.GetReservationResponse:
        v = Violations()
        check_id(v, "reservation_id", request.reservation_id)
        v.raise_if_any()
        reservation = await self._service.get(request.reservation_id)
        check_owner(current_principal(), reservation.user_id)
        return reservation_pb2.GetReservationResponse(
            reservation=to_proto(reservation, await self._service.position(reservation))
        )

    async def ListReservations(
        self, request: reservation_pb2.ListReservationsRequest, context: Context
    ) -> reservation_pb2.ListReservationsResponse:
        v = Violations()
        check_id(v, "class_id", request.class_id, required=False)
        check_id(v, "user_id", request.user_id, required=False)
        paging = pagination.keyset_paging(v, request.page_size, request.page_token)
        v.raise_if_any()
        principal = current_principal()
        user_id = visible_user(principal, principal.user(request.user_id))
        page, token = await pagination.keyset_page(
            paging,
            lambda limit, after: self._service.page(request.class_id, user_id, limit, after),
            lambda r: (r.create_time, r.reservation_id),
        )
        return reservation_pb2.ListReservationsResponse(
            reservations=[to_proto(r, await self._service.position(r)) for r in page],
            next_page_token=token,
        )

    async def CancelReservation(
        self, request: reservation_pb2.CancelReservationRequest, context: Context
    ) -> reservation_pb2.CancelReservationResponse:
        v = Violations()
        check_id(v, "reservation_id", request.reservation_id)
        v.raise_if_any()
        reservation = await self._service.get(request.reservation_id)
        principal = current_principal()
        check_owner(principal, reservation.user_id)
        cancelled = await self._service.cancel(reservation, by_staff=principal.is_admin)
        return reservation_pb2.CancelReservationResponse(reservation=to_proto(cancelled))

    async def CheckIn(
        self, request: reservation_pb2.CheckInRequest, context: Context
    ) -> reservation_pb2.CheckInResponse:
        v = Violations()
        check_id(v, "reservation_id", request.reservation_id)
        v.raise_if_any()
        checked = await self._service.check_in(request.reservation_id)
        return reservation_pb2.CheckInResponse(reservation=to_proto(checked))

    async def GetRoster(
        self, request: reservation_pb2.GetRosterRequest, context: Context
    ) -> reservation_pb2.GetRosterResponse:
        v = Violations()
        check_id(v, "class_id", request.class_id)
        v.check(request.page_size >= 0, "page_size", "must not be negative")
        position = None
        if request.class_id:
            try:
                position = roster_position(request.page_token, request.class_id)
            except ServiceError as bad:
                v.items += bad.violations
        v.raise_if_any()
        size = pagination.page_size(request.page_size)
        page, after = await self._service.roster(request.class_id, size, position)
        return reservation_pb2.GetRosterResponse(
            reservations=[to_proto(r, place) for r, place in page],
            next_page_token=roster_token(request.class_id, after) if after else "",
        )
