"""Rules of notifications (notification_svc.domain): kinds, texts, addresses, retries, readers."""

from __future__ import annotations

import email
import email.policy
import smtplib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest

from notification_svc import messages
from notification_svc.config import Settings
from notification_svc.domain import (
    EmailState,
    Kind,
    Notification,
    Outcome,
    ReservationFact,
    RetryPolicy,
    after_failure,
    after_success,
    check_reader,
    describe,
    kind_of,
    new_notification,
    notification_id,
    recipient,
    usable_address,
)
from notification_svc.mailer import compose, is_permanent, message_id
from yoga.notification.v1 import notification_pb2
from yoga.reservation.v1 import events_pb2, reservation_pb2
from yoga_common import system
from yoga_common.auth import ADMIN, MEMBER, Principal
from yoga_common.errors import Code, ServiceError
from yoga_common.timestamps import to_timestamp

NOW = datetime(2029, 12, 30, 8, 0, tzinfo=UTC)
START = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)  # 18:00 in Seoul


def a_fact(outcome: Outcome = Outcome.CONFIRMED, **kw: object) -> ReservationFact:
    fact = ReservationFact(
        event_id="e-1",
        outcome=outcome,
        reservation_id="r-1",
        class_id="c-1",
        user_id="11",
        class_title="Morning Vinyasa",
        class_start_time=START,
        reason="",
        user_email="member11@example.com",
    )
    return replace(fact, **kw)  # type: ignore[arg-type]


def a_notification(**kw: object) -> Notification:
    return replace(new_notification(a_fact(), {}, "UTC", NOW), **kw)  # type: ignore[arg-type]


# --- kinds -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "reason", "kind"),
    [
        (Outcome.CONFIRMED, "", Kind.BOOKED),
        (Outcome.REJECTED, "CLASS_FULL", Kind.REJECTED),
        (Outcome.REJECTED, "CLASS_NOT_FOUND", Kind.REJECTED),
        (Outcome.CANCELLED, "CANCELLED_BY_USER", Kind.CANCELLED),
        (Outcome.CANCELLED, "", Kind.CANCELLED),
        (Outcome.CANCELLED, "CANCELLED_BY_STUDIO", Kind.CLASS_CANCELLED),
    ],
)
def test_each_event_maps_to_one_kind(outcome: Outcome, reason: str, kind: Kind) -> None:
    assert kind_of(outcome, reason) is kind


def test_reason_names_come_from_the_proto_enum() -> None:
    assert messages.reason_name(reservation_pb2.RESERVATION_REASON_CANCELLED_BY_STUDIO) == (
        "CANCELLED_BY_STUDIO"
    )
    assert messages.reason_name(reservation_pb2.RESERVATION_REASON_CLASS_FULL) == "CLASS_FULL"
    assert messages.reason_name(reservation_pb2.RESERVATION_REASON_UNSPECIFIED) == ""
    assert messages.reason_name(999) == ""  # a reason newer than this build


def test_a_studio_cancellation_event_becomes_a_class_cancelled_notification() -> None:
    event = events_pb2.ReservationCancelled(
        reservation=reservation_pb2.Reservation(
            reservation_id="r-9",
            class_id="c-9",
            user_id="12",
            class_title="Yin",
            class_start_time=to_timestamp(START),
            status=reservation_pb2.RESERVATION_STATUS_CANCELLED,
            reason=reservation_pb2.RESERVATION_REASON_CANCELLED_BY_STUDIO,
            version=3,
        ),
        user_email="m12@example.com",
    )
    fact = messages.fact("e-9", Outcome.CANCELLED, event)
    n = new_notification(fact, {}, "UTC", NOW)
    assert (n.kind, n.user_id, n.reservation_id, n.class_id) == (
        Kind.CLASS_CANCELLED,
        "12",
        "r-9",
        "c-9",
    )
    assert n.class_start_time == START
    proto = messages.to_proto(n)
    assert proto.kind == notification_pb2.NOTIFICATION_KIND_CLASS_CANCELLED
    assert proto.email_state == notification_pb2.DELIVERY_STATE_PENDING


