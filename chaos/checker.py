"""The checker: after every fault is healed and the system has recovered, reads each service's
database and every topic and proves the run lost nothing and counted nothing twice. Each check
gives figures (printed) and failures (a failed run). The history is the clients' record: an
`ok` answer is a promise the books must keep."""

from __future__ import annotations

import functools
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chaos.topics import Message, read_all
from chaos.workload import Entry
from devtools import books
from devtools.books import Books
from yoga_common import system
from yoga_common.settings import KafkaSettings
from yoga_common.topics import CONSUMED, consumer_lag

# What a reservation may have become after the client was told its status.
MAY_BECOME = {
    "CONFIRMED": {"CONFIRMED", "CANCELLED"},
    "WAITLISTED": {"WAITLISTED", "CONFIRMED", "CANCELLED", "REJECTED", "EXPIRED"},
    "REJECTED": {"REJECTED"},
    "CANCELLED": {"CANCELLED"},
    "PENDING": {"CONFIRMED", "CANCELLED", "REJECTED", "WAITLISTED", "EXPIRED"},
}
# The notification a reservation's final status must have exactly once (notification_svc's
# domain.kind_of): a confirmed one was booked or promoted, a cancelled one by the member or
# the studio.
NOTICE_OF = {
    "CONFIRMED": ("BOOKED", "PROMOTED"),
    "REJECTED": ("REJECTED",),
    "CANCELLED": ("CANCELLED", "CLASS_CANCELLED"),
}

NOTIFIED_EVENTS = {
    "ReservationConfirmed",
    "ReservationRejected",
    "ReservationCancelled",
    "ReservationWaitlisted",
}


@dataclass
class Report:
    figures: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def fail(self, what: str, examples: list[str]) -> None:
        if examples:
            shown = "; ".join(examples[:5])
            self.failures.append(f"{what}: {len(examples)} ({shown})")

    def text(self) -> str:
        lines = [f"  {k}: {v}" for k, v in self.figures.items()]
        lines += [f"  FAILED {f}" for f in self.failures] or ["  every check passed"]
        return "\n".join(lines)


def lag(kafka: KafkaSettings) -> dict[str, int]:
    return {name: consumer_lag(kafka, f"{name}_svc", topics) for name, topics in CONSUMED.items()}


def recover(db: Books, kafka: KafkaSettings, within: float) -> tuple[float, dict[str, float]]:
    """Waits until the outboxes are empty, every consumer group has committed everything, no
    reservation is PENDING and no email waits to be sent: the seconds it took, and for each
    of those the seconds until it last held things up (what a slow recovery waited for)."""
    began = time.monotonic()
    state: dict[str, Any] = {}
    waited: dict[str, float] = {}
    while time.monotonic() - began < within:
        try:
            state = {
                "outbox rows unsent": books.unsent(db.rows),
                "PENDING reservations": books.statuses(db.rows).get("PENDING", 0),
                "emails pending": db.rows(
                    "notification",
                    "SELECT count(*) FROM notifications WHERE email_state = 'PENDING'",
                )[0][0],
                "consumer lag": sum(lag(kafka).values()),
            }
        except Exception as err:  # a part just back may refuse a moment longer
            state = {"error": str(err)}
        now = time.monotonic() - began
        waited.update({k: round(now, 1) for k, v in state.items() if v})
        if not any(state.values()):
            return now, waited
        time.sleep(0.5)
    raise RuntimeError(f"not recovered after {within:.0f}s: {state}")


def check(db: Books, kafka: KafkaSettings, history: list[Entry]) -> Report:
    return check_books(db.rows, history, read_all(kafka))


def check_books(rows: books.Rows, history: list[Entry], topics: dict[str, list[Message]]) -> Report:
    """Every check over the databases (`rows`), the history and the topics' messages."""
    report = Report()
    _seats(report, rows)
    reservations = {
        str(r[0]): (str(r[1]), str(r[2]), str(r[3]), str(r[4]))
        for r in rows(
            "reservation",
            "SELECT reservation_id, status, reason, class_id, user_id FROM reservations",
        )
    }
    _history(report, history, reservations)
    _classes_cancelled(report, rows, history)
    _notifications(report, rows, reservations)
    _my_page(report, rows, reservations)
    _events(report, rows, topics)
    return report


