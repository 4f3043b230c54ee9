"""Failures a caller can act on. Pure Python: domain code raises these, and the gRPC layer
(`yoga_common.interceptors`) turns them into a `google.rpc.Status` with details."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from enum import Enum

DOMAIN = "yoga.studio"


class Code(Enum):
    """The gRPC status codes a service raises on purpose (names match `grpc.StatusCode`)."""

    INVALID_ARGUMENT = 3
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    FAILED_PRECONDITION = 9
    ABORTED = 10
    UNAVAILABLE = 14
    UNAUTHENTICATED = 16


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


@dataclass
class ServiceError(Exception):
    """An error with a stable `reason` (ErrorInfo) and optional field violations."""

    code: Code
    reason: str
    message: str
    violations: list[FieldViolation] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code.name} {self.reason}: {self.message}"


def invalid(violations: list[FieldViolation], message: str = "") -> ServiceError:
    text = message or "; ".join(f"{v.field}: {v.description}" for v in violations)
    return ServiceError(Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", text, violations)


def invalid_field(name: str, description: str) -> ServiceError:
    return invalid([FieldViolation(name, description)])


def not_found(kind: str, key: str) -> ServiceError:
    return ServiceError(
        Code.NOT_FOUND,
        f"{kind.upper()}_NOT_FOUND",
        f"{kind} {key!r} does not exist",
        metadata={"id": key},
    )


def failed_precondition(reason: str, message: str, **metadata: str) -> ServiceError:
    return ServiceError(Code.FAILED_PRECONDITION, reason, message, metadata=dict(metadata))


def already_exists(reason: str, message: str, **metadata: str) -> ServiceError:
    return ServiceError(Code.ALREADY_EXISTS, reason, message, metadata=dict(metadata))


def permission_denied(message: str) -> ServiceError:
    return ServiceError(Code.PERMISSION_DENIED, "PERMISSION_DENIED", message)


def unauthenticated(message: str) -> ServiceError:
    return ServiceError(Code.UNAUTHENTICATED, "UNAUTHENTICATED", message)


def aborted(reason: str, message: str, **metadata: str) -> ServiceError:
    return ServiceError(Code.ABORTED, reason, message, metadata=metadata)


def unavailable(reason: str, message: str) -> ServiceError:
    return ServiceError(Code.UNAVAILABLE, reason, message)


class Violations:
    """Collects every field violation of a request, so the caller hears all of them at once."""

    def __init__(self) -> None:
        self.items: list[FieldViolation] = []

    def add(self, name: str, description: str) -> None:
        self.items.append(FieldViolation(name, description))

    def check(self, ok: bool, name: str, description: str) -> None:
        if not ok:
            self.add(name, description)

    def text(self, name: str, value: str, limit: int, required: bool = False) -> None:
        """A person's text (a title, a name, a filter on one): present when required, at most
        `limit` characters, and no control characters, which no title holds and PostgreSQL
        cannot store (NUL)."""
        if required:
            self.check(bool(value.strip()), name, "is required")
        self.check(len(value) <= limit, name, f"at most {limit} characters")
        self.check(
            not any(unicodedata.category(c) == "Cc" for c in value),
            name,
            "has control characters",
        )

    def raise_if_any(self) -> None:
        if self.items:
            raise invalid(self.items)
