"""Issue 14 through notification_svc's real consumer path (EventConsumer.apply with its inbox,
the service layer, the migrated tables) on SQLite and PostgreSQL, and the real mailer against a
real SMTP server: every new reservation event and the member-standing events of the yogaclass
topic make one notification each, and a replay of them all makes none twice."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from google.protobuf.message import Message

from notification_svc import storage
from notification_svc.consumers import handlers
from notification_svc.domain import EmailState, Kind, notification_id
from notification_svc.storage import NotificationStore
from tests.integration.conftest import BACKENDS, migrated_database
from tests.integration.test_notification_service import (
    NO_KAFKA,
    SmtpServer,
    all_notifications,
    count,
    envelope,
    mailer,
    reservation,
    smtp,  # noqa: F401  (the fixture)
)
from yoga.reservation.v1 import events_pb2, reservation_pb2
from yoga.yogaclass.v1 import events_pb2 as class_events
from yoga.yogaclass.v1 import yogaclass_pb2
from yoga_common.consumer import EventConsumer, InvalidEvent
from yoga_common.db import Database
from yoga_common.events import Envelope
from yoga_common.timestamps import to_timestamp, utcnow
from yoga_common.topics import RESERVATION_EVENTS, YOGACLASS_EVENTS
from yoga_common.uow import Transactions

R = reservation_pb2
LEAD = "Morning Vinyasa on Tue 1 Jan 18:00 KST"
UNTIL = datetime(2030, 1, 8, 15, 0, tzinfo=UTC)  # 2030-01-09 00:00 in Seoul

pytestmark = pytest.mark.integration


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with migrated_database(request.param, tmp_path, "notification") as database:
        yield database


def consumer(
    db: Database, directory: dict[str, str] | None = None, name: str = "notification_svc"
) -> EventConsumer[NotificationStore]:
    """The service's consumer on both topics it reads for issue 14."""
    return EventConsumer(
        name,
        Transactions(db, NotificationStore),
        storage.inbox,
        [RESERVATION_EVENTS, YOGACLASS_EVENTS],
        handlers(directory or {}, "Asia/Seoul"),
        NO_KAFKA,
    )


def seoul(r: reservation_pb2.Reservation, **fields: object) -> reservation_pb2.Reservation:
    r.class_time_zone = "Asia/Seoul"
    for name, value in fields.items():
        if isinstance(value, Message):
            getattr(r, name).CopyFrom(value)
        else:
            setattr(r, name, value)
    return r


def standing_envelope(
    event: class_events.MemberBlocked | class_events.BlockLifted, event_id: str | None = None
) -> Envelope:
    return Envelope(
        event_id=event_id or str(uuid.uuid4()),
        event_type=event.DESCRIPTOR.full_name,
        source="yogaclass_svc",
        time=utcnow().isoformat(),
        key=event.standing.user_id,
        payload=event.SerializeToString(),
        topic=YOGACLASS_EVENTS,
    )