def _seats(report: Report, rows: books.Rows) -> None:
    classes = rows("yogaclass", "SELECT count(*), sum(booked), sum(capacity) FROM classes")[0]
    report.figures["classes (seats taken / capacity)"] = (
        f"{classes[0]} ({classes[1] or 0} / {classes[2] or 0})"
    )
    statuses = books.statuses(rows)
    report.figures["reservations by status"] = dict(sorted(statuses.items()))
    report.fail("classes holding more seats than capacity", ["oversold"] * books.oversold(rows))
    report.fail("seats != claims != confirmed", books.seat_mismatches(rows))
    report.fail("waiting != waiting claims != waitlisted", books.waitlist_mismatches(rows))
    report.fail("reservations left PENDING", ["PENDING"] * statuses.get("PENDING", 0))


def _history(
    report: Report, history: list[Entry], reservations: dict[str, tuple[str, str, str, str]]
) -> None:
    """Every acknowledged booking exists, for its member and class, with a status it may
    have become; every acknowledged cancel stuck; no member cancel the clients never asked."""
    told = [e for e in history if e.outcome == "ok" and e.op in ("book", "cancel")]
    report.figures["acknowledged bookings / cancels"] = (
        f"{sum(e.op == 'book' for e in told)} / {sum(e.op == 'cancel' for e in told)}"
    )
    wrong: list[str] = []
    for e in told:
        rid, answered = e.answer["reservation_id"], e.answer["status"]
        if rid not in reservations:
            wrong.append(f"{e.op} {rid} answered {answered} is missing")
            continue
        status, _, class_id, user_id = reservations[rid]
        if class_id != e.answer["class_id"] or user_id != e.answer["user_id"]:
            wrong.append(f"{rid}: stored for another class or member")
        if status not in MAY_BECOME.get(answered, {answered}):
            wrong.append(f"{e.op} {rid} answered {answered}, now {status}")
    report.fail("acknowledged calls not kept", wrong)
    asked = {e.args["reservation_id"] for e in history if e.op == "cancel"}
    phantom = [
        rid
        for rid, (status, reason, _, _) in reservations.items()
        if status == "CANCELLED" and reason == "CANCELLED_BY_USER" and rid not in asked
    ]
    report.fail("cancelled by the member though no client asked", phantom)


def _classes_cancelled(report: Report, rows: books.Rows, history: list[Entry]) -> None:
    """A class the studio deleted (acknowledged) holds no active reservation."""
    deleted = {e.args["class_id"] for e in history if e.op == "delete" and e.outcome == "ok"}
    cancelled = {
        str(c)
        for (c,) in rows("yogaclass", "SELECT class_id FROM classes WHERE status <> 'SCHEDULED'")
    }
    report.figures["classes deleted (acknowledged / cancelled in the books)"] = (
        f"{len(deleted)} / {len(cancelled)}"
    )
    report.fail("deleted classes still scheduled", sorted(deleted - cancelled))
    active = rows(
        "reservation",
        "SELECT reservation_id, class_id, status FROM reservations "
        "WHERE status IN ('CONFIRMED', 'WAITLISTED', 'PENDING')",
    )
    report.fail(
        "active reservations of a cancelled class",
        [f"{r} {s}" for r, c, s in active if str(c) in cancelled],
    )


