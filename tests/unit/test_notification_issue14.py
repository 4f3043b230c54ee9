"""Issue 14 in notification_svc's rules: the waitlist (waitlisted with the position, promoted,
passed over, expired, left), late cancels, check-in, no-shows and blocks: kinds, texts and the
proto mapping, as plain Python."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from notification_svc import messages
from notification_svc.consumers import OUTCOMES, STANDING_CHANGES, handlers
from notification_svc.domain import (
    EmailState,
    Kind,
    Outcome,
    ReservationFact,
    StandingChange,
    StandingFact,
    describe,
    kind_of,
    left_the_waitlist,
    new_notification,
    notification_id,
    standing_notification,
)
from notification_svc.storage import notifications
from yoga.notification.v1 import notification_pb2
from yoga.reservation.v1 import events_pb2, reservation_pb2
from yoga.yogaclass.v1 import events_pb2 as class_events
from yoga.yogaclass.v1 import yogaclass_pb2
from yoga_common.timestamps import to_timestamp

R = reservation_pb2
NOW = datetime(2029, 12, 30, 8, 0, tzinfo=UTC)
START = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)  # 18:00 in Seoul
LEAD = "Morning Vinyasa on Tue 1 Jan 18:00 KST"


def a_fact(outcome: Outcome, **kw: object) -> ReservationFact:
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
        class_time_zone="Asia/Seoul",
    )
    return replace(fact, **kw)  # type: ignore[arg-type]


def text_of(outcome: Outcome, **kw: object) -> tuple[Kind, str, str]:
    n = new_notification(a_fact(outcome, **kw), {}, "UTC", NOW)
    return n.kind, n.subject, n.body


# --- kinds -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "reason", "promoted", "kind"),
    [
        (Outcome.CONFIRMED, "", False, Kind.BOOKED),
        (Outcome.CONFIRMED, "", True, Kind.PROMOTED),
        (Outcome.WAITLISTED, "", False, Kind.WAITLISTED),
        (Outcome.EXPIRED, "WAITLIST_CLOSED", False, Kind.WAITLIST_EXPIRED),
        (Outcome.ATTENDED, "", True, Kind.ATTENDED),
        (Outcome.NO_SHOW, "", False, Kind.NO_SHOW),
        (Outcome.REJECTED, "WAITLIST_OVERLAPPING_BOOKING", False, Kind.REJECTED),
        (Outcome.REJECTED, "BLOCKED", False, Kind.REJECTED),
        (Outcome.CANCELLED, "LATE_CANCELLED", False, Kind.CANCELLED),
        (Outcome.CANCELLED, "CANCELLED_BY_STUDIO", True, Kind.CLASS_CANCELLED),
    ],
)
def test_each_new_event_maps_to_one_kind(
    outcome: Outcome, reason: str, promoted: bool, kind: Kind
) -> None:
    assert kind_of(outcome, reason, promoted) is kind


def test_every_kind_has_its_proto_value_and_a_place_in_the_table() -> None:
    assert set(messages.KIND) == set(Kind)
    assert {notification_pb2.NotificationKind.Name(v) for v in messages.KIND.values()} == {
        f"NOTIFICATION_KIND_{k.value}" for k in Kind
    }
    [check] = [c for c in notifications.constraints if c.name == "ck_notifications_kind"]
    allowed = str(check.sqltext)  # type: ignore[attr-defined]
    assert all(f"'{k.value}'" in allowed for k in Kind)
    assert max(len(k.value) for k in Kind) <= notifications.c.kind.type.length  # type: ignore[attr-defined]


def test_every_event_of_issue_14_has_a_handler() -> None:
    found = handlers({}, "UTC").by_type
    for event_type in [
        events_pb2.ReservationWaitlisted,
        events_pb2.ReservationExpired,
        events_pb2.ReservationAttended,
        events_pb2.ReservationNoShow,
        class_events.MemberBlocked,
        class_events.BlockLifted,
    ]:
        assert event_type.DESCRIPTOR.full_name in found
    # Issue 15: ReservationRescheduled, and StudioSettingsChanged for the reminder lead.
    assert len(found) == len(OUTCOMES) + len(STANDING_CHANGES) + 1 == 11
    # The yogaclass topic's other events are not notifications.
    assert class_events.SeatPromoted.DESCRIPTOR.full_name not in found


# --- texts -----------------------------------------------------------------------------------


def test_waitlisted_says_the_position() -> None:
    kind, subject, body = text_of(Outcome.WAITLISTED, waitlist_position=3, waitlist_ticket=17)
    assert kind is Kind.WAITLISTED
    assert subject == f"Waitlisted: {LEAD} (#3)"
    assert f"{LEAD} is full. You are number 3 on its waitlist" in body
    # No position known: still clear, no "#0".
    _, subject, body = text_of(Outcome.WAITLISTED)
    assert subject == f"Waitlisted: {LEAD}"
    assert "#0" not in subject and "number 0" not in body
    assert "You are on its waitlist" in body


def test_promoted_says_you_are_in() -> None:
    kind, subject, body = text_of(Outcome.CONFIRMED, promoted=True, waitlist_ticket=4)
    assert kind is Kind.PROMOTED
    assert subject == f"You are in: {LEAD}"
    assert "moved up from the waitlist" in body and "booked" in body


@pytest.mark.parametrize(
    ("reason", "why"),
    [
        ("WAITLIST_OVERLAPPING_BOOKING", "because you hold an overlapping booking"),
        ("WAITLIST_BOOKING_LIMIT", "because you already hold as many upcoming bookings"),
        ("WAITLIST_BLOCKED", "because online booking is paused for you"),
    ],
)
def test_passed_over_on_the_waitlist_says_why(reason: str, why: str) -> None:
    kind, subject, body = text_of(Outcome.REJECTED, reason=reason, waitlist_ticket=2)
    assert kind is Kind.REJECTED
    assert subject == f"Passed over on the waitlist: {LEAD}"
    assert f"you were passed over on its waitlist {why}" in body
    assert "You have left the waitlist." in body


@pytest.mark.parametrize(
    ("reason", "why"),
    [
        ("BOOKING_LIMIT", "you already hold as many upcoming bookings as the studio allows"),
        ("BLOCKED", "online booking is paused for you"),
    ],
)
def test_refused_at_booking_says_why(reason: str, why: str) -> None:
    kind, subject, body = text_of(Outcome.REJECTED, reason=reason)
    assert (kind, subject) == (Kind.REJECTED, f"Not booked: {LEAD}")
    assert body.startswith(f"We could not book {LEAD}: {why}")


def test_expired_says_the_waitlist_closed() -> None:
    kind, subject, body = text_of(Outcome.EXPIRED, reason="WAITLIST_CLOSED", waitlist_ticket=9)
    assert (kind, subject) == (Kind.WAITLIST_EXPIRED, f"Waitlist closed: {LEAD}")
    assert "before its waitlist closed" in body and "no longer waiting" in body


def test_a_late_cancel_counts_as_a_strike() -> None:
    kind, subject, body = text_of(Outcome.CANCELLED, reason="LATE_CANCELLED")
    assert (kind, subject) == (Kind.CANCELLED, f"Late cancellation: {LEAD}")
    assert "inside the class's cancellation window" in body
    assert "counts as a strike" in body


def test_cancelling_while_waiting_is_leaving_the_queue() -> None:
    waiting = a_fact(Outcome.CANCELLED, reason="CANCELLED_BY_USER", waitlist_ticket=5)
    assert left_the_waitlist(waiting)
    n = new_notification(waiting, {}, "UTC", NOW)
    assert (n.kind, n.subject) == (Kind.CANCELLED, f"Left the waitlist: {LEAD}")
    assert "You have left the waitlist of" in n.body
    # Promoted first, then cancelled: a seat given back, not a place in a queue.
    seated = replace(waiting, promoted=True)
    assert not left_the_waitlist(seated)
    assert new_notification(seated, {}, "UTC", NOW).subject == f"Cancelled: {LEAD}"
    # Never waited: a plain cancel.
    plain = replace(waiting, waitlist_ticket=0)
    assert new_notification(plain, {}, "UTC", NOW).subject == f"Cancelled: {LEAD}"
    # The studio cancelling the class is the class's cancellation, waiting or not.
    studio = replace(waiting, reason="CANCELLED_BY_STUDIO")
    assert new_notification(studio, {}, "UTC", NOW).kind is Kind.CLASS_CANCELLED


def test_attended_says_when_in_the_studio_zone() -> None:
    checked = datetime(2030, 1, 1, 8, 52, tzinfo=UTC)  # 17:52 in Seoul
    kind, subject, body = text_of(Outcome.ATTENDED, check_in_time=checked)
    assert (kind, subject) == (Kind.ATTENDED, f"Checked in: {LEAD}")
    assert body == f"You checked in to {LEAD} at 17:52 KST. Enjoy your practice!"
    assert text_of(Outcome.ATTENDED)[2] == f"You checked in to {LEAD}. Enjoy your practice!"


def test_a_no_show_counts_as_a_strike() -> None:
    kind, subject, body = text_of(Outcome.NO_SHOW)
    assert (kind, subject) == (Kind.NO_SHOW, f"Missed class: {LEAD}")
    assert "did not check in" in body and "counts as a strike" in body


def test_the_default_zone_when_the_class_names_none() -> None:
    n = new_notification(a_fact(Outcome.WAITLISTED, class_time_zone=""), {}, "UTC", NOW)
    assert "Tue 1 Jan 09:00 UTC" in n.subject


def test_describe_keeps_its_old_texts() -> None:
    assert describe(Kind.CANCELLED, "Yin", None, "CANCELLED_BY_USER", "UTC") == (
        "Cancelled: Yin",
        "Your reservation for Yin is cancelled.",
    )


# --- member standing -------------------------------------------------------------------------

UNTIL = datetime(2030, 1, 8, 15, 0, tzinfo=UTC)  # 2030-01-09 00:00 in Seoul


def a_standing(change: StandingChange, **kw: object) -> StandingFact:
    fact = StandingFact("e-7", change, "11", strikes=3, blocked_until=UNTIL)
    return replace(fact, **kw)  # type: ignore[arg-type]


def test_blocked_says_until_when_in_the_studio_zone() -> None:
    n = standing_notification(a_standing(StandingChange.BLOCKED), {}, "Asia/Seoul", NOW)
    assert n.kind is Kind.BLOCKED
    assert n.subject == "Online booking paused until Wed 9 Jan 00:00 KST"
    assert "You have 3 strikes" in n.body
    assert "cannot book classes online until Wed 9 Jan 00:00 KST" in n.body
    one = standing_notification(a_standing(StandingChange.BLOCKED, strikes=1), {}, "UTC", NOW)
    assert "You have 1 strike " in one.body


def test_block_lifted_says_booking_is_open() -> None:
    n = standing_notification(
        a_standing(StandingChange.LIFTED, blocked_until=None), {}, "Asia/Seoul", NOW
    )
    assert (n.kind, n.subject) == (Kind.BLOCK_LIFTED, "Online booking is open again")
    assert "you can book classes online again" in n.body


def test_standing_notifications_have_no_class_and_take_the_directory_address() -> None:
    fact = a_standing(StandingChange.BLOCKED)
    known = standing_notification(fact, {"11": "m11@example.com"}, "UTC", NOW)
    assert (known.email, known.email_state, known.next_attempt_at) == (
        "m11@example.com",
        EmailState.PENDING,
        NOW,
    )
    assert (known.reservation_id, known.class_id, known.class_title) == ("", "", "")
    assert known.class_start_time is None
    assert known.notification_id == notification_id("e-7", "11")
    unknown = standing_notification(fact, {"12": "m12@example.com"}, "UTC", NOW)
    assert (unknown.email, unknown.email_state, unknown.next_attempt_at) == (
        "",
        EmailState.SKIPPED,
        None,
    )
    # The same event names the same notification: a replay adds none.
    assert unknown.notification_id == known.notification_id


# --- messages --------------------------------------------------------------------------------


def test_the_new_reservation_fields_reach_the_fact() -> None:
    checked = datetime(2030, 1, 1, 8, 55, tzinfo=UTC)
    event = events_pb2.ReservationAttended(
        reservation=R.Reservation(
            reservation_id="r-1",
            class_id="c-1",
            user_id="11",
            status=R.RESERVATION_STATUS_ATTENDED,
            class_start_time=to_timestamp(START),
            class_time_zone="Asia/Seoul",
            promoted=True,
            waitlist_ticket=12,
            waitlist_position=0,
            check_in_time=to_timestamp(checked),
        )
    )
    fact = messages.fact("e-1", Outcome.ATTENDED, event)
    assert (fact.promoted, fact.waitlist_ticket, fact.check_in_time) == (True, 12, checked)
    waiting = events_pb2.ReservationWaitlisted(
        reservation=R.Reservation(reservation_id="r-2", user_id="11", waitlist_position=4)
    )
    fact = messages.fact("e-2", Outcome.WAITLISTED, waiting)
    assert (fact.waitlist_position, fact.check_in_time) == (4, None)
    assert messages.reason_name(R.RESERVATION_REASON_WAITLIST_OVERLAPPING_BOOKING) == (
        "WAITLIST_OVERLAPPING_BOOKING"
    )


def test_a_standing_event_becomes_a_fact() -> None:
    event = class_events.MemberBlocked(
        standing=yogaclass_pb2.MemberStanding(
            user_id="11", strikes=3, blocked_until=to_timestamp(UNTIL)
        )
    )
    fact = messages.standing_fact("e-7", StandingChange.BLOCKED, event)
    assert fact == StandingFact("e-7", StandingChange.BLOCKED, "11", 3, UNTIL)
    lifted = class_events.BlockLifted(
        standing=yogaclass_pb2.MemberStanding(user_id="11", lifted_time=to_timestamp(NOW))
    )
    fact = messages.standing_fact("e-8", StandingChange.LIFTED, lifted)
    assert (fact.blocked_until, fact.strikes) == (None, 0)
    n = standing_notification(fact, {}, "UTC", NOW)
    proto = messages.to_proto(n)
    assert proto.kind == notification_pb2.NOTIFICATION_KIND_BLOCK_LIFTED
    assert not proto.HasField("class_start_time")
    assert proto.email_state == notification_pb2.DELIVERY_STATE_SKIPPED
