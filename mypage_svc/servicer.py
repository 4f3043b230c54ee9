"""gRPC face of mypage_svc: maps protobuf to the service layer and back, nothing more."""

from __future__ import annotations

from mypage_svc.domain import page_owner, page_token, position_of
from mypage_svc.messages import to_proto
from mypage_svc.service import MyPageService
from yoga.mypage.v1 import mypage_pb2, mypage_pb2_grpc
from yoga_common import pagination
from yoga_common.errors import ServiceError, Violations
from yoga_common.interceptors import Context, current_principal, role_table
from yoga_common.principal import ADMIN, MEMBER
from yoga_common.requests import check_id

SERVICE_NAME = mypage_pb2.DESCRIPTOR.services_by_name["MyPageService"]
ROLES = role_table(SERVICE_NAME, {"GetMyPage": {ADMIN, MEMBER}})


class MyPageServicer(mypage_pb2_grpc.MyPageServiceServicer):
    def __init__(self, service: MyPageService) -> None:
        self._service = service

    async def GetMyPage(
        self, request: mypage_pb2.GetMyPageRequest, context: Context
    ) -> mypage_pb2.GetMyPageResponse:
        v = Violations()
        check_id(v, "user_id", request.user_id)
        v.check(request.page_size >= 0, "page_size", "must not be negative")
        start = None
        try:
            start = position_of(request.page_token)
        except ServiceError as bad:
            v.items += bad.violations
        v.raise_if_any()
        principal = current_principal()
        user_id = page_owner(principal, principal.user(request.user_id))
        size = pagination.page_size(request.page_size)
        entries, following = await self._service.page(user_id, size, start)
        return mypage_pb2.GetMyPageResponse(
            user_id=user_id,
            entries=[to_proto(e) for e in entries],
            next_page_token=page_token(following) if following is not None else "",
        )
