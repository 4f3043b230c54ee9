"""Any request a client can send to any method gets a deliberate answer: a property test that
builds requests from the protos' descriptors (every field maybe set; times no datetime can
hold; field masks naming real and made-up paths; enum numbers the proto does not define; long,
empty and odd strings; extreme integers) and sends them to the real services. Nothing may come
back UNKNOWN or INTERNAL: those are for the system's own faults, never a caller's input."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.conftest import BACKENDS, Stack, system_under_test
from yoga_common import system
from yoga_common.principal import ADMIN, SERVICE
from yoga_common.settings import AuthSettings

FORBIDDEN = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}
TIMESTAMP_SECONDS = st.one_of(
    st.integers(-62_135_596_800, 253_402_300_799),
    st.sampled_from([-62_135_596_801, 253_402_300_800, -(2**63), 2**63 - 1, 0]),
)
NANOS = st.one_of(st.integers(0, 999_999_999), st.sampled_from([-1, 1_000_000_000, -(2**31)]))
TEXT = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["", " ", "*", "a" * 70, "x" * 5000, "\x00", "../../etc", "'; DROP TABLE"]),
)
INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}


@pytest.fixture(scope="module", params=BACKENDS)
def full_stack(
    request: pytest.FixtureRequest, auth: AuthSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp(f"any-request-{request.param}")
    names = tuple(system.SERVICES)
    # No SMTP server: emails wait and retry, which is not what this test looks at.
    with system_under_test(request.param, auth, folder, names) as running:
        yield running


def methods() -> Iterator[tuple[system.Service, MethodDescriptor]]:
    for service in system.SERVICES.values():
        module = __import__(f"yoga.{service.name}.v1.{service.name}_pb2", fromlist=["x"])
        descriptor = module.DESCRIPTOR.services_by_name[service.grpc_service.rpartition(".")[2]]
        for method in descriptor.methods:
            yield service, method


def scalar(field: FieldDescriptor) -> st.SearchStrategy[Any]:
    if field.type == FieldDescriptor.TYPE_STRING:
        return TEXT
    if field.type == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=64)
    if field.type == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if field.type == FieldDescriptor.TYPE_ENUM:
        return st.integers(-3, 20)  # numbers the enum does not name too (proto3 keeps them)
    if field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.floats(allow_nan=True, allow_infinity=True, width=32)
    low, high = INT_RANGES[field.type]
    return st.one_of(st.integers(low, high), st.sampled_from([low, high, 0, -1 if low else 1]))


def fill(message: Message, data: st.DataObject, depth: int = 0) -> None:
    descriptor: Descriptor = message.DESCRIPTOR
    if descriptor.full_name == "google.protobuf.Timestamp":
        message.seconds = data.draw(TIMESTAMP_SECONDS)  # type: ignore[attr-defined]
        message.nanos = data.draw(NANOS)  # type: ignore[attr-defined]
        return
    if descriptor.full_name == "google.protobuf.FieldMask":
        paths = st.one_of(TEXT, st.sampled_from(["title", "capacity", "start_time", "*", "booked"]))
        message.paths.extend(data.draw(st.lists(paths, max_size=4)))  # type: ignore[attr-defined]
        return
    for field in descriptor.fields:
        if not data.draw(st.booleans()):
            continue
        repeated = field.is_repeated
        if field.message_type is not None:
            if depth >= 3 or field.message_type.GetOptions().map_entry:
                continue
            if repeated:
                for _ in range(data.draw(st.integers(0, 2))):
                    fill(getattr(message, field.name).add(), data, depth + 1)
            else:
                child = getattr(message, field.name)
                child.SetInParent()
                fill(child, data, depth + 1)
        elif repeated:
            getattr(message, field.name).extend(data.draw(st.lists(scalar(field), max_size=3)))
        else:
            setattr(message, field.name, data.draw(scalar(field)))


@pytest.mark.parametrize(
    ("service", "method"), list(methods()), ids=lambda x: getattr(x, "name", str(x))
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_request_gets_a_deliberate_status(
    full_stack: Stack, service: system.Service, method: MethodDescriptor, data: st.DataObject
) -> None:
    request = GetMessageClass(method.input_type)()
    fill(request, data)
    has_http_rule = any(
        f.full_name == "google.api.http" for f, _ in method.GetOptions().ListFields()
    )
    role = ADMIN if has_http_rule else SERVICE
    metadata = full_stack.as_user("fuzz-1", role)
    path = f"/{service.grpc_service}/{method.name}"
    output = GetMessageClass(method.output_type)
    with grpc.insecure_channel(full_stack.target(service.name)) as channel:
        call = channel.unary_unary(
            path,
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=output.FromString,
        )
        try:
            call(request, metadata=metadata, timeout=20)
        except grpc.RpcError as err:
            assert err.code() not in FORBIDDEN, f"{path} {request!r}: {err.code()} {err.details()}"
