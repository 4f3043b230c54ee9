"""Checks shared by the servicers on what a request carries."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from yoga_common.errors import Violations
from yoga_common.timestamps import from_timestamp

MAX_ID = 64
# The range google.protobuf.Timestamp defines (0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z);
# outside it, or with nanos outside [0, 1e9), the library cannot make a datetime of it.
MIN_SECONDS = -62_135_596_800
MAX_SECONDS = 253_402_300_799


def check_id(v: Violations, name: str, value: str, required: bool = True) -> None:
    if not value:
        v.check(not required, name, "is required")
        return
    v.check(len(value) <= MAX_ID, name, f"at most {MAX_ID} characters")
    v.check(value.isprintable() and value.strip() == value, name, "has invalid characters")


def fingerprint(message: Message) -> str:
    """Identifies a command's payload, to tell a retry from a reuse of its idempotency key."""
    return hashlib.sha256(message.SerializeToString(deterministic=True)).hexdigest()


def check_time(v: Violations, name: str, ts: Timestamp) -> datetime | None:
    """The time a request carries, or None (and a violation) when no datetime can hold it."""
    if not (MIN_SECONDS <= ts.seconds <= MAX_SECONDS and 0 <= ts.nanos < 1_000_000_000):
        v.add(name, "must be a time between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z")
        return None
    return from_timestamp(ts)


# Longer than any rule of a studio needs, and far inside what a timedelta holds.
MAX_DURATION_SECONDS = 10 * 366 * 86400


def check_duration(v: Violations, name: str, d: Duration) -> timedelta | None:
    """A duration a request carries, in whole seconds and not negative, or None (and a
    violation)."""
    if d.nanos != 0 or not 0 <= d.seconds <= MAX_DURATION_SECONDS:
        v.add(name, "must be a whole number of seconds, not negative, at most 10 years")
        return None
    return timedelta(seconds=d.seconds)
