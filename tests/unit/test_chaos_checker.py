"""The chaos checker fails a run for what it must catch: a lost acknowledged booking, a status
the client's answer rules out, a missing notification, my page out of step, an event applied
twice, a dead letter. The books here are canned answers to its queries."""

from __future__ import annotations

from typing import Any

from chaos.checker import check_books
from chaos.topics import Message
from chaos.workload import Entry

CONFIRMED = "yoga.reservation.v1.ReservationConfirmed"


def books(changes: dict[str, list[tuple[Any, ...]]] | None = None) -> dict[str, Any]:
    """One class c1 (3 seats, 1 taken by r1 of u1, CONFIRMED, event e1), consistent
    everywhere; `changes` replaces the answer of a query named by its key ("service:part of
    the query"; the first key that matches answers, so the narrower come first)."""
    answers: dict[str, list[tuple[Any, ...]]] = {
        "yogaclass:booked > capacity": [(0,)],
        "yogaclass:sum(booked)": [(1, 1, 3)],
        "yogaclass:status = 'CANCELLED'": [],
        "yogaclass:status <> 'SCHEDULED'": [],
        "yogaclass:class_id, booked FROM classes": [("c1", 1)],
        "yogaclass:state = 'HELD'": [("c1", 1)],
        "yogaclass:class_id, waiting FROM classes": [("c1", 0)],
        "yogaclass:state = 'WAITING'": [],
        "reservation:reservation_id, class_id, status": [("r1", "c1", "CONFIRMED")],
        "reservation:status IN": [("c1", 1)],
        "reservation:status = 'WAITLISTED'": [],
        "reservation:status, count(*)": [("CONFIRMED", 1)],
        "reservation:reservation_id, status, reason": [("r1", "CONFIRMED", "NONE", "c1", "u1")],
        "reservation:FROM outbox": [("e1",)],
        "yogaclass:FROM outbox": [],
        "notification:FROM notifications GROUP BY": [("SENT", 1)],
        "notification:FROM notifications": [("r1", "BOOKED", "e1", "u1")],
        "notification:event_id, event_type FROM inbox": [("e1", CONFIRMED)],
        "notification:FROM inbox": [("e1",)],
        "mypage:FROM inbox": [("e1",)],
        "yogaclass:FROM inbox": [],
        "reservation:FROM inbox": [],
        "mypage:FROM reservations": [("r1", "CONFIRMED")],
    }
    return {**answers, **(changes or {})}


def rows_of(answers: dict[str, list[tuple[Any, ...]]]) -> Any:
    def rows(service: str, query: str) -> list[tuple[Any, ...]]:
        for key, value in answers.items():
            name, _, part = key.partition(":")
            if name == service and part in query:
                return value
        raise AssertionError(f"no canned answer for {service}: {query}")

    return rows


def topics(*extra: Message) -> dict[str, list[Message]]:
    found: dict[str, list[Message]] = {
        "yoga.yogaclass.events": [],
        "yoga.reservation.events": [Message("yoga.reservation.events", "e1", CONFIRMED)],
        **{
            f"yoga.{name}.dlt": []
            for name in ("yogaclass", "reservation", "notification", "mypage")
        },
    }
    for m in extra:
        found.setdefault(m.topic, []).append(m)
    return found


BOOKED = Entry(
    0.0,
    0,
    "book",
    {"class_id": "c1", "user": "m1"},
    "ok",
    {"reservation_id": "r1", "class_id": "c1", "user_id": "u1", "status": "CONFIRMED"},
)


def test_consistent_books_pass() -> None:
    assert check_books(rows_of(books()), [BOOKED], topics()).failures == []


def test_a_lost_acknowledged_booking_fails() -> None:
    lost = Entry(0.0, 0, "book", {}, "ok", {**BOOKED.answer, "reservation_id": "r2"})
    failures = check_books(rows_of(books()), [BOOKED, lost], topics()).failures
    assert any("acknowledged calls not kept" in f and "r2" in f for f in failures)


def test_a_confirmed_answer_later_rejected_fails() -> None:
    changed = books(
        {
            "reservation:status, count(*)": [("REJECTED", 1)],
            "reservation:status IN": [],
            "reservation:reservation_id, status, reason": [("r1", "REJECTED", "X", "c1", "u1")],
        }
    )
    failures = check_books(rows_of(changed), [BOOKED], topics()).failures
    assert any("answered CONFIRMED, now REJECTED" in f for f in failures)


def test_a_missing_notification_and_my_page_out_of_step_fail() -> None:
    changed = books(
        {
            "notification:FROM notifications GROUP BY": [],
            "notification:FROM notifications": [],
            "mypage:FROM reservations": [("r1", "WAITLISTED")],
        }
    )
    failures = " | ".join(check_books(rows_of(changed), [BOOKED], topics()).failures)
    assert "without exactly one notification" in failures
    assert "applied without a notification" in failures
    assert "my page differs" in failures


def test_an_event_applied_twice_or_never_and_a_dead_letter_fail() -> None:
    changed = books(
        {
            "mypage:FROM inbox": [("e1",), ("e1",)],
            "notification:event_id, event_type FROM inbox": [],
            "notification:FROM inbox": [],
        }
    )
    dead = Message("yoga.mypage.dlt", "e9", CONFIRMED, {"dlt_error": "boom"})
    failures = " | ".join(check_books(rows_of(changed), [BOOKED], topics(dead)).failures)
    assert "mypage: events applied twice" in failures
    assert "notification: events never applied" in failures
    assert "dead-lettered" in failures and "boom" in failures


def test_more_seats_than_claims_fails() -> None:
    changed = books({"yogaclass:class_id, booked FROM classes": [("c1", 2)]})
    failures = check_books(rows_of(changed), [BOOKED], topics()).failures
    assert any("seats != claims" in f for f in failures)
