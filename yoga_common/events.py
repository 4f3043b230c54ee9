"""Events on the wire: a protobuf value with CloudEvents Kafka binary-mode headers
(`ce_id`, `ce_type` = the message's full name, `ce_source`, `ce_time`, `ce_specversion`,
`content-type`) and the W3C `traceparent` of the change that caused it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypeAlias

from confluent_kafka import Message

Headers: TypeAlias = dict[str, str | bytes | None] | list[tuple[str, str | bytes | None]] | None

CONTENT_TYPE = "application/protobuf"
SPEC_VERSION = "1.0"


@dataclass(frozen=True)
class Envelope:
    event_id: str
    event_type: str
    source: str
    time: str
    key: str
    payload: bytes
    traceparent: str = ""
    topic: str = ""
    partition: int = -1
    offset: int = -1


def headers(
    event_id: str, event_type: str, source: str, time: datetime, traceparent: str | None
) -> list[tuple[str, str | bytes | None]]:
    result: list[tuple[str, str | bytes | None]] = [
        ("ce_id", event_id.encode()),
        ("ce_type", event_type.encode()),
        ("ce_source", source.encode()),
        ("ce_time", time.isoformat().encode()),
        ("ce_specversion", SPEC_VERSION.encode()),
        ("content-type", CONTENT_TYPE.encode()),
    ]
    if traceparent:
        result.append(("traceparent", traceparent.encode()))
    return result


def header_map(raw: Headers) -> dict[str, str]:
    items = raw.items() if isinstance(raw, dict) else raw or []
    return {k: v.decode(errors="replace") if isinstance(v, bytes) else (v or "") for k, v in items}


def from_kafka(msg: Message) -> Envelope:
    found = header_map(msg.headers())
    key = msg.key()
    return Envelope(
        event_id=found.get("ce_id", ""),
        event_type=found.get("ce_type", ""),
        source=found.get("ce_source", ""),
        time=found.get("ce_time", ""),
        key=key.decode(errors="replace") if isinstance(key, bytes) else (key or ""),
        payload=msg.value() or b"",
        traceparent=found.get("traceparent", ""),
        topic=msg.topic() or "",
        partition=msg.partition() or 0,
        offset=msg.offset() or 0,
    )
