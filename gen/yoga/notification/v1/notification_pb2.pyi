import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NotificationKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NOTIFICATION_KIND_UNSPECIFIED: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_BOOKED: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_REJECTED: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_CANCELLED: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_CLASS_CANCELLED: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_WAITLISTED: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_PROMOTED: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_WAITLIST_EXPIRED: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_ATTENDED: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_NO_SHOW: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_BLOCKED: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_BLOCK_LIFTED: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_RESCHEDULED: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_REMINDER: _ClassVar[NotificationKind]

class DeliveryState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DELIVERY_STATE_UNSPECIFIED: _ClassVar[DeliveryState]
    DELIVERY_STATE_PENDING: _ClassVar[DeliveryState]
    DELIVERY_STATE_SENT: _ClassVar[DeliveryState]
    DELIVERY_STATE_FAILED: _ClassVar[DeliveryState]
    DELIVERY_STATE_SKIPPED: _ClassVar[DeliveryState]
NOTIFICATION_KIND_UNSPECIFIED: NotificationKind
NOTIFICATION_KIND_BOOKED: NotificationKind
NOTIFICATION_KIND_REJECTED: NotificationKind
NOTIFICATION_KIND_CANCELLED: NotificationKind
NOTIFICATION_KIND_CLASS_CANCELLED: NotificationKind
NOTIFICATION_KIND_WAITLISTED: NotificationKind
NOTIFICATION_KIND_PROMOTED: NotificationKind
NOTIFICATION_KIND_WAITLIST_EXPIRED: NotificationKind
NOTIFICATION_KIND_ATTENDED: NotificationKind
NOTIFICATION_KIND_NO_SHOW: NotificationKind
NOTIFICATION_KIND_BLOCKED: NotificationKind
NOTIFICATION_KIND_BLOCK_LIFTED: NotificationKind
NOTIFICATION_KIND_RESCHEDULED: NotificationKind
NOTIFICATION_KIND_REMINDER: NotificationKind
DELIVERY_STATE_UNSPECIFIED: DeliveryState
DELIVERY_STATE_PENDING: DeliveryState
DELIVERY_STATE_SENT: DeliveryState
DELIVERY_STATE_FAILED: DeliveryState
DELIVERY_STATE_SKIPPED: DeliveryState

class Notification(_message.Message):
    __slots__ = ("notification_id", "user_id", "kind", "reservation_id", "class_id", "class_title", "class_start_time", "subject", "body", "email_state", "create_time", "class_time_zone")
    NOTIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    CLASS_TITLE_FIELD_NUMBER: _ClassVar[int]
    CLASS_START_TIME_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    EMAIL_STATE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CLASS_TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    notification_id: str
    user_id: str
    kind: NotificationKind
    reservation_id: str
    class_id: str
    class_title: str
    class_start_time: _timestamp_pb2.Timestamp
    subject: str
    body: str
    email_state: DeliveryState
    create_time: _timestamp_pb2.Timestamp
    class_time_zone: str
    def __init__(self, notification_id: _Optional[str] = ..., user_id: _Optional[str] = ..., kind: _Optional[_Union[NotificationKind, str]] = ..., reservation_id: _Optional[str] = ..., class_id: _Optional[str] = ..., class_title: _Optional[str] = ..., class_start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., subject: _Optional[str] = ..., body: _Optional[str] = ..., email_state: _Optional[_Union[DeliveryState, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., class_time_zone: _Optional[str] = ...) -> None: ...

class ListNotificationsRequest(_message.Message):
    __slots__ = ("user_id", "page_size", "page_token")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    page_size: int
    page_token: str
    def __init__(self, user_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListNotificationsResponse(_message.Message):
    __slots__ = ("notifications", "next_page_token")
    NOTIFICATIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    notifications: _containers.RepeatedCompositeFieldContainer[Notification]
    next_page_token: str
    def __init__(self, notifications: _Optional[_Iterable[_Union[Notification, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