def test_an_event_without_start_time_has_none() -> None:
    event = events_pb2.ReservationRejected(
        reservation=reservation_pb2.Reservation(
            reservation_id="r-1",
            user_id="11",
            class_id="c-x",
            reason=reservation_pb2.RESERVATION_REASON_CLASS_NOT_FOUND,
        )
    )
    fact = messages.fact("e-1", Outcome.REJECTED, event)
    assert fact.class_start_time is None
    assert not messages.to_proto(new_notification(fact, {}, "UTC", NOW)).HasField(
        "class_start_time"
    )


# --- texts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "shown"),
    [
        ("Asia/Seoul", "Tue 1 Jan 18:00 KST"),
        ("Europe/Berlin", "Tue 1 Jan 10:00 CET"),
        ("UTC", "Tue 1 Jan 09:00 UTC"),
        ("", "Tue 1 Jan 09:00 UTC"),
        ("Not/AZone", "Tue 1 Jan 09:00 UTC"),
    ],
)
def test_times_are_local_to_the_class_with_the_zones_abbreviation(zone: str, shown: str) -> None:
    subject, _ = describe(Kind.BOOKED, "Flow", START, "", zone)
    assert subject == f"Booked: Flow on {shown}"


@pytest.mark.parametrize(
    ("kind", "reason", "subject", "in_body"),
    [
        (Kind.BOOKED, "", "Booked: Morning Vinyasa on Tue 1 Jan 18:00 KST", "booked"),
        (Kind.REJECTED, "CLASS_FULL", "Not booked: Morning Vinyasa on", "the class is full"),
        (Kind.REJECTED, "CLASS_STARTED", "Not booked:", "already started"),
        (Kind.CANCELLED, "CANCELLED_BY_USER", "Cancelled: Morning Vinyasa on", "is cancelled"),
        (Kind.CLASS_CANCELLED, "CANCELLED_BY_STUDIO", "Class cancelled: Morning", "studio"),
    ],
)
def test_messages_say_what_happened(kind: Kind, reason: str, subject: str, in_body: str) -> None:
    got_subject, body = describe(kind, "Morning Vinyasa", START, reason, "Asia/Seoul")
    assert got_subject.startswith(subject)
    assert in_body in body
    assert "Morning Vinyasa on Tue 1 Jan 18:00 KST" in body


def test_a_class_without_title_or_time_still_reads_well() -> None:
    subject, body = describe(Kind.REJECTED, "", None, "CLASS_NOT_FOUND", "UTC")
    assert subject == "Not booked: your class"
    assert body == "We could not book your class: the class does not exist."


# --- addresses -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "ok"),
    [
        ("member@example.com", True),
        ("a.b+tag@studio.example", True),
        ("", False),
        ("no-at.example.com", False),
        ("two@@example.com", False),
        ("x@localhost", False),
        ("Name <x@example.com>", False),
        ("x@example.com\r\nBcc: victim@example.com", False),
        ("a,b@example.com", False),
        ("x" * 320 + "@example.com", False),
    ],
)
def test_only_plain_addresses_are_used(address: str, ok: bool) -> None:
    assert usable_address(address) is ok


def test_the_address_comes_from_the_event_else_the_directory_else_none() -> None:
    directory = {"11": "dir11@example.com", "13": "broken"}
    assert recipient("ev@example.com", "11", directory) == "ev@example.com"
    assert recipient("", "11", directory) == "dir11@example.com"
    assert recipient("not an address", "11", directory) == "dir11@example.com"
    assert recipient("", "12", directory) == ""
    assert recipient("", "13", directory) == ""


