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

class ReservationStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESERVATION_STATUS_UNSPECIFIED: _ClassVar[ReservationStatus]
    RESERVATION_STATUS_PENDING: _ClassVar[ReservationStatus]
    RESERVATION_STATUS_CONFIRMED: _ClassVar[ReservationStatus]
    RESERVATION_STATUS_REJECTED: _ClassVar[ReservationStatus]
    RESERVATION_STATUS_CANCELLED: _ClassVar[ReservationStatus]
    RESERVATION_STATUS_WAITLISTED: _ClassVar[ReservationStatus]
    RESERVATION_STATUS_EXPIRED: _ClassVar[ReservationStatus]
    RESERVATION_STATUS_ATTENDED: _ClassVar[ReservationStatus]
    RESERVATION_STATUS_NO_SHOW: _ClassVar[ReservationStatus]

class ReservationReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESERVATION_REASON_UNSPECIFIED: _ClassVar[ReservationReason]
    RESERVATION_REASON_CLASS_FULL: _ClassVar[ReservationReason]
    RESERVATION_REASON_CLASS_NOT_FOUND: _ClassVar[ReservationReason]
    RESERVATION_REASON_CLASS_CANCELLED: _ClassVar[ReservationReason]
    RESERVATION_REASON_CLASS_STARTED: _ClassVar[ReservationReason]
    RESERVATION_REASON_CANCELLED_BY_USER: _ClassVar[ReservationReason]
    RESERVATION_REASON_CANCELLED_BY_STUDIO: _ClassVar[ReservationReason]
    RESERVATION_REASON_WAITLIST_OVERLAPPING_BOOKING: _ClassVar[ReservationReason]
    RESERVATION_REASON_WAITLIST_BOOKING_LIMIT: _ClassVar[ReservationReason]
    RESERVATION_REASON_WAITLIST_BLOCKED: _ClassVar[ReservationReason]
    RESERVATION_REASON_WAITLIST_CLOSED: _ClassVar[ReservationReason]
    RESERVATION_REASON_LATE_CANCELLED: _ClassVar[ReservationReason]
    RESERVATION_REASON_BOOKING_LIMIT: _ClassVar[ReservationReason]
    RESERVATION_REASON_BLOCKED: _ClassVar[ReservationReason]
RESERVATION_STATUS_UNSPECIFIED: ReservationStatus
RESERVATION_STATUS_PENDING: ReservationStatus
RESERVATION_STATUS_CONFIRMED: ReservationStatus
RESERVATION_STATUS_REJECTED: ReservationStatus
RESERVATION_STATUS_CANCELLED: ReservationStatus
RESERVATION_STATUS_WAITLISTED: ReservationStatus
RESERVATION_STATUS_EXPIRED: ReservationStatus
RESERVATION_STATUS_ATTENDED: ReservationStatus
RESERVATION_STATUS_NO_SHOW: ReservationStatus
RESERVATION_REASON_UNSPECIFIED: ReservationReason
RESERVATION_REASON_CLASS_FULL: ReservationReason
RESERVATION_REASON_CLASS_NOT_FOUND: ReservationReason
RESERVATION_REASON_CLASS_CANCELLED: ReservationReason
RESERVATION_REASON_CLASS_STARTED: ReservationReason
RESERVATION_REASON_CANCELLED_BY_USER: ReservationReason
RESERVATION_REASON_CANCELLED_BY_STUDIO: ReservationReason
RESERVATION_REASON_WAITLIST_OVERLAPPING_BOOKING: ReservationReason
RESERVATION_REASON_WAITLIST_BOOKING_LIMIT: ReservationReason
RESERVATION_REASON_WAITLIST_BLOCKED: ReservationReason
RESERVATION_REASON_WAITLIST_CLOSED: ReservationReason
RESERVATION_REASON_LATE_CANCELLED: ReservationReason
RESERVATION_REASON_BOOKING_LIMIT: ReservationReason
RESERVATION_REASON_BLOCKED: ReservationReason

