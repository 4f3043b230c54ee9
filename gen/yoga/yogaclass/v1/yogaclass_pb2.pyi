import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.rpc import status_pb2 as _status_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ClassStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CLASS_STATUS_UNSPECIFIED: _ClassVar[ClassStatus]
    CLASS_STATUS_SCHEDULED: _ClassVar[ClassStatus]
    CLASS_STATUS_CANCELLED: _ClassVar[ClassStatus]

class SeatResult(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEAT_RESULT_UNSPECIFIED: _ClassVar[SeatResult]
    SEAT_RESULT_RESERVED: _ClassVar[SeatResult]
    SEAT_RESULT_CLASS_FULL: _ClassVar[SeatResult]
    SEAT_RESULT_CLASS_NOT_FOUND: _ClassVar[SeatResult]
    SEAT_RESULT_CLASS_CANCELLED: _ClassVar[SeatResult]
    SEAT_RESULT_CLASS_STARTED: _ClassVar[SeatResult]
    SEAT_RESULT_RELEASED: _ClassVar[SeatResult]
    SEAT_RESULT_WAITLISTED: _ClassVar[SeatResult]
    SEAT_RESULT_BOOKING_LIMIT: _ClassVar[SeatResult]
    SEAT_RESULT_BLOCKED: _ClassVar[SeatResult]
    SEAT_RESULT_EXPIRED: _ClassVar[SeatResult]

class SeriesStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SERIES_STATUS_UNSPECIFIED: _ClassVar[SeriesStatus]
    SERIES_STATUS_ACTIVE: _ClassVar[SeriesStatus]
    SERIES_STATUS_CANCELLED: _ClassVar[SeriesStatus]
CLASS_STATUS_UNSPECIFIED: ClassStatus
CLASS_STATUS_SCHEDULED: ClassStatus
CLASS_STATUS_CANCELLED: ClassStatus
SEAT_RESULT_UNSPECIFIED: SeatResult
SEAT_RESULT_RESERVED: SeatResult
SEAT_RESULT_CLASS_FULL: SeatResult
SEAT_RESULT_CLASS_NOT_FOUND: SeatResult
SEAT_RESULT_CLASS_CANCELLED: SeatResult
SEAT_RESULT_CLASS_STARTED: SeatResult
SEAT_RESULT_RELEASED: SeatResult
SEAT_RESULT_WAITLISTED: SeatResult
SEAT_RESULT_BOOKING_LIMIT: SeatResult
SEAT_RESULT_BLOCKED: SeatResult
SEAT_RESULT_EXPIRED: SeatResult
SERIES_STATUS_UNSPECIFIED: SeriesStatus
SERIES_STATUS_ACTIVE: SeriesStatus
SERIES_STATUS_CANCELLED: SeriesStatus

class YogaClass(_message.Message):
    __slots__ = ("class_id", "title", "instructor", "start_time", "end_time", "time_zone", "capacity", "booked", "status", "create_time", "update_time", "version", "waitlist_capacity", "waiting", "cancellation_window", "series_id", "occurrence_date", "detached")
    CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTOR_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    BOOKED_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    WAITLIST_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    WAITING_FIELD_NUMBER: _ClassVar[int]
    CANCELLATION_WINDOW_FIELD_NUMBER: _ClassVar[int]
    SERIES_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRENCE_DATE_FIELD_NUMBER: _ClassVar[int]
    DETACHED_FIELD_NUMBER: _ClassVar[int]
    class_id: str
    title: str
    instructor: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    time_zone: str
    capacity: int
    booked: int
    status: ClassStatus
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    version: int
    waitlist_capacity: int
    waiting: int
    cancellation_window: _duration_pb2.Duration
    series_id: str
    occurrence_date: str
    detached: bool
    def __init__(self, class_id: _Optional[str] = ..., title: _Optional[str] = ..., instructor: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., time_zone: _Optional[str] = ..., capacity: _Optional[int] = ..., booked: _Optional[int] = ..., status: _Optional[_Union[ClassStatus, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ..., waitlist_capacity: _Optional[int] = ..., waiting: _Optional[int] = ..., cancellation_window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., series_id: _Optional[str] = ..., occurrence_date: _Optional[str] = ..., detached: _Optional[bool] = ...) -> None: ...

class CreateClassRequest(_message.Message):
    __slots__ = ("yoga_class", "request_id")
    YOGA_CLASS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    yoga_class: YogaClass
    request_id: str
    def __init__(self, yoga_class: _Optional[_Union[YogaClass, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateClassResponse(_message.Message):
    __slots__ = ("yoga_class",)
    YOGA_CLASS_FIELD_NUMBER: _ClassVar[int]
    yoga_class: YogaClass
    def __init__(self, yoga_class: _Optional[_Union[YogaClass, _Mapping]] = ...) -> None: ...

class GetClassRequest(_message.Message):
    __slots__ = ("class_id",)
    CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    class_id: str
    def __init__(self, class_id: _Optional[str] = ...) -> None: ...

class GetClassResponse(_message.Message):
    __slots__ = ("yoga_class",)
    YOGA_CLASS_FIELD_NUMBER: _ClassVar[int]
    yoga_class: YogaClass
    def __init__(self, yoga_class: _Optional[_Union[YogaClass, _Mapping]] = ...) -> None: ...

class ListClassesRequest(_message.Message):
    __slots__ = ("start_time", "end_time", "page_size", "page_token", "series_id", "instructor")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SERIES_ID_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTOR_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    series_id: str
    instructor: str
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., series_id: _Optional[str] = ..., instructor: _Optional[str] = ...) -> None: ...

class ListClassesResponse(_message.Message):
    __slots__ = ("yoga_classes", "next_page_token")
    YOGA_CLASSES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    yoga_classes: _containers.RepeatedCompositeFieldContainer[YogaClass]
    next_page_token: str
    def __init__(self, yoga_classes: _Optional[_Iterable[_Union[YogaClass, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateClassRequest(_message.Message):
    __slots__ = ("yoga_class", "update_mask")
    YOGA_CLASS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    yoga_class: YogaClass
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, yoga_class: _Optional[_Union[YogaClass, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateClassResponse(_message.Message):
    __slots__ = ("yoga_class",)
    YOGA_CLASS_FIELD_NUMBER: _ClassVar[int]
    yoga_class: YogaClass
    def __init__(self, yoga_class: _Optional[_Union[YogaClass, _Mapping]] = ...) -> None: ...

class DeleteClassRequest(_message.Message):
    __slots__ = ("class_id",)
    CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    class_id: str
    def __init__(self, class_id: _Optional[str] = ...) -> None: ...

class DeleteClassResponse(_message.Message):
    __slots__ = ("yoga_class",)
    YOGA_CLASS_FIELD_NUMBER: _ClassVar[int]
    yoga_class: YogaClass
    def __init__(self, yoga_class: _Optional[_Union[YogaClass, _Mapping]] = ...) -> None: ...

class ReserveSeatRequest(_message.Message):
    __slots__ = ("class_id", "reservation_id", "user_id", "join_waitlist", "override_limit")
    CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    JOIN_WAITLIST_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    class_id: str
    reservation_id: str
    user_id: str
    join_waitlist: bool
    override_limit: bool
    def __init__(self, class_id: _Optional[str] = ..., reservation_id: _Optional[str] = ..., user_id: _Optional[str] = ..., join_waitlist: _Optional[bool] = ..., override_limit: _Optional[bool] = ...) -> None: ...

class ReserveSeatResponse(_message.Message):
    __slots__ = ("result", "yoga_class", "waitlist_position", "waitlist_ticket", "cancellation_window", "booking_limit", "held_bookings", "blocked_until")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    YOGA_CLASS_FIELD_NUMBER: _ClassVar[int]
    WAITLIST_POSITION_FIELD_NUMBER: _ClassVar[int]
    WAITLIST_TICKET_FIELD_NUMBER: _ClassVar[int]
    CANCELLATION_WINDOW_FIELD_NUMBER: _ClassVar[int]
    BOOKING_LIMIT_FIELD_NUMBER: _ClassVar[int]
    HELD_BOOKINGS_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_UNTIL_FIELD_NUMBER: _ClassVar[int]
    result: SeatResult
    yoga_class: YogaClass
    waitlist_position: int
    waitlist_ticket: int
    cancellation_window: _duration_pb2.Duration
    booking_limit: int
    held_bookings: int
    blocked_until: _timestamp_pb2.Timestamp
    def __init__(self, result: _Optional[_Union[SeatResult, str]] = ..., yoga_class: _Optional[_Union[YogaClass, _Mapping]] = ..., waitlist_position: _Optional[int] = ..., waitlist_ticket: _Optional[int] = ..., cancellation_window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., booking_limit: _Optional[int] = ..., held_bookings: _Optional[int] = ..., blocked_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReserveSeatsRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ReserveSeatRequest]
    def __init__(self, items: _Optional[_Iterable[_Union[ReserveSeatRequest, _Mapping]]] = ...) -> None: ...

class ReserveSeatsResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[ReserveSeatsResult]
    def __init__(self, results: _Optional[_Iterable[_Union[ReserveSeatsResult, _Mapping]]] = ...) -> None: ...

class ReserveSeatsResult(_message.Message):
    __slots__ = ("seat", "error")
    SEAT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    seat: ReserveSeatResponse
    error: _status_pb2.Status
    def __init__(self, seat: _Optional[_Union[ReserveSeatResponse, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...

class ReleaseSeatRequest(_message.Message):
    __slots__ = ("class_id", "reservation_id")
    CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    class_id: str
    reservation_id: str
    def __init__(self, class_id: _Optional[str] = ..., reservation_id: _Optional[str] = ...) -> None: ...

class ReleaseSeatResponse(_message.Message):
    __slots__ = ("released", "yoga_class")
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    YOGA_CLASS_FIELD_NUMBER: _ClassVar[int]
    released: bool
    yoga_class: YogaClass
    def __init__(self, released: _Optional[bool] = ..., yoga_class: _Optional[_Union[YogaClass, _Mapping]] = ...) -> None: ...

class StudioSettings(_message.Message):
    __slots__ = ("waitlist_cutoff", "cancellation_window", "check_in_opens", "no_show_grace", "strike_limit", "strike_period", "block_duration", "booking_limit", "update_time", "version", "reminder_lead", "series_horizon")
    WAITLIST_CUTOFF_FIELD_NUMBER: _ClassVar[int]
    CANCELLATION_WINDOW_FIELD_NUMBER: _ClassVar[int]
    CHECK_IN_OPENS_FIELD_NUMBER: _ClassVar[int]
    NO_SHOW_GRACE_FIELD_NUMBER: _ClassVar[int]
    STRIKE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    STRIKE_PERIOD_FIELD_NUMBER: _ClassVar[int]
    BLOCK_DURATION_FIELD_NUMBER: _ClassVar[int]
    BOOKING_LIMIT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    REMINDER_LEAD_FIELD_NUMBER: _ClassVar[int]
    SERIES_HORIZON_FIELD_NUMBER: _ClassVar[int]
    waitlist_cutoff: _duration_pb2.Duration
    cancellation_window: _duration_pb2.Duration
    check_in_opens: _duration_pb2.Duration
    no_show_grace: _duration_pb2.Duration
    strike_limit: int
    strike_period: _duration_pb2.Duration
    block_duration: _duration_pb2.Duration
    booking_limit: int
    update_time: _timestamp_pb2.Timestamp
    version: int
    reminder_lead: _duration_pb2.Duration
    series_horizon: _duration_pb2.Duration
    def __init__(self, waitlist_cutoff: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., cancellation_window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., check_in_opens: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., no_show_grace: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., strike_limit: _Optional[int] = ..., strike_period: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., block_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., booking_limit: _Optional[int] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ..., reminder_lead: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., series_horizon: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class GetStudioSettingsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetStudioSettingsResponse(_message.Message):
    __slots__ = ("settings",)
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    settings: StudioSettings
    def __init__(self, settings: _Optional[_Union[StudioSettings, _Mapping]] = ...) -> None: ...

class UpdateStudioSettingsRequest(_message.Message):
    __slots__ = ("settings", "update_mask")
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    settings: StudioSettings
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, settings: _Optional[_Union[StudioSettings, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateStudioSettingsResponse(_message.Message):
    __slots__ = ("settings",)
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    settings: StudioSettings
    def __init__(self, settings: _Optional[_Union[StudioSettings, _Mapping]] = ...) -> None: ...

class MemberStanding(_message.Message):
    __slots__ = ("user_id", "strikes", "blocked_until", "lifted_time", "held_bookings", "booking_limit")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    STRIKES_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_UNTIL_FIELD_NUMBER: _ClassVar[int]
    LIFTED_TIME_FIELD_NUMBER: _ClassVar[int]
    HELD_BOOKINGS_FIELD_NUMBER: _ClassVar[int]
    BOOKING_LIMIT_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    strikes: int
    blocked_until: _timestamp_pb2.Timestamp
    lifted_time: _timestamp_pb2.Timestamp
    held_bookings: int
    booking_limit: int
    def __init__(self, user_id: _Optional[str] = ..., strikes: _Optional[int] = ..., blocked_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., lifted_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., held_bookings: _Optional[int] = ..., booking_limit: _Optional[int] = ...) -> None: ...

class GetMemberStandingRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class GetMemberStandingResponse(_message.Message):
    __slots__ = ("standing",)
    STANDING_FIELD_NUMBER: _ClassVar[int]
    standing: MemberStanding
    def __init__(self, standing: _Optional[_Union[MemberStanding, _Mapping]] = ...) -> None: ...

class LiftBlockRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class LiftBlockResponse(_message.Message):
    __slots__ = ("standing",)
    STANDING_FIELD_NUMBER: _ClassVar[int]
    standing: MemberStanding
    def __init__(self, standing: _Optional[_Union[MemberStanding, _Mapping]] = ...) -> None: ...

class ClassSeries(_message.Message):
    __slots__ = ("series_id", "title", "instructor", "capacity", "waitlist_capacity", "cancellation_window", "time_zone", "start_date", "start_time", "duration", "recurrence", "status", "cancelled_from", "previous_series_id", "materialized_until", "end_date", "create_time", "update_time", "version")
    SERIES_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTOR_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    WAITLIST_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    CANCELLATION_WINDOW_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    RECURRENCE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_FROM_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_SERIES_ID_FIELD_NUMBER: _ClassVar[int]
    MATERIALIZED_UNTIL_FIELD_NUMBER: _ClassVar[int]
    END_DATE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    series_id: str
    title: str
    instructor: str
    capacity: int
    waitlist_capacity: int
    cancellation_window: _duration_pb2.Duration
    time_zone: str
    start_date: str
    start_time: str
    duration: _duration_pb2.Duration
    recurrence: str
    status: SeriesStatus
    cancelled_from: str
    previous_series_id: str
    materialized_until: _timestamp_pb2.Timestamp
    end_date: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    version: int
    def __init__(self, series_id: _Optional[str] = ..., title: _Optional[str] = ..., instructor: _Optional[str] = ..., capacity: _Optional[int] = ..., waitlist_capacity: _Optional[int] = ..., cancellation_window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., time_zone: _Optional[str] = ..., start_date: _Optional[str] = ..., start_time: _Optional[str] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., recurrence: _Optional[str] = ..., status: _Optional[_Union[SeriesStatus, str]] = ..., cancelled_from: _Optional[str] = ..., previous_series_id: _Optional[str] = ..., materialized_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_date: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ...) -> None: ...

class CreateSeriesRequest(_message.Message):
    __slots__ = ("series", "request_id")
    SERIES_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    series: ClassSeries
    request_id: str
    def __init__(self, series: _Optional[_Union[ClassSeries, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateSeriesResponse(_message.Message):
    __slots__ = ("series", "classes_created")
    SERIES_FIELD_NUMBER: _ClassVar[int]
    CLASSES_CREATED_FIELD_NUMBER: _ClassVar[int]
    series: ClassSeries
    classes_created: int
    def __init__(self, series: _Optional[_Union[ClassSeries, _Mapping]] = ..., classes_created: _Optional[int] = ...) -> None: ...

class GetSeriesRequest(_message.Message):
    __slots__ = ("series_id",)
    SERIES_ID_FIELD_NUMBER: _ClassVar[int]
    series_id: str
    def __init__(self, series_id: _Optional[str] = ...) -> None: ...

class GetSeriesResponse(_message.Message):
    __slots__ = ("series",)
    SERIES_FIELD_NUMBER: _ClassVar[int]
    series: ClassSeries
    def __init__(self, series: _Optional[_Union[ClassSeries, _Mapping]] = ...) -> None: ...

class ListSeriesRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "instructor")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTOR_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    instructor: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., instructor: _Optional[str] = ...) -> None: ...

class ListSeriesResponse(_message.Message):
    __slots__ = ("series", "next_page_token")
    SERIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    series: _containers.RepeatedCompositeFieldContainer[ClassSeries]
    next_page_token: str
    def __init__(self, series: _Optional[_Iterable[_Union[ClassSeries, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateSeriesRequest(_message.Message):
    __slots__ = ("series", "update_mask", "from_date", "request_id")
    SERIES_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    FROM_DATE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    series: ClassSeries
    update_mask: _field_mask_pb2.FieldMask
    from_date: str
    request_id: str
    def __init__(self, series: _Optional[_Union[ClassSeries, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., from_date: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class UpdateSeriesResponse(_message.Message):
    __slots__ = ("series", "previous", "classes_updated")
    SERIES_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_FIELD_NUMBER: _ClassVar[int]
    CLASSES_UPDATED_FIELD_NUMBER: _ClassVar[int]
    series: ClassSeries
    previous: ClassSeries
    classes_updated: int
    def __init__(self, series: _Optional[_Union[ClassSeries, _Mapping]] = ..., previous: _Optional[_Union[ClassSeries, _Mapping]] = ..., classes_updated: _Optional[int] = ...) -> None: ...

class CancelSeriesRequest(_message.Message):
    __slots__ = ("series_id", "from_date")
    SERIES_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_DATE_FIELD_NUMBER: _ClassVar[int]
    series_id: str
    from_date: str
    def __init__(self, series_id: _Optional[str] = ..., from_date: _Optional[str] = ...) -> None: ...

class CancelSeriesResponse(_message.Message):
    __slots__ = ("series", "classes_cancelled")
    SERIES_FIELD_NUMBER: _ClassVar[int]
    CLASSES_CANCELLED_FIELD_NUMBER: _ClassVar[int]
    series: ClassSeries
    classes_cancelled: int
    def __init__(self, series: _Optional[_Union[ClassSeries, _Mapping]] = ..., classes_cancelled: _Optional[int] = ...) -> None: ...
