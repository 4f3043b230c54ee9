"""gRPC face of notification_svc: maps protobuf to the store and back, nothing more."""

from __future__ import annotations

from notification_svc.domain import check_reader
from notification_svc.messages import to_proto
from notification_svc.storage import NotificationStore
from yoga.notification.v1 import notification_pb2, notification_pb2_grpc
from yoga_common import pagination
from yoga_common.auth import ADMIN, MEMBER
from yoga_common.errors import Violations
from yoga_common.interceptors import Context, current_principal, role_table
from yoga_common.requests import check_id

SERVICE_NAME = notification_pb2.DESCRIPTOR.services_by_name["NotificationService"]
ROLES = role_table(SERVICE_NAME, {"ListNotifications": {ADMIN, MEMBER}})


class NotificationServicer(notification_pb2_grpc.NotificationServiceServicer):
    def __init__(self, store: NotificationStore) -> None:
        self._store = store

    async def ListNotifications(
        self, request: notification_pb2.ListNotificationsRequest, context: Context
    ) -> notification_pb2.ListNotificationsResponse:
        v = Violations()
        check_id(v, "user_id", request.user_id)
        v.raise_if_any()
        check_reader(current_principal(), request.user_id)
        size = pagination.page_size(request.page_size)
        after = pagination.decode_after(request.page_token)
        found = await self._store.page(request.user_id, size + 1, after)
        page = found[:size]
        token = ""
        if len(found) > size:
            token = pagination.encode_after(page[-1].create_time, page[-1].notification_id)
        return notification_pb2.ListNotificationsResponse(
            notifications=[to_proto(n) for n in page], next_page_token=token
        )