def issue14_events() -> dict[str, Envelope]:
    """One of each new fact, each for its own member ("u1" ... ), as the producers publish
    them; the directory knows some of the members' addresses."""
    checked = datetime(2030, 1, 1, 8, 52, tzinfo=UTC)
    return {
        "u1": envelope(
            events_pb2.ReservationWaitlisted(
                reservation=seoul(
                    reservation("u1", status=R.RESERVATION_STATUS_WAITLISTED),
                    waitlist_ticket=7,
                    waitlist_position=2,
                ),
                user_email="u1@example.com",
            )
        ),
        "u2": envelope(
            events_pb2.ReservationConfirmed(
                reservation=seoul(reservation("u2"), promoted=True, waitlist_ticket=3),
                user_email="u2@example.com",
            )
        ),
        "u3": envelope(
            events_pb2.ReservationRejected(
                reservation=seoul(
                    reservation(
                        "u3",
                        R.RESERVATION_REASON_WAITLIST_OVERLAPPING_BOOKING,
                        R.RESERVATION_STATUS_REJECTED,
                    ),
                    waitlist_ticket=4,
                ),
                user_email="u3@example.com",
            )
        ),
        "u4": envelope(
            events_pb2.ReservationRejected(
                reservation=seoul(
                    reservation("u4", R.RESERVATION_REASON_BLOCKED, R.RESERVATION_STATUS_REJECTED)
                )
            )
        ),
        "u5": envelope(
            events_pb2.ReservationExpired(
                reservation=seoul(
                    reservation(
                        "u5", R.RESERVATION_REASON_WAITLIST_CLOSED, R.RESERVATION_STATUS_EXPIRED
                    ),
                    waitlist_ticket=9,
                ),
                user_email="u5@example.com",
            )
        ),
        "u6": envelope(
            events_pb2.ReservationCancelled(
                reservation=seoul(
                    reservation(
                        "u6", R.RESERVATION_REASON_LATE_CANCELLED, R.RESERVATION_STATUS_CANCELLED
                    )
                ),
                user_email="u6@example.com",
            )
        ),
        "u7": envelope(
            events_pb2.ReservationCancelled(
                reservation=seoul(
                    reservation(
                        "u7",
                        R.RESERVATION_REASON_CANCELLED_BY_USER,
                        R.RESERVATION_STATUS_CANCELLED,
                    ),
                    waitlist_ticket=11,
                ),
                user_email="u7@example.com",
            )
        ),
        "u8": envelope(
            events_pb2.ReservationAttended(
                reservation=seoul(
                    reservation("u8", status=R.RESERVATION_STATUS_ATTENDED),
                    check_in_time=to_timestamp(checked),
                ),
                user_email="u8@example.com",
            )
        ),
        "u9": envelope(
            events_pb2.ReservationNoShow(
                reservation=seoul(reservation("u9", status=R.RESERVATION_STATUS_NO_SHOW)),
                user_email="u9@example.com",
            )
        ),
        "u10": standing_envelope(
            class_events.MemberBlocked(
                standing=yogaclass_pb2.MemberStanding(
                    user_id="u10", strikes=3, blocked_until=to_timestamp(UNTIL)
                )
            )
        ),
        "u11": standing_envelope(
            class_events.BlockLifted(
                standing=yogaclass_pb2.MemberStanding(
                    user_id="u11", lifted_time=to_timestamp(utcnow())
                )
            )
        ),
    }


DIRECTORY = {"u4": "u4@example.com", "u10": "u10@example.com"}


def test_each_new_event_makes_one_notification_of_its_kind(db: Database) -> None:
    c = consumer(db, DIRECTORY)
    events = issue14_events()
    for e in events.values():
        assert c.apply(e) is True
    found = {n.user_id: n for n in all_notifications(db)}
    assert {u: (n.kind, n.subject) for u, n in found.items()} == {
        "u1": (Kind.WAITLISTED, f"Waitlisted: {LEAD} (#2)"),
        "u2": (Kind.PROMOTED, f"You are in: {LEAD}"),
        "u3": (Kind.REJECTED, f"Passed over on the waitlist: {LEAD}"),
        "u4": (Kind.REJECTED, f"Not booked: {LEAD}"),
        "u5": (Kind.WAITLIST_EXPIRED, f"Waitlist closed: {LEAD}"),
        "u6": (Kind.CANCELLED, f"Late cancellation: {LEAD}"),
        "u7": (Kind.CANCELLED, f"Left the waitlist: {LEAD}"),
        "u8": (Kind.ATTENDED, f"Checked in: {LEAD}"),
        "u9": (Kind.NO_SHOW, f"Missed class: {LEAD}"),
        "u10": (Kind.BLOCKED, "Online booking paused until Wed 9 Jan 00:00 KST"),
        "u11": (Kind.BLOCK_LIFTED, "Online booking is open again"),
    }
    assert "number 2 on its waitlist" in found["u1"].body
    assert "because you hold an overlapping booking" in found["u3"].body
    assert "online booking is paused for you" in found["u4"].body
    assert "counts as a strike" in found["u6"].body
    assert "at 17:52 KST" in found["u8"].body
    assert "counts as a strike" in found["u9"].body
    assert "You have 3 strikes" in found["u10"].body
    # Ids come from the event and the recipient.
    for user, e in events.items():
        assert found[user].notification_id == notification_id(e.event_id, user)
    # Standing events carry no address: the directory's, else none (SKIPPED, still in-app).
    assert (found["u10"].email, found["u10"].email_state) == (
        "u10@example.com",
        EmailState.PENDING,
    )
    assert (found["u11"].email, found["u11"].email_state) == ("", EmailState.SKIPPED)
    assert (found["u10"].reservation_id, found["u10"].class_id) == ("", "")
    assert found["u10"].class_start_time is None
    assert (found["u4"].email, found["u4"].email_state) == ("u4@example.com", EmailState.PENDING)
    assert count(db, "inbox") == 11