class Reservation(_message.Message):
    __slots__ = ("reservation_id", "class_id", "user_id", "status", "reason", "request_id", "create_time", "update_time", "class_title", "class_start_time", "class_end_time", "version", "class_time_zone", "waitlist_position", "waitlist_ticket", "limit_overridden", "promoted", "check_in_time")
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CLASS_TITLE_FIELD_NUMBER: _ClassVar[int]
    CLASS_START_TIME_FIELD_NUMBER: _ClassVar[int]
    CLASS_END_TIME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CLASS_TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    WAITLIST_POSITION_FIELD_NUMBER: _ClassVar[int]
    WAITLIST_TICKET_FIELD_NUMBER: _ClassVar[int]
    LIMIT_OVERRIDDEN_FIELD_NUMBER: _ClassVar[int]
    PROMOTED_FIELD_NUMBER: _ClassVar[int]
    CHECK_IN_TIME_FIELD_NUMBER: _ClassVar[int]
    reservation_id: str
    class_id: str
    user_id: str
    status: ReservationStatus
    reason: ReservationReason
    request_id: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    class_title: str
    class_start_time: _timestamp_pb2.Timestamp
    class_end_time: _timestamp_pb2.Timestamp
    version: int
    class_time_zone: str
    waitlist_position: int
    waitlist_ticket: int
    limit_overridden: bool
    promoted: bool
    check_in_time: _timestamp_pb2.Timestamp
    def __init__(self, reservation_id: _Optional[str] = ..., class_id: _Optional[str] = ..., user_id: _Optional[str] = ..., status: _Optional[_Union[ReservationStatus, str]] = ..., reason: _Optional[_Union[ReservationReason, str]] = ..., request_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., class_title: _Optional[str] = ..., class_start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., class_end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ..., class_time_zone: _Optional[str] = ..., waitlist_position: _Optional[int] = ..., waitlist_ticket: _Optional[int] = ..., limit_overridden: _Optional[bool] = ..., promoted: _Optional[bool] = ..., check_in_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateReservationRequest(_message.Message):
    __slots__ = ("class_id", "request_id", "user_id", "decline_waitlist", "override_limit")
    CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    DECLINE_WAITLIST_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    class_id: str
    request_id: str
    user_id: str
    decline_waitlist: bool
    override_limit: bool
    def __init__(self, class_id: _Optional[str] = ..., request_id: _Optional[str] = ..., user_id: _Optional[str] = ..., decline_waitlist: _Optional[bool] = ..., override_limit: _Optional[bool] = ...) -> None: ...

class CreateReservationResponse(_message.Message):
    __slots__ = ("reservation",)
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    reservation: Reservation
    def __init__(self, reservation: _Optional[_Union[Reservation, _Mapping]] = ...) -> None: ...

class GetReservationRequest(_message.Message):
    __slots__ = ("reservation_id",)
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    reservation_id: str
    def __init__(self, reservation_id: _Optional[str] = ...) -> None: ...

class GetReservationResponse(_message.Message):
    __slots__ = ("reservation",)
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    reservation: Reservation
    def __init__(self, reservation: _Optional[_Union[Reservation, _Mapping]] = ...) -> None: ...

class ListReservationsRequest(_message.Message):
    __slots__ = ("class_id", "user_id", "page_size", "page_token")
    CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    class_id: str
    user_id: str
    page_size: int
    page_token: str
    def __init__(self, class_id: _Optional[str] = ..., user_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListReservationsResponse(_message.Message):
    __slots__ = ("reservations", "next_page_token")
    RESERVATIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    reservations: _containers.RepeatedCompositeFieldContainer[Reservation]
    next_page_token: str
    def __init__(self, reservations: _Optional[_Iterable[_Union[Reservation, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CancelReservationRequest(_message.Message):
    __slots__ = ("reservation_id",)
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    reservation_id: str
    def __init__(self, reservation_id: _Optional[str] = ...) -> None: ...

class CancelReservationResponse(_message.Message):
    __slots__ = ("reservation",)
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    reservation: Reservation
    def __init__(self, reservation: _Optional[_Union[Reservation, _Mapping]] = ...) -> None: ...

class CheckInRequest(_message.Message):
    __slots__ = ("reservation_id",)
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    reservation_id: str
    def __init__(self, reservation_id: _Optional[str] = ...) -> None: ...

class CheckInResponse(_message.Message):
    __slots__ = ("reservation",)
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    reservation: Reservation
    def __init__(self, reservation: _Optional[_Union[Reservation, _Mapping]] = ...) -> None: ...

class GetRosterRequest(_message.Message):
    __slots__ = ("class_id", "page_size", "page_token")
    CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    class_id: str
    page_size: int
    page_token: str
    def __init__(self, class_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class GetRosterResponse(_message.Message):
    __slots__ = ("reservations", "next_page_token")
    RESERVATIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    reservations: _containers.RepeatedCompositeFieldContainer[Reservation]
    next_page_token: str
    def __init__(self, reservations: _Optional[_Iterable[_Union[Reservation, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
