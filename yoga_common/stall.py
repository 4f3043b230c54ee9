"""When to give up on a Kafka client and make a new one.

librdkafka (2.10 and later) drops every broker a Metadata answer leaves out. A single broker
that is restarting can answer with no brokers at all while it is still fenced; the client then
knows no broker, never asks again and never re-bootstraps (confluentinc/librdkafka#5301). A
consumer in that state stays outside its group for good and a producer acknowledges nothing,
while the broker is back and serving everyone else (issue 12 §1: notification_svc's group did
not move for minutes after an outage). A new client starts again from `bootstrap.servers`."""

from __future__ import annotations

import time
from collections.abc import Callable


class Stall:
    """Measures how long a client has gone without what it needs (a consumer: membership of
    its group; a producer: an acknowledgement while rows wait). `overdue` is true once that has
    lasted `after` seconds, and the clock starts again for the client that replaces it."""

    def __init__(self, after: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._after = after
        self._clock = clock
        self._since: float | None = None

    def overdue(self, healthy: bool) -> bool:
        now = self._clock()
        if healthy:
            self._since = None
            return False
        if self._since is None:
            self._since = now
        if now - self._since < self._after:
            return False
        self._since = now
        return True