def test_a_replay_of_the_new_events_makes_nothing_twice(db: Database) -> None:
    events = list(issue14_events().values())
    c = consumer(db, DIRECTORY)
    assert [c.apply(e) for e in events] == [True] * len(events)
    before = {(n.notification_id, n.kind, n.subject) for n in all_notifications(db)}
    # Redelivered to the same consumer: the inbox drops each.
    assert [c.apply(e) for e in events] == [False] * len(events)
    # Replayed past the inbox (another consumer name, e.g. a reset group): one per event and
    # recipient still.
    replay = consumer(db, DIRECTORY, name="notification_svc_replay")
    assert [replay.apply(e) for e in events] == [True] * len(events)
    assert count(db, "notifications") == len(events) == 11
    assert {(n.notification_id, n.kind, n.subject) for n in all_notifications(db)} == before
    assert count(db, "inbox") == 2 * len(events)


def test_standing_events_without_a_member_are_invalid(db: Database) -> None:
    c = consumer(db)
    with pytest.raises(InvalidEvent, match="no standing"):
        c.apply(standing_envelope(class_events.MemberBlocked()))
    with pytest.raises(InvalidEvent, match=r"standing\.user_id"):
        c.apply(
            standing_envelope(
                class_events.BlockLifted(standing=yogaclass_pb2.MemberStanding(strikes=1))
            )
        )
    assert count(db, "notifications") == 0
    assert count(db, "inbox") == 0


def test_other_events_of_the_yogaclass_topic_are_not_notifications(db: Database) -> None:
    promoted = class_events.SeatPromoted(class_id="c-1", reservation_id="r-1", user_id="u1")
    other = Envelope(
        event_id=str(uuid.uuid4()),
        event_type=promoted.DESCRIPTOR.full_name,
        source="yogaclass_svc",
        time="",
        key="c-1",
        payload=promoted.SerializeToString(),
        topic=YOGACLASS_EVENTS,
    )
    assert consumer(db).apply(other) is False
    assert count(db, "inbox") == 0


async def test_the_new_kinds_are_mailed_once(db: Database, smtp: SmtpServer) -> None:  # noqa: F811
    smtp.start()
    c = consumer(db, DIRECTORY)
    events = issue14_events()
    for e in events.values():
        c.apply(e)
    m = mailer(db, smtp)
    # Every member with an address: all but u11 (no address anywhere).
    assert await m.deliver_due() == 10
    assert await m.deliver_due() == 0
    received = {str(msg["To"]): str(msg["Subject"]) for msg in smtp.received()}
    assert len(smtp.received()) == 10
    assert received["u10@example.com"] == ("Online booking paused until Wed 9 Jan 00:00 KST")
    assert received["u2@example.com"] == f"You are in: {LEAD}"
    assert received["u7@example.com"] == f"Left the waitlist: {LEAD}"
    # A replay after the emails went out sends nothing again.
    replay = consumer(db, DIRECTORY, name="notification_svc_replay")
    for e in events.values():
        replay.apply(e)
    assert await mailer(db, smtp).deliver_due() == 0
    assert len(smtp.received()) == 10
    states = {n.user_id: n.email_state for n in all_notifications(db)}
    assert states.pop("u11") is EmailState.SKIPPED
    assert set(states.values()) == {EmailState.SENT}
