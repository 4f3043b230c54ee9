"""The reference for event latency and drain time: bare confluent-kafka clients on the same
broker, configured like the services' relay (idempotent, acks=all, linger 2 ms) and
consumers (manual commit after each message, poll 0.2 s), with nothing behind them."""

from __future__ import annotations

import struct
import threading
import time
import uuid
from collections.abc import Callable

from confluent_kafka import Consumer, Message
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from yoga_common.relay import producer
from yoga_common.settings import KafkaSettings

_STAMP = struct.Struct(">d")


class Probe:
    """A topic of its own, a producer and a consumer that has joined its group (as the
    services' consumers have long before any event of a scenario)."""

    def __init__(self, settings: KafkaSettings) -> None:
        self.topic = settings.name(f"bench.probe.{uuid.uuid4().hex[:8]}")
        admin = AdminClient(settings.client_config())
        for future in admin.create_topics([NewTopic(self.topic, settings.partitions, 1)]).values():
            future.result()
        self._producer = producer(settings)
        self._consumer = Consumer(
            {
                **settings.client_config(),
                "group.id": settings.name(f"bench-probe-{uuid.uuid4().hex[:8]}"),
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
            }
        )
        self._consumer.subscribe([self.topic])
        self._send(b"join", 1)
        self._read(1, lambda _msg: None)

    def close(self) -> None:
        self._consumer.close()

    def _send(self, value: bytes, count: int) -> None:
        for i in range(count):
            self._producer.produce(self.topic, key=str(i).encode(), value=value)
            self._producer.poll(0)
        self._producer.flush(30)

    def _read(self, count: int, seen: Callable[[Message], None]) -> None:
        got = 0
        deadline = time.monotonic() + 120
        while got < count and time.monotonic() < deadline:
            msg = self._consumer.poll(0.2)
            if msg is None or msg.error():
                continue
            self._consumer.commit(message=msg, asynchronous=False)
            seen(msg)
            got += 1
        if got < count:
            raise RuntimeError(f"the probe read {got} of {count} messages")

    def latencies(self, rate: float, seconds: float) -> list[float]:
        """Milliseconds from produce() to the consumer holding the message and having
        committed it, at `rate` messages per second during `seconds`."""
        total = round(rate * seconds)
        got: list[float] = []
        reader = threading.Thread(
            target=self._read,
            args=(total, lambda m: got.append((time.time() - _STAMP.unpack(m.value())[0]) * 1e3)),
            daemon=True,
        )
        reader.start()
        start = time.monotonic()
        for i in range(total):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self._producer.produce(self.topic, key=str(i).encode(), value=_STAMP.pack(time.time()))
            self._producer.poll(0)
        self._producer.flush(10)
        reader.join(130)
        return got

    def drain_seconds(self, count: int) -> float:
        """Seconds the consumer takes to read and commit, one by one as the services do,
        `count` messages already on the topic."""
        self._send(b"x" * 300, count)
        start = time.monotonic()
        self._read(count, lambda _msg: None)
        return time.monotonic() - start
