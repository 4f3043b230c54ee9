"""Reminders at most once, with notification_svc run as real processes (`python -m
notification_svc`) on PostgreSQL against a real SMTP server (aiosmtpd) in this test: SIGKILLed
in the middle of a batch and started again, and two replicas on one database. Counted twice:
by what the SMTP server accepted and by the database.

The server is slow on purpose and holds one message until its client is gone: it models a
server that takes a message only once it can answer for it, so a client killed while its
message is in DATA leaves nothing accepted (SMTP cannot say more: a client killed between the
server's 250 and its own database write would send again, and the Message-ID, derived from the
notification id, is what lets a receiver drop that copy). The kill lands while the message is
held, so the test decides nothing by timing."""

from __future__ import annotations

import asyncio
import email
import email.policy
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import Connection, func, select, update

from devtools.processes import free_port
from notification_svc.domain import EmailState, Kind
from notification_svc.reminders import ReminderState
from notification_svc.storage import notifications, reminders
from tests.integration.conftest import Stack, migrated_database
from tests.integration.support import eventually
from tests.integration.test_notification_reminders import (
    HOUR,
    booking,
    cancelled_event,
    confirmed,
    consumer,
)
from tests.integration.test_notification_service import NO_KAFKA
from yoga_common.db import Database
from yoga_common.settings import AuthSettings
from yoga_common.timestamps import utcnow

pytestmark = pytest.mark.integration

ELIGIBLE = 30
STARTED = 2
CANCELLED = 3


class SlowServer:
    """An aiosmtpd handler that takes `delay` seconds over each message's DATA, and holds the
    `hold_at`-th until its client goes away (then accepts nothing of it)."""

    def __init__(self, delay: float, hold_at: int = 0) -> None:
        self.delay = delay
        self.hold_at = hold_at
        self.holding = threading.Event()
        self.received: list[EmailMessage] = []
        self.begun = 0
        self.abandoned = 0
        self._lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self._lock:
            self.begun += 1
            held = self.begun == self.hold_at
        try:
            if held:
                self.holding.set()
                await asyncio.sleep(120)  # aiosmtpd cancels this when the client vanishes
            else:
                await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            with self._lock:
                self.abandoned += 1
            raise
        content = envelope.original_content or envelope.content or b""
        message = email.message_from_bytes(
            content if isinstance(content, bytes) else content.encode(),
            policy=email.policy.default,
        )
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.received.append(message)
        return "250 Message accepted for delivery"

    def accepted(self) -> list[EmailMessage]:
        with self._lock:
            return list(self.received)


@contextmanager
def smtp_server(handler: SlowServer) -> Iterator[int]:
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    with migrated_database("postgres", tmp_path, "notification") as database:
        yield database


def due_reminders(db: Database) -> set[str]:
    """Bookings whose reminders are due now: ELIGIBLE of classes still to come, STARTED of
    classes begun (the job drops them), CANCELLED cancelled after they were scheduled. Their
    booking emails count as sent before: only reminders are mailed here. The addresses of
    the eligible ones."""
    now = utcnow()
    c = consumer(db)
    eligible = set()
    for n in range(ELIGIBLE):
        r = booking(f"m{n}", start=now + 2 * HOUR, at=now - 72 * HOUR)
        c.apply(confirmed(r))
        eligible.add(f"{r.user_id}@example.com")
    for n in range(STARTED):
        c.apply(confirmed(booking(f"s{n}", start=now - timedelta(minutes=10), at=now - 72 * HOUR)))
    for n in range(CANCELLED):
        r = booking(f"x{n}", start=now + 2 * HOUR, at=now - 72 * HOUR)
        c.apply(confirmed(r))
        c.apply(cancelled_event(r))
    db.run_sync(
        lambda conn: conn.execute(
            update(notifications).values(email_state="SENT", next_attempt_at=None, sent_time=now)
        )
    )
    return eligible


