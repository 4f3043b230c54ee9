"""notification_svc against real parts, without Kafka: the consumer's `apply` is fed envelopes
directly, on SQLite and on PostgreSQL; emails go to a real aiosmtpd server on a loopback port;
the API is called on `python -m notification_svc` over real gRPC."""

from __future__ import annotations

import asyncio
import email
import email.policy
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import grpc
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Session
from aiosmtpd.smtp import Envelope as SmtpEnvelope
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, func, select

import notification_svc
from devtools.processes import ServiceProcess, free_port
from devtools.smtp_sink import MailDir
from devtools.stack import SINK, Stack
from notification_svc import storage
from notification_svc.consumers import handlers
from notification_svc.domain import EmailState, Kind, Notification, RetryPolicy
from notification_svc.mailer import Mailer, SmtpSender
from notification_svc.messages import ReservationEvent
from notification_svc.service import NotificationService
from notification_svc.storage import NotificationStore
from tests.integration.conftest import BACKENDS, accounts, migrated_database, new_database
from tests.integration.support import error_details, eventually
from yoga.notification.v1 import notification_pb2, notification_pb2_grpc
from yoga.reservation.v1 import events_pb2, reservation_pb2
from yoga_common import migrate
from yoga_common.auth import ADMIN, MEMBER, SERVICE
from yoga_common.consumer import EventConsumer, InvalidEvent
from yoga_common.db import Database
from yoga_common.events import Envelope
from yoga_common.settings import AuthSettings, KafkaSettings
from yoga_common.timestamps import to_timestamp, utcnow
from yoga_common.topics import RESERVATION_EVENTS
from yoga_common.uow import Transactions

MIGRATIONS = Path(notification_svc.__file__).parent / "migrations"
START = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
SENDER = "Yoga Studio <no-reply@yoga.example>"
NO_KAFKA = KafkaSettings(bootstrap_servers="127.0.0.1:1")
R = reservation_pb2

pytestmark = pytest.mark.integration


# --- helpers ---------------------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with migrated_database(request.param, tmp_path, "notification") as database:
        yield database


def consumer(
    db: Database, directory: dict[str, str] | None = None, name: str = "notification_svc"
) -> EventConsumer[NotificationStore]:
    found = handlers(directory or {}, "Asia/Seoul")
    tx = Transactions(db, NotificationStore)
    return EventConsumer(name, tx, storage.inbox, [RESERVATION_EVENTS], found, NO_KAFKA)


def reservation(
    user_id: str = "11",
    reason: reservation_pb2.ReservationReason = R.RESERVATION_REASON_UNSPECIFIED,
    status: reservation_pb2.ReservationStatus = R.RESERVATION_STATUS_CONFIRMED,
    title: str = "Morning Vinyasa",
) -> reservation_pb2.Reservation:
    return R.Reservation(
        reservation_id=str(uuid.uuid4()),
        class_id=str(uuid.uuid4()),
        user_id=user_id,
        status=status,
        reason=reason,
        class_title=title,
        class_start_time=to_timestamp(START),
        version=2,
    )


def confirmed(user_id: str = "11", email_to: str = "", title: str = "Morning Vinyasa") -> Envelope:
    return envelope(
        events_pb2.ReservationConfirmed(
            reservation=reservation(user_id, title=title), user_email=email_to
        )
    )


def envelope(event: ReservationEvent, event_id: str | None = None) -> Envelope:
    return Envelope(
        event_id=str(uuid.uuid4()) if event_id is None else event_id,
        event_type=event.DESCRIPTOR.full_name,
        source="reservation_svc",
        time=utcnow().isoformat(),
        key=event.reservation.reservation_id,
        payload=event.SerializeToString(),
        topic=RESERVATION_EVENTS,
    )


def all_notifications(db: Database) -> list[Notification]:
    rows = db.run_sync(
        lambda conn: list(
            conn.execute(
                select(storage.notifications).order_by(storage.notifications.c.create_time)
            )
        ),
        write=False,
    )
    return [storage._to_domain(row) for row in rows]


