from yoga.yogaclass.v1 import yogaclass_pb2 as _yogaclass_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

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
