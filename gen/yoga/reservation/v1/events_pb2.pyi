import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from yoga.reservation.v1 import reservation_pb2 as _reservation_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReservationConfirmed(_message.Message):
    __slots__ = ("reservation", "user_email")
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    USER_EMAIL_FIELD_NUMBER: _ClassVar[int]
    reservation: _reservation_pb2.Reservation
    user_email: str
    def __init__(self, reservation: _Optional[_Union[_reservation_pb2.Reservation, _Mapping]] = ..., user_email: _Optional[str] = ...) -> None: ...

class ReservationWaitlisted(_message.Message):
    __slots__ = ("reservation", "user_email")
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    USER_EMAIL_FIELD_NUMBER: _ClassVar[int]
    reservation: _reservation_pb2.Reservation
    user_email: str
    def __init__(self, reservation: _Optional[_Union[_reservation_pb2.Reservation, _Mapping]] = ..., user_email: _Optional[str] = ...) -> None: ...

class ReservationExpired(_message.Message):
    __slots__ = ("reservation", "user_email")
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    USER_EMAIL_FIELD_NUMBER: _ClassVar[int]
    reservation: _reservation_pb2.Reservation
    user_email: str
    def __init__(self, reservation: _Optional[_Union[_reservation_pb2.Reservation, _Mapping]] = ..., user_email: _Optional[str] = ...) -> None: ...

class ReservationAttended(_message.Message):
    __slots__ = ("reservation", "user_email")
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    USER_EMAIL_FIELD_NUMBER: _ClassVar[int]
    reservation: _reservation_pb2.Reservation
    user_email: str
    def __init__(self, reservation: _Optional[_Union[_reservation_pb2.Reservation, _Mapping]] = ..., user_email: _Optional[str] = ...) -> None: ...

class ReservationNoShow(_message.Message):
    __slots__ = ("reservation", "user_email")
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    USER_EMAIL_FIELD_NUMBER: _ClassVar[int]
    reservation: _reservation_pb2.Reservation
    user_email: str
    def __init__(self, reservation: _Optional[_Union[_reservation_pb2.Reservation, _Mapping]] = ..., user_email: _Optional[str] = ...) -> None: ...

class ReservationRejected(_message.Message):
    __slots__ = ("reservation", "user_email")
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    USER_EMAIL_FIELD_NUMBER: _ClassVar[int]
    reservation: _reservation_pb2.Reservation
    user_email: str
    def __init__(self, reservation: _Optional[_Union[_reservation_pb2.Reservation, _Mapping]] = ..., user_email: _Optional[str] = ...) -> None: ...

class ReservationCancelled(_message.Message):
    __slots__ = ("reservation", "user_email")
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    USER_EMAIL_FIELD_NUMBER: _ClassVar[int]
    reservation: _reservation_pb2.Reservation
    user_email: str
    def __init__(self, reservation: _Optional[_Union[_reservation_pb2.Reservation, _Mapping]] = ..., user_email: _Optional[str] = ...) -> None: ...

class ReservationRescheduled(_message.Message):
    __slots__ = ("reservation", "user_email", "previous_start_time", "previous_end_time")
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    USER_EMAIL_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_START_TIME_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_END_TIME_FIELD_NUMBER: _ClassVar[int]
    reservation: _reservation_pb2.Reservation
    user_email: str
    previous_start_time: _timestamp_pb2.Timestamp
    previous_end_time: _timestamp_pb2.Timestamp
    def __init__(self, reservation: _Optional[_Union[_reservation_pb2.Reservation, _Mapping]] = ..., user_email: _Optional[str] = ..., previous_start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., previous_end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