def count(db: Database, table: str) -> int:
    t = storage.metadata.tables[table]
    return db.run_sync(lambda conn: conn.execute(select(func.count()).select_from(t)).scalar_one())


@dataclass
class SmtpServer:
    """A real aiosmtpd server on a loopback port, storing what it accepts in a folder."""

    port: int
    folder: Path
    controller: Controller | None = None

    def start(self, handler: MailDir | None = None) -> None:
        self.controller = Controller(
            handler or MailDir(self.folder), hostname="127.0.0.1", port=self.port
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def received(self) -> list[EmailMessage]:
        return read_mail(self.folder)


def read_mail(folder: Path) -> list[EmailMessage]:
    if not folder.exists():
        return []
    found = []
    for path in sorted(folder.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        found.append(message)
    return found


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    """Not started: each test decides when the server is up."""
    server = SmtpServer(free_port(), tmp_path / "mail")
    yield server
    server.stop()


def mailer(
    db: Database, smtp: SmtpServer, policy: RetryPolicy | None = None, batch: int = 10
) -> Mailer:
    return Mailer(
        NotificationService(Transactions(db, NotificationStore)),
        SmtpSender("127.0.0.1", smtp.port, timeout=5.0),
        SENDER,
        policy or RetryPolicy(max_attempts=5, base_seconds=0.2, max_seconds=1.0),
        utcnow,
        batch_size=batch,
        poll_seconds=0.05,
        claim_seconds=60.0,
    )


class CountingMailDir(MailDir):
    """Counts the SMTP sessions (one EHLO each)."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.sessions = 0

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: SmtpEnvelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        self.sessions += 1
        session.host_name = hostname
        return responses


def plain_message(n: int) -> EmailMessage:
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = f"m{n}@example.com"
    message["Subject"] = f"message {n}"
    message["Message-ID"] = f"<{uuid.uuid4()}@yoga.example>"
    message.set_content("hello")
    return message


def test_one_smtp_connection_carries_many_emails_and_is_replaced_once_closed(
    smtp: SmtpServer,
) -> None:
    handler = CountingMailDir(smtp.folder)
    smtp.start(handler)
    sender = SmtpSender("127.0.0.1", smtp.port, timeout=5.0)
    try:
        for n in range(3):
            sender.send(plain_message(n))
        assert handler.sessions == 1
        assert len(smtp.received()) == 3
        smtp.stop()  # the server goes away and comes back: the open connection is dead
        smtp.start(handler)
        sender.send(plain_message(3))
        assert handler.sessions == 2
        assert sorted(str(m["To"]) for m in smtp.received()) == [
            f"m{n}@example.com" for n in range(4)
        ]
    finally:
        sender.close()


# --- the consumer ----------------------------------------------------------------------------


def test_each_event_makes_one_notification_of_its_kind(db: Database) -> None:
    c = consumer(db, directory={"13": "dir13@example.com"})
    events: list[ReservationEvent] = [
        events_pb2.ReservationConfirmed(
            reservation=reservation("11"), user_email="m11@example.com"
        ),
        events_pb2.ReservationRejected(
            reservation=reservation(
                "12", R.RESERVATION_REASON_CLASS_FULL, R.RESERVATION_STATUS_REJECTED
            ),
            user_email="m12@example.com",
        ),
        events_pb2.ReservationCancelled(
            reservation=reservation(
                "13", R.RESERVATION_REASON_CANCELLED_BY_USER, R.RESERVATION_STATUS_CANCELLED
            )
        ),
        events_pb2.ReservationCancelled(
            reservation=reservation(
                "14", R.RESERVATION_REASON_CANCELLED_BY_STUDIO, R.RESERVATION_STATUS_CANCELLED
            )
        ),
    ]
    for event in events:
        assert c.apply(envelope(event)) is True
    found = {n.user_id: n for n in all_notifications(db)}
    assert {u: n.kind for u, n in found.items()} == {
        "11": Kind.BOOKED,
        "12": Kind.REJECTED,
        "13": Kind.CANCELLED,
        "14": Kind.CLASS_CANCELLED,
    }
    assert found["11"].subject == "Booked: Morning Vinyasa on Tue 1 Jan 18:00 KST"
    assert "the class is full" in found["12"].body
    # Addresses: from the event, else from the directory, else none (SKIPPED).
    assert {u: (n.email, n.email_state) for u, n in found.items()} == {
        "11": ("m11@example.com", EmailState.PENDING),
        "12": ("m12@example.com", EmailState.PENDING),
        "13": ("dir13@example.com", EmailState.PENDING),
        "14": ("", EmailState.SKIPPED),
    }
    first = events[0].reservation
    assert (found["11"].reservation_id, found["11"].class_id) == (
        first.reservation_id,
        first.class_id,
    )
    assert found["11"].class_start_time == START
    assert count(db, "inbox") == 4


def test_the_same_event_three_times_leaves_one_notification(db: Database) -> None:
    c = consumer(db)
    event = confirmed(email_to="m11@example.com")
    assert [c.apply(event) for _ in range(3)] == [True, False, False]
    assert count(db, "notifications") == 1
    assert count(db, "inbox") == 1


def test_one_notification_per_event_and_recipient_even_past_the_inbox(db: Database) -> None:
    """Another consumer name has its own inbox rows; the unique constraint still holds."""
    event = confirmed(email_to="m11@example.com")
    assert consumer(db).apply(event) is True
    assert consumer(db, name="notification_svc_replay").apply(event) is True
    assert count(db, "inbox") == 2
    assert count(db, "notifications") == 1


def test_events_that_cannot_be_applied_are_invalid_and_change_nothing(db: Database) -> None:
    c = consumer(db)
    garbage = Envelope(
        event_id=str(uuid.uuid4()),
        event_type=events_pb2.ReservationConfirmed.DESCRIPTOR.full_name,
        source="test",
        time="",
        key="k",
        payload=b"\xff\xff\xff\xff",
    )
    with pytest.raises(InvalidEvent):
        c.apply(garbage)
    no_user = events_pb2.ReservationConfirmed(reservation=reservation(user_id=""))
    with pytest.raises(InvalidEvent, match="user_id"):
        c.apply(envelope(no_user))
    no_reservation_id = events_pb2.ReservationConfirmed(reservation=reservation())
    no_reservation_id.reservation.reservation_id = ""
    with pytest.raises(InvalidEvent, match="reservation_id"):
        c.apply(envelope(no_reservation_id))
    with pytest.raises(InvalidEvent, match="no reservation"):
        c.apply(envelope(events_pb2.ReservationConfirmed(user_email="x@example.com")))
    with pytest.raises(InvalidEvent):
        c.apply(envelope(events_pb2.ReservationConfirmed(reservation=reservation()), event_id=""))
    # The transaction rolled back: not even the inbox row is left.
    assert count(db, "notifications") == 0
    assert count(db, "inbox") == 0


def test_events_of_other_types_are_not_ours(db: Database) -> None:
    other = Envelope(
        event_id=str(uuid.uuid4()),
        event_type="yoga.yogaclass.v1.ClassCreated",
        source="yogaclass_svc",
        time="",
        key="k",
        payload=b"",
    )
    assert consumer(db).apply(other) is False
    assert count(db, "inbox") == 0


# --- email -----------------------------------------------------------------------------------


async def test_the_mailer_delivers_each_notification_once(db: Database, smtp: SmtpServer) -> None:
    smtp.start()
    c = consumer(db)
    c.apply(confirmed("11", "m11@example.com"))
    c.apply(confirmed("12", ""))  # no address: SKIPPED, never mailed
    m = mailer(db, smtp)
    assert await m.deliver_due() == 1
    [message] = smtp.received()
    [n11] = [n for n in all_notifications(db) if n.user_id == "11"]
    assert message["To"] == "m11@example.com"
    assert message["Subject"] == "Booked: Morning Vinyasa on Tue 1 Jan 18:00 KST"
    assert message["Message-ID"] == f"<{n11.notification_id}@yoga.example>"
    assert "Yoga Studio" in message["From"]
    assert n11.email_state is EmailState.SENT
    assert n11.sent_time is not None
    assert n11.attempts == 0
    # Later passes, and a mailer of a restarted service, send nothing again.
    assert await m.deliver_due() == 0
    assert await mailer(db, smtp).deliver_due() == 0
    assert len(smtp.received()) == 1
    states = {n.user_id: n.email_state for n in all_notifications(db)}
    assert states == {"11": EmailState.SENT, "12": EmailState.SKIPPED}


async def test_email_is_retried_while_the_server_is_down(db: Database, smtp: SmtpServer) -> None:
    consumer(db).apply(confirmed("11", "m11@example.com"))
    m = mailer(db, smtp, RetryPolicy(max_attempts=5, base_seconds=0.3, max_seconds=1.0))
    assert await m.deliver_due() == 0
    [n] = all_notifications(db)
    assert (n.email_state, n.attempts) == (EmailState.PENDING, 1)
    assert "Connection" in n.last_error
    assert n.next_attempt_at is not None and n.next_attempt_at > utcnow()
    # Not due yet: no new try (and no new failure counted) until the backoff has passed.
    assert await m.deliver_due() == 0
    assert all_notifications(db)[0].attempts == 1
    smtp.start()
    await eventually(lambda: _sent_now(m), within=5.0)
    [n] = all_notifications(db)
    assert (n.email_state, n.attempts) == (EmailState.SENT, 1)
    assert len(smtp.received()) == 1
    assert await m.deliver_due() == 0
    assert len(smtp.received()) == 1


async def _sent_now(m: Mailer) -> bool:
    return await m.deliver_due() > 0


async def test_email_fails_for_good_after_the_last_try(db: Database, smtp: SmtpServer) -> None:
    consumer(db).apply(confirmed("11", "m11@example.com"))
    m = mailer(db, smtp, RetryPolicy(max_attempts=3, base_seconds=0.05, max_seconds=0.1))

    async def failed() -> bool:
        await m.deliver_due()
        return all_notifications(db)[0].email_state is EmailState.FAILED

    await eventually(failed, within=5.0)
    [n] = all_notifications(db)
    assert (n.attempts, n.next_attempt_at) == (3, None)
    assert "Connection" in n.last_error
    smtp.start()
    await asyncio.sleep(0.2)
    assert await m.deliver_due() == 0
    assert smtp.received() == []


async def test_concurrent_mailers_never_send_twice(db: Database, smtp: SmtpServer) -> None:
    smtp.start()
    c = consumer(db)
    for i in range(20):
        c.apply(confirmed(f"u{i}", f"u{i}@example.com"))
    mailers = [mailer(db, smtp, batch=5) for _ in range(4)]

    async def drain(m: Mailer) -> None:
        for _ in range(20):
            await m.deliver_due()

    await asyncio.gather(*(drain(m) for m in mailers))
    received = smtp.received()
    assert len(received) == 20
    assert len({m["Message-ID"] for m in received}) == 20
    assert {n.email_state for n in all_notifications(db)} == {EmailState.SENT}


async def test_a_claimed_notification_waits_for_its_claim(db: Database, smtp: SmtpServer) -> None:
    """A mailer that claimed a notification and died: no one sends it until the claim ends."""
    smtp.start()
    consumer(db).apply(confirmed("11", "m11@example.com"))
    [n] = all_notifications(db)
    store = NotificationService(Transactions(db, NotificationStore))
    now = utcnow()
    claimed = await store.claim(n.notification_id, now, now + timedelta(seconds=1))
    assert claimed is not None
    assert await store.claim(n.notification_id, now, now + timedelta(seconds=1)) is None
    m = mailer(db, smtp)
    assert await m.deliver_due() == 0
    assert smtp.received() == []
    await eventually(lambda: _sent_now(m), within=5.0)
    assert len(smtp.received()) == 1
    # The dead mailer's late report changes nothing: its claim is gone.
    assert await asyncio.to_thread(store.finish, n, claimed[1]) is False
    assert all_notifications(db)[0].email_state is EmailState.SENT


class SlowMailDir(MailDir):
    async def handle_DATA(self, server: SMTP, session: Session, envelope: SmtpEnvelope) -> str:
        await asyncio.sleep(0.5)
        return await super().handle_DATA(server, session, envelope)


async def test_a_stop_finishes_the_email_in_hand(db: Database, smtp: SmtpServer) -> None:
    smtp.start(SlowMailDir(smtp.folder))
    consumer(db).apply(confirmed("11", "m11@example.com"))
    m = mailer(db, smtp)
    task = asyncio.create_task(m.run())
    await asyncio.sleep(0.2)  # the email is on its way
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    [n] = all_notifications(db)
    assert n.email_state is EmailState.SENT
    assert len(smtp.received()) == 1
    assert await mailer(db, smtp).deliver_due() == 0  # the restarted service sends nothing
    assert len(smtp.received()) == 1


# --- schema ----------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrations_match_the_tables(backend: str, tmp_path: Path) -> None:
    url = new_database(backend, tmp_path, "notification")
    migrate.upgrade(url, MIGRATIONS)
    migrate.upgrade(url, MIGRATIONS)  # a second start changes nothing
    engine = create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), storage.metadata)
    engine.dispose()
    assert diff == []


# --- the API, on a real server ---------------------------------------------------------------


def uid(name: str) -> str:
    """The member's id in the system: the provider's id of development user `name`, the `sub`
    of the tokens `Running.creds(name)` presents."""
    return accounts().user_id(name)


@dataclass
class Running:
    service: ServiceProcess
    mail: Path
    auth: AuthSettings

    def creds(self, user: str, role: str = MEMBER) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {accounts().token(user, role)}"),)


@pytest.fixture
async def running(db: Database, auth: AuthSettings, tmp_path: Path) -> AsyncIterator[Running]:
    c = consumer(db)
    for i in range(5):
        c.apply(confirmed(uid("11"), "m11@example.com", title=f"Class {i}"))
    c.apply(confirmed(uid("12"), "m12@example.com", title="Other member's class"))
    stack = Stack(
        tmp_path / "service",
        auth,
        NO_KAFKA,
        ("notification",),
        database_urls={"notification": db.url},
        smtp_sink=True,
        topics=False,
        env={
            "notification": {
                "NOTIFICATION_TIME_ZONE": "Asia/Seoul",
                "NOTIFICATION_SMTP_TIMEOUT": "2",
                "NOTIFICATION_EMAIL_RETRY_BASE_SECONDS": "0.2",
                "NOTIFICATION_EMAIL_RETRY_MAX_SECONDS": "0.5",
                "NOTIFICATION_EMAIL_POLL_SECONDS": "0.1",
            }
        },
    )
    await asyncio.to_thread(stack.start)
    try:
        service = stack.services["notification"]
        yield Running(service, stack.mail_folder, auth)
        # A clean stop (exit 0) even though the consumer never reached a broker.
        assert service.stop() == 0, service.tail()
    finally:
        stack.stop()
    assert stack.exit_codes[SINK] == 0, stack.tail(SINK)


async def test_members_list_their_own_notifications_newest_first(running: Running) -> None:
    async with grpc.aio.insecure_channel(running.service.target) as channel:
        stub = notification_pb2_grpc.NotificationServiceStub(channel)
        seen: list[notification_pb2.Notification] = []
        token = ""
        while True:
            page = await stub.ListNotifications(
                notification_pb2.ListNotificationsRequest(
                    user_id=uid("11"), page_size=2, page_token=token
                ),
                metadata=running.creds("11"),
            )
            seen.extend(page.notifications)
            token = page.next_page_token
            if not token:
                break
        assert [n.class_title for n in seen] == [f"Class {i}" for i in reversed(range(5))]
        assert {n.user_id for n in seen} == {uid("11")}
        assert {n.kind for n in seen} == {notification_pb2.NOTIFICATION_KIND_BOOKED}
        assert len({n.notification_id for n in seen}) == 5
        assert seen[0].subject == "Booked: Class 4 on Tue 1 Jan 18:00 KST"


async def test_members_cannot_read_anothers_and_staff_can(running: Running) -> None:
    async with grpc.aio.insecure_channel(running.service.target) as channel:
        stub = notification_pb2_grpc.NotificationServiceStub(channel)
        request = notification_pb2.ListNotificationsRequest(user_id=uid("11"))
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.ListNotifications(request, metadata=running.creds("12"))
        assert err.value.code() is grpc.StatusCode.PERMISSION_DENIED
        assert error_details(err.value)[0] == "PERMISSION_DENIED"
        by_staff = await stub.ListNotifications(request, metadata=running.creds("staff-1", ADMIN))
        assert len(by_staff.notifications) == 5
        other = await stub.ListNotifications(
            notification_pb2.ListNotificationsRequest(user_id=uid("12")),
            metadata=running.creds("staff-1", ADMIN),
        )
        assert [n.class_title for n in other.notifications] == ["Other member's class"]
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.ListNotifications(request, metadata=running.creds("robot", SERVICE))
        assert err.value.code() is grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.ListNotifications(request)
        assert err.value.code() is grpc.StatusCode.UNAUTHENTICATED


async def test_bad_requests_are_invalid_argument(running: Running) -> None:
    async with grpc.aio.insecure_channel(running.service.target) as channel:
        stub = notification_pb2_grpc.NotificationServiceStub(channel)
        admin = running.creds("staff-1", ADMIN)
        for request, field in [
            (notification_pb2.ListNotificationsRequest(), "user_id"),
            (notification_pb2.ListNotificationsRequest(user_id="x" * 65), "user_id"),
            (
                notification_pb2.ListNotificationsRequest(user_id=uid("11"), page_size=-1),
                "page_size",
            ),
            (
                notification_pb2.ListNotificationsRequest(user_id=uid("11"), page_token="nope!"),
                "page_token",
            ),
        ]:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.ListNotifications(request, metadata=admin)
            assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
            assert error_details(err.value) == ("INVALID_ARGUMENT", [field])
        # Every bad field in one answer.
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.ListNotifications(
                notification_pb2.ListNotificationsRequest(page_size=-1, page_token="nope!"),
                metadata=admin,
            )
        assert error_details(err.value) == (
            "INVALID_ARGUMENT",
            ["user_id", "page_size", "page_token"],
        )


async def test_the_service_mails_what_it_holds(running: Running) -> None:
    async def all_mailed() -> bool:
        return len(read_mail(running.mail)) == 6

    await eventually(all_mailed, within=20.0)
    async with grpc.aio.insecure_channel(running.service.target) as channel:
        stub = notification_pb2_grpc.NotificationServiceStub(channel)
        page = await stub.ListNotifications(
            notification_pb2.ListNotificationsRequest(user_id=uid("11")),
            metadata=running.creds("11"),
        )
    assert {n.email_state for n in page.notifications} == {notification_pb2.DELIVERY_STATE_SENT}
    assert sorted(m["To"] for m in read_mail(running.mail)) == [
        *["m11@example.com"] * 5,
        "m12@example.com",
    ]
