"""Checks shared by the servicers on what a request carries."""

from __future__ import annotations

import hashlib

from google.protobuf.message import Message

from yoga_common.errors import Violations

MAX_ID = 64


def check_id(v: Violations, name: str, value: str, required: bool = True) -> None:
    if not value:
        v.check(not required, name, "is required")
        return
    v.check(len(value) <= MAX_ID, name, f"at most {MAX_ID} characters")
    v.check(value.isprintable() and value.strip() == value, name, "has invalid characters")


def fingerprint(message: Message) -> str:
    """Identifies a command's payload, to tell a retry from a reuse of its idempotency key."""
    return hashlib.sha256(message.SerializeToString(deterministic=True)).hexdigest()