def service_stack(folder: Path, auth: AuthSettings, db: Database, smtp_port: int) -> Stack:
    return Stack(
        folder,
        auth,
        # No broker: the events were applied before; the job and the mailer are under test.
        NO_KAFKA,
        ("notification",),
        database_urls={"notification": db.url},
        smtp_port=smtp_port,
        topics=False,
        env={
            "notification": {
                "NOTIFICATION_REMINDER_INTERVAL_SECONDS": "0.2",
                "NOTIFICATION_REMINDER_BATCH_SIZE": "4",
                "NOTIFICATION_EMAIL_BATCH_SIZE": "4",
                "NOTIFICATION_EMAIL_POLL_SECONDS": "0.1",
                "NOTIFICATION_SMTP_TIMEOUT": "2",
                # A claim of a killed mailer ends this soon; then the restarted one sends it.
                "NOTIFICATION_EMAIL_CLAIM_SECONDS": "20",
            }
        },
    )


def counts(db: Database) -> tuple[dict[str, int], dict[str, int]]:
    """Reminders by state, and reminder notifications by email state."""

    def read(conn: Connection) -> tuple[dict[str, int], dict[str, int]]:
        by_state: dict[str, int] = dict(
            conn.execute(select(reminders.c.state, func.count()).group_by(reminders.c.state)).all()
        )
        by_email: dict[str, int] = dict(
            conn.execute(
                select(notifications.c.email_state, func.count())
                .where(notifications.c.kind == Kind.REMINDER.value)
                .group_by(notifications.c.email_state)
            ).all()
        )
        return by_state, by_email

    return db.run_sync(read, write=False)


DONE = (
    {
        ReminderState.SENT.value: ELIGIBLE,
        ReminderState.DROPPED.value: STARTED,
        ReminderState.CANCELLED.value: CANCELLED,
    },
    {EmailState.SENT.value: ELIGIBLE},
)


def assert_once_each(accepted: list[EmailMessage], eligible: set[str]) -> None:
    assert len(accepted) == ELIGIBLE, sorted(str(m["To"]) for m in accepted)
    assert sorted(str(m["To"]) for m in accepted) == sorted(eligible)
    assert len({str(m["Message-ID"]) for m in accepted}) == ELIGIBLE
    assert {str(m["Subject"]).split(":")[0] for m in accepted} == {"Reminder"}


async def test_a_sigkill_in_the_middle_of_a_batch_sends_no_reminder_twice(
    db: Database, auth: AuthSettings, tmp_path: Path
) -> None:
    eligible = due_reminders(db)
    server = SlowServer(delay=0.05, hold_at=ELIGIBLE // 3)
    with smtp_server(server) as port:
        stack = service_stack(tmp_path / "one", auth, db, port)
        await asyncio.to_thread(stack.start)
        try:
            service = stack.services["notification"]
            assert await asyncio.to_thread(server.holding.wait, 60), service.tail()
            service.stop(signal.SIGKILL)  # its email is in DATA; earlier ones are recorded

            async def abandoned() -> bool:
                return server.abandoned == 1

            await eventually(abandoned, within=10)
            sent_before = len(server.accepted())
            assert 0 < sent_before < ELIGIBLE
            await asyncio.to_thread(service.start)
            await asyncio.to_thread(service.wait_healthy)

            async def all_done() -> bool:
                return counts(db) == DONE and len(server.accepted()) >= ELIGIBLE

            await eventually(all_done, within=90)
        finally:
            stack.stop()
        # Stopped: nothing more can come. Exactly one each, by the server and the database.
        assert_once_each(server.accepted(), eligible)
        assert counts(db) == DONE


async def test_two_replicas_on_one_database_send_each_reminder_once(
    db: Database, auth: AuthSettings, tmp_path: Path
) -> None:
    eligible = due_reminders(db)
    server = SlowServer(delay=0.02)
    with smtp_server(server) as port:
        stacks = [service_stack(tmp_path / name, auth, db, port) for name in ("a", "b")]
        try:
            await asyncio.gather(*(asyncio.to_thread(s.start) for s in stacks))

            async def all_done() -> bool:
                return counts(db) == DONE and len(server.accepted()) >= ELIGIBLE

            await eventually(all_done, within=90)
        finally:
            for s in stacks:
                s.stop()
        assert_once_each(server.accepted(), eligible)
        assert counts(db) == DONE
