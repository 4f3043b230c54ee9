"""Helpers for tests that talk to real services."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from yoga.yogaclass.v1 import yogaclass_pb2


def ts(value: datetime) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(value)
    return t


def a_class(
    capacity: int = 2, title: str = "Morning Vinyasa", starts_in: timedelta = timedelta(days=1)
) -> yogaclass_pb2.YogaClass:
    start = datetime.now(UTC).replace(microsecond=0) + starts_in
    return yogaclass_pb2.YogaClass(
        title=title,
        instructor="Jiwoo",
        start_time=ts(start),
        end_time=ts(start + timedelta(hours=1)),
        time_zone="Asia/Seoul",
        capacity=capacity,
    )


def request_id() -> str:
    return str(uuid.uuid4())


def error_details(err: grpc.aio.AioRpcError) -> tuple[str, list[str]]:
    """The ErrorInfo reason and the BadRequest fields of a rich error."""
    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    assert status is not None, f"no rich status in {err}"
    reason, fields = "", []
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(info):
            reason = info.reason
        elif detail.Unpack(bad):
            fields = [v.field for v in bad.field_violations]
    return reason, fields


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 15.0) -> None:
    """Waits until `check` holds, failing after `within` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not reached within {within}s")
        await asyncio.sleep(0.1)
