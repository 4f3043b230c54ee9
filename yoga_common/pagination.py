"""Opaque page tokens: a keyset position encoded as URL-safe base64 JSON."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from yoga_common.errors import ServiceError, Violations, invalid_field

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


def page_size(requested: int) -> int:
    if requested < 0:
        raise invalid_field("page_size", "must not be negative")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def encode(position: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode()


def _foreign() -> Exception:
    return invalid_field("page_token", "is not a token this service issued")


def decode(token: str) -> list[Any] | None:
    if not token:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, RecursionError) as err:
        raise _foreign() from err
    if not isinstance(value, list):
        raise _foreign()
    return value


def encode_after(at: datetime, key: str) -> str:
    """A keyset position: the sort time and id of the last item of a page."""
    return encode([at.isoformat(), key])


def decode_after(token: str) -> tuple[datetime, str] | None:
    position = decode(token)
    if position is None:
        return None
    try:
        return datetime.fromisoformat(position[0]), str(position[1])
    except (IndexError, TypeError, ValueError) as err:
        raise _foreign() from err


T = TypeVar("T")


@dataclass(frozen=True)
class Paging:
    """The page a `List*` call asks for: its size and where the previous page ended."""

    size: int
    after: tuple[datetime, str] | None


def keyset_paging(v: Violations, size: int, token: str) -> Paging:
    """The page asked for; a bad size or token joins the request's other violations in `v`,
    so the caller hears of every bad field at once."""
    v.check(size >= 0, "page_size", "must not be negative")
    after = None
    try:
        after = decode_after(token)
    except ServiceError as bad:
        v.items += bad.violations
    return Paging(
        min(size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE) if size > 0 else DEFAULT_PAGE_SIZE, after
    )


async def keyset_page(
    paging: Paging,
    fetch: Callable[[int, tuple[datetime, str] | None], Awaitable[list[T]]],
    position: Callable[[T], tuple[datetime, str]],
) -> tuple[list[T], str]:
    """One page of a `List*` call: `fetch(limit, after)` returns up to `limit` items after the
    keyset position `after`; one more than the page is asked for, to know whether a next page
    exists without counting. Returns the page and the next page's token ("" at the end)."""
    found = await fetch(paging.size + 1, paging.after)
    page = found[: paging.size]
    token = encode_after(*position(page[-1])) if len(found) > paging.size else ""
    return page, token
