from yoga.yogaclass.v1 import yogaclass_pb2 as _yogaclass_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WaitlistSkipReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WAITLIST_SKIP_REASON_UNSPECIFIED: _ClassVar[WaitlistSkipReason]
    WAITLIST_SKIP_REASON_OVERLAPPING_BOOKING: _ClassVar[WaitlistSkipReason]
    WAITLIST_SKIP_REASON_BOOKING_LIMIT: _ClassVar[WaitlistSkipReason]
    WAITLIST_SKIP_REASON_BLOCKED: _ClassVar[WaitlistSkipReason]
WAITLIST_SKIP_REASON_UNSPECIFIED: WaitlistSkipReason
WAITLIST_SKIP_REASON_OVERLAPPING_BOOKING: WaitlistSkipReason
WAITLIST_SKIP_REASON_BOOKING_LIMIT: WaitlistSkipReason
WAITLIST_SKIP_REASON_BLOCKED: WaitlistSkipReason

class ClassCreated(_message.Message):
    __slots__ = ("yoga_class",)
    YOGA_CLASS_FIELD_NUMBER: _ClassVar[int]
    yoga_class: _yogaclass_pb2.YogaClass
    def __init__(self, yoga_class: _Optional[_Union[_yogaclass_pb2.YogaClass, _Mapping]] = ...) -> None: ...

class ClassUpdated(_message.Message):
    __slots__ = ("yoga_class", "changed_fields")
    YOGA_CLASS_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    yoga_class: _yogaclass_pb2.YogaClass
    changed_fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, yoga_class: _Optional[_Union[_yogaclass_pb2.YogaClass, _Mapping]] = ..., changed_fields: _Optional[_Iterable[str]] = ...) -> None: ...

class ClassCancelled(_message.Message):
    __slots__ = ("yoga_class",)
    YOGA_CLASS_FIELD_NUMBER: _ClassVar[int]
    yoga_class: _yogaclass_pb2.YogaClass
    def __init__(self, yoga_class: _Optional[_Union[_yogaclass_pb2.YogaClass, _Mapping]] = ...) -> None: ...

class SeatPromoted(_message.Message):
    __slots__ = ("class_id", "reservation_id", "user_id", "yoga_class")
    CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    YOGA_CLASS_FIELD_NUMBER: _ClassVar[int]
    class_id: str
    reservation_id: str
    user_id: str
    yoga_class: _yogaclass_pb2.YogaClass
    def __init__(self, class_id: _Optional[str] = ..., reservation_id: _Optional[str] = ..., user_id: _Optional[str] = ..., yoga_class: _Optional[_Union[_yogaclass_pb2.YogaClass, _Mapping]] = ...) -> None: ...

class WaitlistSkipped(_message.Message):
    __slots__ = ("class_id", "reservation_id", "user_id", "reason")
    CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    class_id: str
    reservation_id: str
    user_id: str
    reason: WaitlistSkipReason
    def __init__(self, class_id: _Optional[str] = ..., reservation_id: _Optional[str] = ..., user_id: _Optional[str] = ..., reason: _Optional[_Union[WaitlistSkipReason, str]] = ...) -> None: ...

class WaitlistExpired(_message.Message):
    __slots__ = ("class_id", "reservation_id", "user_id")
    CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    class_id: str
    reservation_id: str
    user_id: str
    def __init__(self, class_id: _Optional[str] = ..., reservation_id: _Optional[str] = ..., user_id: _Optional[str] = ...) -> None: ...

class MemberBlocked(_message.Message):
    __slots__ = ("standing",)
    STANDING_FIELD_NUMBER: _ClassVar[int]
    standing: _yogaclass_pb2.MemberStanding
    def __init__(self, standing: _Optional[_Union[_yogaclass_pb2.MemberStanding, _Mapping]] = ...) -> None: ...

class BlockLifted(_message.Message):
    __slots__ = ("standing",)
    STANDING_FIELD_NUMBER: _ClassVar[int]
    standing: _yogaclass_pb2.MemberStanding
    def __init__(self, standing: _Optional[_Union[_yogaclass_pb2.MemberStanding, _Mapping]] = ...) -> None: ...

class StudioSettingsChanged(_message.Message):
    __slots__ = ("settings", "changed_fields")
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    settings: _yogaclass_pb2.StudioSettings
    changed_fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, settings: _Optional[_Union[_yogaclass_pb2.StudioSettings, _Mapping]] = ..., changed_fields: _Optional[_Iterable[str]] = ...) -> None: ...

class SeriesCreated(_message.Message):
    __slots__ = ("series",)
    SERIES_FIELD_NUMBER: _ClassVar[int]
    series: _yogaclass_pb2.ClassSeries
    def __init__(self, series: _Optional[_Union[_yogaclass_pb2.ClassSeries, _Mapping]] = ...) -> None: ...

class SeriesUpdated(_message.Message):
    __slots__ = ("series", "previous", "changed_fields", "from_date")
    SERIES_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    FROM_DATE_FIELD_NUMBER: _ClassVar[int]
    series: _yogaclass_pb2.ClassSeries
    previous: _yogaclass_pb2.ClassSeries
    changed_fields: _containers.RepeatedScalarFieldContainer[str]
    from_date: str
    def __init__(self, series: _Optional[_Union[_yogaclass_pb2.ClassSeries, _Mapping]] = ..., previous: _Optional[_Union[_yogaclass_pb2.ClassSeries, _Mapping]] = ..., changed_fields: _Optional[_Iterable[str]] = ..., from_date: _Optional[str] = ...) -> None: ...

class SeriesCancelled(_message.Message):
    __slots__ = ("series", "from_date")
    SERIES_FIELD_NUMBER: _ClassVar[int]
    FROM_DATE_FIELD_NUMBER: _ClassVar[int]
    series: _yogaclass_pb2.ClassSeries
    from_date: str
    def __init__(self, series: _Optional[_Union[_yogaclass_pb2.ClassSeries, _Mapping]] = ..., from_date: _Optional[str] = ...) -> None: ...
