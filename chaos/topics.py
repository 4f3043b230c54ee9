"""Reads every message of the system's topics (events and dead letters) from the beginning to
the end they have now: what the checker compares with the outboxes and the inboxes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from yoga_common.settings import KafkaSettings
from yoga_common.topics import all_topics


@dataclass
class Message:
    topic: str
    event_id: str
    event_type: str
    headers: dict[str, str] = field(default_factory=dict)


def read_all(settings: KafkaSettings, timeout: float = 60.0) -> dict[str, list[Message]]:
    """Every message of every topic, by topic name without the prefix."""
    reader = Consumer(
        {
            **settings.client_config(),
            "group.id": f"chaos-checker-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
        }
    )
    try:
        names = {settings.name(t): t for t in all_topics()}
        metadata = reader.list_topics(timeout=10)
        ends: dict[tuple[str, int], int] = {}
        assigned = []
        for name in names:
            for p in metadata.topics[name].partitions:
                low, high = reader.get_watermark_offsets(TopicPartition(name, p), timeout=10)
                if high > low:
                    ends[(name, p)] = high
                    assigned.append(TopicPartition(name, p, OFFSET_BEGINNING))
        found: dict[str, list[Message]] = {t: [] for t in names.values()}
        if not assigned:
            return found
        reader.assign(assigned)
        left = dict(ends)
        idle = 0
        while left:
            msg = reader.poll(1.0)
            if msg is None:
                idle += 1
                if idle > timeout:  # seconds without a message (a poll waits 1 s)
                    raise RuntimeError(f"topics not read to their end: {left}")
                continue
            topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
            if msg.error() or topic is None or partition is None or offset is None:
                continue
            headers = {
                str(k): (v.decode(errors="replace") if isinstance(v, bytes) else str(v))
                for k, v in _pairs(msg.headers())
            }
            found[names[topic]].append(
                Message(names[topic], headers.get("ce_id", ""), headers.get("ce_type", ""), headers)
            )
            if offset + 1 >= left.get((topic, partition), 0):
                left.pop((topic, partition), None)
        return found
    finally:
        reader.close()


def _pairs(headers: object) -> list[tuple[object, object]]:
    """A message's headers as pairs (librdkafka gives a list of pairs, or None)."""
    return list(headers) if isinstance(headers, list) else []
