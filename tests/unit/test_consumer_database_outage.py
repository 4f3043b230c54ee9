"""A consumer whose database cannot be reached keeps the event and waits for the database: it
neither spends the event's attempts nor sends it to the dead-letter topic; a gRPC call meanwhile
is UNAVAILABLE, not INTERNAL. `make chaos` found
this: a PostgreSQL restart of a few seconds outlasted the five attempts (about 3 s), and
notification_svc, mypage_svc and reservation_svc dead-lettered the events in hand, so
notifications, my page rows and the cancellations of a deleted class were never made."""

from __future__ import annotations

import sqlite3
import threading
from types import SimpleNamespace
from typing import Any

import grpc
import psycopg
import pytest
from sqlalchemy import Column, MetaData, String, Table
from sqlalchemy.exc import OperationalError, ProgrammingError

from yoga_common import consumer as consumer_module
from yoga_common.consumer import EventConsumer, Handlers
from yoga_common.db import is_unavailable
from yoga_common.interceptors import ServiceInterceptor
from yoga_common.settings import KafkaSettings

REFUSED = OperationalError(
    "SELECT 1",
    {},
    psycopg.OperationalError('connection failed: connection to server at "127.0.0.1" refused'),
)


class Shutdown(psycopg.errors.AdminShutdown):
    """57P01: the server is shutting down (a restart)."""


def test_what_counts_as_the_database_unreachable() -> None:
    assert is_unavailable(REFUSED)
    assert is_unavailable(OperationalError("SELECT 1", {}, Shutdown("terminating connection")))
    lost = OperationalError("SELECT 1", {}, Exception("closed"), connection_invalidated=True)
    assert is_unavailable(lost)
    # A broken statement or a missing table is the event's or the code's fault, not an outage.
    assert not is_unavailable(ProgrammingError("SELECT x", {}, psycopg.errors.UndefinedColumn()))
    assert not is_unavailable(
        OperationalError("SELECT 1", {}, sqlite3.OperationalError("no such table: inbox"))
    )
    assert not is_unavailable(ValueError("bad payload"))


class Outcome:
    def __init__(self) -> None:
        self.dead: list[Exception] = []
        self.applied = 0


def consumer_failing(
    errors: list[Exception], monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, Outcome]:
    """A consumer (max 2 attempts) whose `apply` raises `errors` one by one, then applies."""
    monkeypatch.setattr(consumer_module, "UNAVAILABLE_PAUSE", 0.01)
    settings = KafkaSettings(bootstrap_servers="127.0.0.1:1", max_attempts=2)
    tx: Any = SimpleNamespace(db=SimpleNamespace(is_sqlite=True))
    inbox = Table("inbox", MetaData(), Column("event_id", String, primary_key=True))
    found: EventConsumer[Any] = EventConsumer("test", tx, inbox, ["t"], Handlers(), settings)
    outcome = Outcome()
    left = list(errors)

    def apply(envelope: Any) -> bool:
        if left:
            raise left.pop(0)
        outcome.applied += 1
        return True

    def dead_letter(msg: Any, envelope: Any, error: Exception) -> bool:
        outcome.dead.append(error)
        return True

    found.apply = apply  # type: ignore[method-assign]
    found._dead_letter = dead_letter  # type: ignore[method-assign]
    return found, outcome


def test_an_event_waits_out_a_database_outage_longer_than_its_attempts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    consumer, outcome = consumer_failing([REFUSED] * 20, monkeypatch)
    envelope = SimpleNamespace(event_id="e1", event_type="t.E")
    assert consumer._attempts(None, envelope, REFUSED)
    assert outcome.applied == 1
    assert outcome.dead == []


def test_an_event_that_keeps_failing_is_still_dead_lettered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken = ValueError("the handler cannot apply it")
    consumer, outcome = consumer_failing([REFUSED, broken, broken, broken], monkeypatch)
    envelope = SimpleNamespace(event_id="e1", event_type="t.E")
    assert consumer._attempts(None, envelope, broken)
    assert outcome.applied == 0
    assert outcome.dead == [broken]


def test_a_stop_ends_the_wait_without_a_dead_letter(monkeypatch: pytest.MonkeyPatch) -> None:
    consumer, outcome = consumer_failing([REFUSED] * 1000, monkeypatch)
    envelope = SimpleNamespace(event_id="e1", event_type="t.E")
    stopper = threading.Timer(0.2, consumer._stop.set)
    stopper.start()
    assert not consumer._attempts(None, envelope, REFUSED)
    assert outcome.dead == []


class Aborted(Exception):
    pass


class FakeContext:
    def __init__(self) -> None:
        self.aborted: tuple[Any, ...] = ()

    def code(self) -> None:
        return None

    async def abort(self, *args: Any) -> None:
        self.aborted = args
        raise Aborted


async def test_a_call_during_a_database_outage_is_unavailable_not_internal() -> None:
    """gRPC callers heard INTERNAL while PostgreSQL restarted: UNAVAILABLE tells them to
    retry (with the same request id)."""
    interceptor = ServiceInterceptor(object(), {})  # type: ignore[arg-type]

    async def authorize(method: str, context: Any) -> None:
        return None

    async def inner(request: Any, context: Any) -> None:
        raise REFUSED

    interceptor._authorize = authorize  # type: ignore[method-assign]
    context = FakeContext()
    with pytest.raises(Aborted):
        await interceptor._answer("/pkg.S/M", inner, None, context)  # type: ignore[arg-type]
    code, message, trailing = context.aborted
    assert code == grpc.StatusCode.UNAVAILABLE
    assert "database" in message
    assert b"DATABASE_UNAVAILABLE" in dict(trailing)["grpc-status-details-bin"]
