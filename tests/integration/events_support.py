"""Helpers for the event tests: a real SMTP server, reading service tables, consumer lag."""

from __future__ import annotations

import asyncio
import threading
from email import message_from_bytes
from typing import Any

from aiosmtpd.controller import Controller
from confluent_kafka import KafkaException
from sqlalchemy import create_engine, text

from devtools import servers
from tests.integration.conftest import Stack
from yoga_common.topics import CONSUMED, consumer_lag


class Mailbox:
    """A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.received: list[tuple[list[str], str, str]] = []  # (to, subject, message id)
        self._lock = threading.Lock()
        self._controller = Controller(self, hostname="127.0.0.1", port=port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content)
        with self._lock:
            self.received.append(
                (list(envelope.rcpt_tos), str(parsed["Subject"]), str(parsed["Message-ID"]))
            )
        return "250 OK"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def to(self, address: str) -> list[str]:
        with self._lock:
            return [subject for rcpt, subject, _ in self.received if address in rcpt]

    def message_ids(self) -> list[str]:
        with self._lock:
            return [mid for _, _, mid in self.received]


def rows(stack: Stack, service: str, query: str, **params: Any) -> list[tuple[Any, ...]]:
    engine = create_engine(stack.database_url(service))
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(query), params)]
    finally:
        engine.dispose()


def snapshot(stack: Stack, service: str, table: str, order: str) -> list[tuple[Any, ...]]:
    return rows(stack, service, f"SELECT * FROM {table} ORDER BY {order}")


def lag(stack: Stack, service: str) -> int:
    return consumer_lag(stack.kafka, f"{service}_svc", CONSUMED[service])


async def drained(stack: Stack, services: list[str], within: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        lags: dict[str, object]
        try:
            lags = {s: await asyncio.to_thread(lag, stack, s) for s in services}
            if not any(lags.values()):
                return
        except KafkaException as err:  # a broker just back may not coordinate groups yet
            lags = {"broker": str(err)}
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"consumers still behind: {lags}")
        await asyncio.sleep(0.2)


def broker(command: str) -> None:
    """Stops or starts the broker the tests use (scripts/kafka.sh: KAFKA_PORT, KAFKA_DIR)."""
    servers.kafka(command)