def _notifications(
    report: Report, rows: books.Rows, reservations: dict[str, tuple[str, str, str, str]]
) -> None:
    found = rows(
        "notification", "SELECT reservation_id, kind, event_id, user_id FROM notifications"
    )
    kinds: dict[str, Counter[str]] = defaultdict(Counter)
    per_event = Counter((str(e), str(u)) for _, _, e, u in found)
    for rid, kind, _, _ in found:
        kinds[str(rid)][str(kind)] += 1
    report.figures["notifications by kind"] = dict(
        sorted(Counter(str(k) for _, k, _, _ in found).items())
    )
    wrong = []
    for rid, (status, _, _, _) in reservations.items():
        wanted = NOTICE_OF.get(status)
        if wanted and sum(kinds[rid][k] for k in wanted) != 1:
            wrong.append(f"{rid} {status}: {dict(kinds[rid])}")
    report.fail("final status without exactly one notification", wrong)
    report.fail(
        "a kind notified twice for one reservation",
        [f"{rid} {dict(c)}" for rid, c in kinds.items() if any(n > 1 for n in c.values())],
    )
    report.fail("an event notified twice", [f"{e}" for e, n in per_event.items() if n > 1])
    # Each of these events tells its member something (notification_svc's domain): one
    # notification each, whatever the reservation became later.
    told = {str(e) for e, _ in per_event}
    silent = [
        f"{t.rsplit('.', 1)[-1]} {e}"
        for e, t in rows("notification", "SELECT event_id, event_type FROM inbox")
        if str(t).rsplit(".", 1)[-1] in NOTIFIED_EVENTS and str(e) not in told
    ]
    report.fail("reservation events applied without a notification", silent)
    emails = rows("notification", "SELECT email_state, count(*) FROM notifications GROUP BY 1")
    report.figures["emails by state"] = dict(sorted((str(k), int(n)) for k, n in emails))


def _my_page(
    report: Report, rows: books.Rows, reservations: dict[str, tuple[str, str, str, str]]
) -> None:
    page = {
        str(r): str(s) for r, s in rows("mypage", "SELECT reservation_id, status FROM reservations")
    }
    report.figures["my page rows"] = len(page)
    report.fail(
        "my page differs from the reservations",
        [
            f"{rid} {status} on my page: {page.get(rid)}"
            for rid, (status, _, _, _) in reservations.items()
            if page.get(rid) != status
        ]
        + [f"{rid} only on my page" for rid in page.keys() - reservations.keys()],
    )


@functools.cache
def handled_types() -> dict[str, set[str]]:
    """The event types each consumer applies, from its own handler table."""
    from mypage_svc.consumers import handlers as mypage
    from notification_svc.consumers import handlers as notification
    from reservation_svc.consumers import build as reservation
    from yogaclass_svc.consumers import build as yogaclass

    return {
        "yogaclass": set(yogaclass(lambda: datetime.now(UTC)).by_type),
        "reservation": set(reservation().by_type),
        "notification": set(notification({}, "UTC").by_type),
        "mypage": set(mypage().by_type),
    }


def _events(report: Report, rows: books.Rows, topics: dict[str, list[Message]]) -> None:
    """Every published event is on its topic; every consumer applied each event of a type it
    handles exactly once (its inbox); the dead-letter topics are empty."""
    on_topic: dict[str, set[str]] = {t: {m.event_id for m in msgs} for t, msgs in topics.items()}
    types: dict[str, str] = {m.event_id: m.event_type for msgs in topics.values() for m in msgs}
    for producer in ("yogaclass", "reservation"):
        topic = system.service(producer).produces
        assert topic is not None
        outbox = {str(e) for (e,) in rows(producer, "SELECT event_id FROM outbox")}
        count = len(topics[topic])
        report.figures[f"{topic}: messages / distinct events / outbox rows"] = (
            f"{count} / {len(on_topic[topic])} / {len(outbox)}"
        )
        report.fail(f"{producer} events never published", sorted(outbox - on_topic[topic]))
    for consumer, consumed in CONSUMED.items():
        applied = [str(e) for (e,) in rows(consumer, "SELECT event_id FROM inbox")]
        twice = [e for e, n in Counter(applied).items() if n > 1]
        report.fail(f"{consumer}: events applied twice", twice)
        handled = handled_types()[consumer]
        offered = {e for t in consumed for e in on_topic[t] if types.get(e) in handled}
        report.figures[f"{consumer} inbox (applied / of its types on its topics)"] = (
            f"{len(set(applied))} / {len(offered)}"
        )
        report.fail(f"{consumer}: events never applied", sorted(offered - set(applied)))
        report.fail(f"{consumer}: applied events on no topic", sorted(set(applied) - set(types)))
    dead = {
        t: msgs
        for t, msgs in topics.items()
        if t in {s.dead_letter_topic for s in system.CONSUMERS}
    }
    report.figures["dead letters"] = sum(len(m) for m in dead.values())
    report.fail(
        "dead-lettered events (none is expected)",
        [f"{t}: {m.headers.get('dlt_error', '?')}" for t, msgs in dead.items() for m in msgs],
    )
