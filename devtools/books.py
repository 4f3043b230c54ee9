"""The books of a running system, read from each service's own database: the invariants every
load must leave behind, whoever made the load. `make bench` checks them after each scenario,
`make chaos` after every run under faults. `rows(service, query)` runs one query on that
service's database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, create_engine, text

from yoga_common import system

Rows = Callable[[str, str], list[tuple[Any, ...]]]


class Books:
    """Queries on each service's database (one engine each, closed by `close`); `rows` is a
    `Rows`."""

    def __init__(self, database_url: Callable[[str], str]) -> None:
        self.engines: dict[str, Engine] = {
            name: create_engine(database_url(name), pool_pre_ping=True) for name in system.SERVICES
        }

    def rows(self, service: str, query: str) -> list[tuple[Any, ...]]:
        with self.engines[service].connect() as conn:
            return [tuple(r) for r in conn.execute(text(query))]

    def close(self) -> None:
        for engine in self.engines.values():
            engine.dispose()


def _counts(rows: Rows, service: str, query: str) -> dict[str, int]:
    """A two-column answer (key, count) as a dict."""
    return {str(key): int(count) for key, count in rows(service, query)}


# Statuses of a reservation that hold a seat (a checked-in member keeps it).
SEATED = ("CONFIRMED", "ATTENDED")


def _cancelled(rows: Rows) -> set[str]:
    return {
        str(c)
        for (c,) in rows("yogaclass", "SELECT class_id FROM classes WHERE status = 'CANCELLED'")
    }


def seat_mismatches(rows: Rows) -> list[str]:
    """Every class whose seat counter differs from its held claims (yogaclass_svc) or from the
    reservations holding a seat there (reservation_svc): seats == claims == confirmed. A
    cancelled class keeps its counter and claims as they were (its history), and no
    reservation of it holds a seat any more."""
    seated = ", ".join(f"'{s}'" for s in SEATED)
    return _counter_mismatches(
        rows,
        "booked",
        "HELD",
        f"status IN ({seated})",
        ("booked", "held claims", "confirmed reservations"),
    )


def waitlist_mismatches(rows: Rows) -> list[str]:
    """Every class whose count of members waiting differs from its waiting claims or from the
    WAITLISTED reservations (none, once the class is cancelled)."""
    return _counter_mismatches(
        rows,
        "waiting",
        "WAITING",
        "status = 'WAITLISTED'",
        ("waiting", "waiting claims", "waitlisted reservations"),
    )


def _counter_mismatches(
    rows: Rows,
    counter: str,
    claim_state: str,
    reservations_where: str,
    names: tuple[str, str, str],
) -> list[str]:
    """Classes whose `counter` column differs from their claims in `claim_state` or from the
    reservations `reservations_where` picks (none of those once the class is cancelled)."""
    cancelled = _cancelled(rows)
    kept = _counts(rows, "yogaclass", f"SELECT class_id, {counter} FROM classes")
    claims = _counts(
        rows,
        "yogaclass",
        "SELECT class_id, count(*) FROM seat_claims"
        f" WHERE state = '{claim_state}' GROUP BY class_id",
    )
    held = _counts(
        rows,
        "reservation",
        f"SELECT class_id, count(*) FROM reservations WHERE {reservations_where} GROUP BY class_id",
    )
    counted, by_claims, by_reservations = names
    return [
        f"class {class_id}: {counted} {count}, {by_claims} {claims.get(class_id, 0)}, "
        f"{by_reservations} {held.get(class_id, 0)}"
        for class_id, count in kept.items()
        if count != claims.get(class_id, 0)
        or held.get(class_id, 0) != (0 if class_id in cancelled else count)
    ]


def oversold(rows: Rows) -> int:
    """Classes holding more seats than they have (the CHECK constraint should make it 0)."""
    return int(rows("yogaclass", "SELECT count(*) FROM classes WHERE booked > capacity")[0][0])


def statuses(rows: Rows, service: str = "reservation") -> dict[str, int]:
    """Reservations by status, in reservation_svc's books or on my page (`mypage`)."""
    found = rows(service, "SELECT status, count(*) FROM reservations GROUP BY status")
    return {str(status): int(count) for status, count in found}


def unsent(rows: Rows, producers: tuple[str, ...] = ("yogaclass", "reservation")) -> int:
    """Outbox rows not yet acknowledged by the broker, over the producing services."""
    query = "SELECT count(*) FROM outbox WHERE sent_at IS NULL"
    return sum(int(rows(name, query)[0][0]) for name in producers)
