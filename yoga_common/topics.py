"""The Kafka topics of the system (named in yoga_common.system), created by the project,
never by auto-create."""

from __future__ import annotations

import logging

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from yoga_common import system
from yoga_common.settings import KafkaSettings
from yoga_common.system import EVENT_TOPICS, RESERVATION_EVENTS, YOGACLASS_EVENTS

log = logging.getLogger(__name__)

__all__ = ["EVENT_TOPICS", "RESERVATION_EVENTS", "YOGACLASS_EVENTS"]

# What each consuming service reads (its consumer group is `<name>_svc`), from the registry.
CONSUMED = {s.name: list(s.consumes) for s in system.CONSUMERS}


def dead_letter_topic(consumer: str) -> str:
    """One dead-letter topic per consumer (`reservation` or `reservation_svc`)."""
    return system.service(consumer).dead_letter_topic


def all_topics() -> list[str]:
    return [*EVENT_TOPICS, *(s.dead_letter_topic for s in system.CONSUMERS)]


def ensure_topics(settings: KafkaSettings, timeout: float = 30.0) -> None:
    admin = AdminClient(settings.client_config())
    existing = set(admin.list_topics(timeout=timeout).topics)
    missing = [
        NewTopic(settings.name(topic), settings.partitions, settings.replication_factor)
        for topic in all_topics()
        if settings.name(topic) not in existing
    ]
    if not missing:
        return
    for name, future in admin.create_topics(missing, operation_timeout=timeout).items():
        try:
            future.result()
            log.info("topic created", extra={"topic": name})
        except KafkaException as err:
            if err.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise


def consumer_lag(settings: KafkaSettings, group: str, topics: list[str]) -> int:
    """Messages on `topics` that consumer group `group` has not committed yet."""
    probe = Consumer(
        {**settings.client_config(), "group.id": settings.name(group), "enable.auto.commit": False}
    )
    try:
        names = [settings.name(t) for t in topics]
        metadata = probe.list_topics(timeout=10)
        partitions = [
            TopicPartition(name, p) for name in names for p in metadata.topics[name].partitions
        ]
        total = 0
        for tp in probe.committed(partitions, timeout=10):
            low, high = probe.get_watermark_offsets(tp, timeout=10)
            total += max(high - (tp.offset if tp.offset >= 0 else low), 0)
        return total
    finally:
        probe.close()


def main() -> None:
    """`python -m yoga_common.topics`: creates the topics named by the YOGA_KAFKA_* settings."""
    logging.basicConfig(level=logging.INFO)
    settings = KafkaSettings()
    ensure_topics(settings)
    print(" ".join(settings.name(t) for t in all_topics()))


if __name__ == "__main__":
    main()
