"""gRPC face of notification_svc: maps protobuf to the service layer and back, nothing more."""

from __future__ import annotations

from notification_svc.domain import check_reader
from notification_svc.messages import to_proto
from notification_svc.service import NotificationService
from yoga.notification.v1 import notification_pb2, notification_pb2_grpc
from yoga_common import pagination
from yoga_common.errors import Violations
from yoga_common.interceptors import Context, current_principal, role_table
from yoga_common.principal import ADMIN, MEMBER
from yoga_common.requests import check_id

SERVICE_NAME = notification_pb2.DESCRIPTOR.services_by_name["NotificationService"]
ROLES = role_table(SERVICE_NAME, {"ListNotifications": {ADMIN, MEMBER}})


class NotificationServicer(notification_pb2_grpc.NotificationServiceServicer):
    def __init__(self, service: NotificationService) -> None:
        self._service = service

    async def ListNotifications(
        self, request: notification_pb2.ListNotificationsRequest, context: Context
    ) -> notification_pb2.ListNotificationsResponse:
        v = Violations()
        check_id(v, "user_id", request.user_id)
        paging = pagination.keyset_paging(v, request.page_size, request.page_token)
        v.raise_if_any()
        principal = current_principal()
        user_id = principal.user(request.user_id)
        check_reader(principal, user_id)
        page, token = await pagination.keyset_page(
            paging,
            lambda limit, after: self._service.page(user_id, limit, after),
            lambda n: (n.create_time, n.notification_id),
        )
        return notification_pb2.ListNotificationsResponse(
            notifications=[to_proto(n) for n in page], next_page_token=token
        )