def test_no_address_means_skipped_but_still_in_the_inbox() -> None:
    n = new_notification(a_fact(user_email=""), {}, "UTC", NOW)
    assert (n.email, n.email_state, n.next_attempt_at) == ("", EmailState.SKIPPED, None)
    m = new_notification(a_fact(user_email=""), {"11": "d@example.com"}, "UTC", NOW)
    assert (m.email, m.email_state, m.next_attempt_at) == ("d@example.com", EmailState.PENDING, NOW)


def test_the_notification_id_is_stable_per_event_and_recipient() -> None:
    assert notification_id("e-1", "11") == notification_id("e-1", "11")
    assert notification_id("e-1", "11") != notification_id("e-1", "12")
    assert notification_id("e-1", "11") != notification_id("e-2", "11")
    assert new_notification(a_fact(), {}, "UTC", NOW).notification_id == notification_id(
        "e-1", "11"
    )


def test_the_email_carries_a_message_id_from_the_notification() -> None:
    n = a_notification()
    sender = "Yoga Studio <no-reply@yoga.example>"
    msg = email.message_from_bytes(compose(n, sender).as_bytes(), policy=email.policy.SMTP)
    assert isinstance(msg, EmailMessage)
    assert msg["Message-ID"] == f"<{n.notification_id}@yoga.example>"
    assert message_id(n.notification_id, sender) == msg["Message-ID"]
    assert msg["To"] == "member11@example.com"
    assert msg["Subject"] == n.subject
    assert msg.get_content().strip() == n.body


@pytest.mark.parametrize(
    ("subject", "body", "sender"),
    [
        (
            "예약 확인: 아침 요가",
            "안녕하세요, 11님.\n좌석이 확정되었습니다.",
            "요가 스튜디오 <no-reply@yoga.example>",
        ),
        ("Booked: Morning Flow", "A line\n" * 40, "Yoga Studio <no-reply@yoga.example>"),
    ],
)
def test_an_email_reads_back_as_written_in_any_language(
    subject: str, body: str, sender: str
) -> None:
    n = replace(a_notification(), subject=subject, body=body)
    raw = compose(n, sender).as_bytes()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    assert (msg["Subject"], msg["From"]) == (subject, sender)
    assert msg.get_content().strip() == body.strip()
    assert raw.isascii() == body.isascii()  # 7bit when it can be, else 8bit: no base64


@pytest.mark.parametrize("field", ["email", "subject"])
def test_a_line_break_in_a_header_is_refused_when_composed(field: str) -> None:
    n = replace(a_notification(), **{field: "a@b.example\nBcc: x@y.example"})
    with pytest.raises(ValueError, match="line break"):
        compose(n, "Yoga Studio <no-reply@yoga.example>")


# --- retries ---------------------------------------------------------------------------------


def test_backoff_doubles_up_to_a_cap() -> None:
    policy = RetryPolicy(max_attempts=10, base_seconds=2, max_seconds=30)
    delays = [policy.delay(a).total_seconds() for a in range(1, 7)]
    assert delays == [2, 4, 8, 16, 30, 30]
    assert RetryPolicy().delay(10_000) == timedelta(seconds=600)


def test_a_failure_schedules_the_next_try_and_keeps_the_error() -> None:
    policy = RetryPolicy(max_attempts=3, base_seconds=2)
    n = after_failure(a_notification(), NOW, "ConnectionRefusedError: nope", policy)
    assert (n.email_state, n.attempts) == (EmailState.PENDING, 1)
    assert n.next_attempt_at == NOW + timedelta(seconds=2)
    assert n.last_error == "ConnectionRefusedError: nope"
    n = after_failure(n, NOW, "again", policy)
    assert (n.email_state, n.attempts, n.next_attempt_at) == (
        EmailState.PENDING,
        2,
        NOW + timedelta(seconds=4),
    )
    n = after_failure(n, NOW, "last", policy)
    assert (n.email_state, n.attempts, n.next_attempt_at, n.last_error) == (
        EmailState.FAILED,
        3,
        None,
        "last",
    )


