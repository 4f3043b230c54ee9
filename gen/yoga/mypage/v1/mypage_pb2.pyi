import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from yoga.reservation.v1 import reservation_pb2 as _reservation_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MyPageEntry(_message.Message):
    __slots__ = ("reservation_id", "class_id", "class_title", "class_start_time", "class_end_time", "status", "reason", "update_time", "waitlist_position", "promoted", "check_in_time", "class_time_zone", "class_start_local")
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    CLASS_TITLE_FIELD_NUMBER: _ClassVar[int]
    CLASS_START_TIME_FIELD_NUMBER: _ClassVar[int]
    CLASS_END_TIME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    WAITLIST_POSITION_FIELD_NUMBER: _ClassVar[int]
    PROMOTED_FIELD_NUMBER: _ClassVar[int]
    CHECK_IN_TIME_FIELD_NUMBER: _ClassVar[int]
    CLASS_TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    CLASS_START_LOCAL_FIELD_NUMBER: _ClassVar[int]
    reservation_id: str
    class_id: str
    class_title: str
    class_start_time: _timestamp_pb2.Timestamp
    class_end_time: _timestamp_pb2.Timestamp
    status: _reservation_pb2.ReservationStatus
    reason: _reservation_pb2.ReservationReason
    update_time: _timestamp_pb2.Timestamp
    waitlist_position: int
    promoted: bool
    check_in_time: _timestamp_pb2.Timestamp
    class_time_zone: str
    class_start_local: str
    def __init__(self, reservation_id: _Optional[str] = ..., class_id: _Optional[str] = ..., class_title: _Optional[str] = ..., class_start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., class_end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[_Union[_reservation_pb2.ReservationStatus, str]] = ..., reason: _Optional[_Union[_reservation_pb2.ReservationReason, str]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., waitlist_position: _Optional[int] = ..., promoted: _Optional[bool] = ..., check_in_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., class_time_zone: _Optional[str] = ..., class_start_local: _Optional[str] = ...) -> None: ...

class GetMyPageRequest(_message.Message):
    __slots__ = ("user_id", "page_size", "page_token")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    page_size: int
    page_token: str
    def __init__(self, user_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class GetMyPageResponse(_message.Message):
    __slots__ = ("user_id", "entries", "next_page_token")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    entries: _containers.RepeatedCompositeFieldContainer[MyPageEntry]
    next_page_token: str
    def __init__(self, user_id: _Optional[str] = ..., entries: _Optional[_Iterable[_Union[MyPageEntry, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
