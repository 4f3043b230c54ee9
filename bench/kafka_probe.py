"""The reference for event latency and drain time: bare confluent-kafka clients on the same
broker, configured like the services' relay (idempotent, acks=all, linger 2 ms) and
consumers (manual commit, poll 0.2 s), with nothing behind them."""

from __future__ import annotations

import struct
import threading
import time
import uuid

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from yoga_common.relay import producer
from yoga_common.settings import KafkaSettings

_STAMP = struct.Struct(">d")


def _topic(settings: KafkaSettings) -> str:
    name = settings.name(f"bench.probe.{uuid.uuid4().hex[:8]}")
    admin = AdminClient(settings.client_config())
    for future in admin.create_topics([NewTopic(name, settings.partitions, 1)]).values():
        future.result()
    return name


def _consumer(settings: KafkaSettings, topic: str) -> Consumer:
    consumer = Consumer(
        {
            **settings.client_config(),
            "group.id": settings.name(f"bench-probe-{uuid.uuid4().hex[:8]}"),
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    return consumer


def latencies(settings: KafkaSettings, rate: float, seconds: float) -> list[float]:
    """Milliseconds from produce() to the consumer holding the message (and committing it),
    for `rate` messages per second during `seconds`."""
    topic = _topic(settings)
    total = round(rate * seconds)
    got: list[float] = []
    consumer = _consumer(settings, topic)
    ready = threading.Event()

    def consume() -> None:
        while len(got) < total:
            msg = consumer.poll(0.2)
            ready.set()
            if msg is None or msg.error():
                continue
            consumer.commit(msg, asynchronous=False)
            got.append((time.time() - _STAMP.unpack(msg.value())[0]) * 1000)

    worker = threading.Thread(target=consume, daemon=True)
    worker.start()
    ready.wait(30)
    out: Producer = producer(settings)
    time.sleep(2)  # the consumer's group assignment settles before the clock starts
    start = time.monotonic()
    for i in range(total):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        out.produce(topic, key=str(i).encode(), value=_STAMP.pack(time.time()))
        out.poll(0)
    out.flush(10)
    worker.join(60)
    consumer.close()
    return got


def drain_seconds(settings: KafkaSettings, count: int) -> float:
    """Seconds a bare consumer takes to read and commit, one by one as the services do,
    `count` messages already on a topic (from its first message: joining the group is not
    counted, the services' consumers have joined long before)."""
    topic = _topic(settings)
    out = producer(settings)
    for i in range(count):
        out.produce(topic, key=str(i).encode(), value=b"x" * 300)
        if i % 1000 == 0:
            out.poll(0)
    out.flush(30)
    consumer = _consumer(settings, topic)
    seen = 0
    start = 0.0
    while seen < count:
        msg = consumer.poll(0.2)
        if msg is None or msg.error():
            continue
        start = start or time.monotonic()
        consumer.commit(msg, asynchronous=False)
        seen += 1
    took = time.monotonic() - start
    consumer.close()
    return took