def test_a_permanent_refusal_fails_at_once() -> None:
    n = after_failure(a_notification(), NOW, "550 no such user", RetryPolicy(), permanent=True)
    assert (n.email_state, n.attempts) == (EmailState.FAILED, 1)


def test_long_errors_are_cut() -> None:
    n = after_failure(a_notification(), NOW, "x" * 5000, RetryPolicy())
    assert len(n.last_error) == 1000


def test_success_is_sent() -> None:
    n = after_success(after_failure(a_notification(), NOW, "boom", RetryPolicy()), NOW)
    assert (n.email_state, n.sent_time, n.next_attempt_at, n.last_error) == (
        EmailState.SENT,
        NOW,
        None,
        "",
    )
    assert n.attempts == 1


def test_which_smtp_errors_are_permanent() -> None:
    assert is_permanent(smtplib.SMTPRecipientsRefused({"a@x.example": (550, b"no such user")}))
    assert not is_permanent(smtplib.SMTPRecipientsRefused({"a@x.example": (451, b"try later")}))
    assert is_permanent(smtplib.SMTPDataError(554, b"rejected"))
    assert not is_permanent(smtplib.SMTPDataError(451, b"later"))
    assert not is_permanent(ConnectionRefusedError())
    assert not is_permanent(smtplib.SMTPServerDisconnected())


# --- who may read ----------------------------------------------------------------------------


def test_members_read_their_own_and_staff_read_anyones() -> None:
    check_reader(Principal("11", MEMBER), "11")
    check_reader(Principal("staff-1", ADMIN), "11")
    with pytest.raises(ServiceError) as err:
        check_reader(Principal("12", MEMBER), "11")
    assert err.value.code is Code.PERMISSION_DENIED


# --- settings --------------------------------------------------------------------------------


def test_settings_read_the_directory_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFICATION_EMAIL_DIRECTORY", '{"11": "m11@example.com"}')
    monkeypatch.setenv("NOTIFICATION_TIME_ZONE", "Asia/Seoul")
    settings = Settings()
    assert settings.email_directory == {"11": "m11@example.com"}
    assert settings.port == system.service("notification").port
    assert settings.retry_policy == RetryPolicy(5, 2.0, 600.0)


def test_settings_refuse_an_unknown_zone_and_a_short_claim(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFICATION_TIME_ZONE", "Mars/Olympus")
    with pytest.raises(ValueError, match="IANA"):
        Settings()
    monkeypatch.delenv("NOTIFICATION_TIME_ZONE")
    monkeypatch.setenv("NOTIFICATION_EMAIL_CLAIM_SECONDS", "5")
    with pytest.raises(ValueError, match="claim"):
        Settings()


def test_an_email_shows_the_class_in_its_own_zone() -> None:
    """An Asia/Seoul class read "09:00 (UTC)" in its email (issue 12 §5): the event now carries
    the class's zone, and it wins over the service's default."""
    seoul = new_notification(a_fact(class_time_zone="Asia/Seoul"), {}, "UTC", NOW)
    assert seoul.subject == "Booked: Morning Vinyasa on Tue 1 Jan 18:00 KST"
    older_event = new_notification(a_fact(), {}, "UTC", NOW)
    assert older_event.subject.endswith("09:00 UTC")
    assert (seoul.class_time_zone, older_event.class_time_zone) == ("Asia/Seoul", "UTC")


def test_the_zone_travels_from_the_reservation_event() -> None:
    r = reservation_pb2.Reservation(
        reservation_id="r-1", user_id="11", class_id="c-1", class_time_zone="Asia/Seoul"
    )
    fact = messages.fact("e-1", Outcome.CONFIRMED, events_pb2.ReservationConfirmed(reservation=r))
    assert fact.class_time_zone == "Asia/Seoul"
