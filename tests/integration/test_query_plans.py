"""Every query a list or a background loop runs seeks an index: no full scan of a table that
grows, no sort in a temporary B-tree, and a page token is an index bound (issue 12 §3: a page
near the end of 100,000 classes cost 9 times the first; the recovery loop scanned every
reservation ever made every 2 s). Checked on SQLite's EXPLAIN QUERY PLAN of the statements the
stores really send, captured as they run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, event

from mypage_svc.storage import MyPageStore
from notification_svc.storage import NotificationStore
from reservation_svc.storage import ReservationStore
from yoga_common import migrate
from yogaclass_svc.storage import ClassStore

ROOT = Path(__file__).resolve().parents[2]
AT = datetime(2030, 1, 1, tzinfo=UTC)
AFTER = (AT, "00000000-0000-0000-0000-000000000000")


def plans(url: str, work: Callable[[Connection], Any]) -> list[tuple[str, list[str]]]:
    """Runs `work` and returns each SELECT it sent with SQLite's plan of it."""
    engine = create_engine(url)
    sent: list[tuple[str, Any]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def capture(_c: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append((statement, params))

    found = []
    with engine.connect() as conn:
        work(conn)
        event.remove(engine, "before_cursor_execute", capture)
        for statement, params in sent:
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params).all()
            found.append((statement, [str(row[-1]) for row in rows]))
    engine.dispose()
    return found


@pytest.fixture
def databases(tmp_path: Path) -> Iterator[dict[str, str]]:
    urls = {}
    for name in ("yogaclass", "reservation", "notification", "mypage"):
        urls[name] = f"sqlite:///{tmp_path}/{name}.db"
        migrate.upgrade(urls[name], ROOT / f"{name}_svc" / "migrations")
    yield urls


CASES: dict[str, tuple[str, Callable[[Connection], Any]]] = {
    "ListClasses, a later page": ("yogaclass", lambda c: ClassStore(c).page(None, None, 21, AFTER)),
    "ListClasses, a window and a later page": (
        "yogaclass",
        lambda c: ClassStore(c).page(AT, AT + timedelta(days=7), 21, AFTER),
    ),
    "ListReservations, a member's later page": (
        "reservation",
        lambda c: ReservationStore(c).page("", "11", 21, AFTER),
    ),
    "ListReservations, a class's later page": (
        "reservation",
        lambda c: ReservationStore(c).page("c-1", "", 21, AFTER),
    ),
    "ListReservations, staff's unfiltered later page": (
        "reservation",
        lambda c: ReservationStore(c).page("", "", 21, AFTER),
    ),
    "recovery: reservations left PENDING": (
        "reservation",
        lambda c: ReservationStore(c).stale_pending(AT),
    ),
    "recovery: seats owed back": ("reservation", lambda c: ReservationStore(c).unreleased(AT)),
    "ListNotifications, a later page": (
        "notification",
        lambda c: NotificationStore(c).page("11", 21, AFTER),
    ),
    "mailer: notifications due": ("notification", lambda c: NotificationStore(c).due(AT, 10)),
    "GetMyPage": ("mypage", lambda c: MyPageStore(c).page("11")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_query_seeks_an_index(databases: dict[str, str], case: str) -> None:
    service, work = CASES[case]
    found = plans(databases[service], work)
    assert found, "the store sent no query"
    for statement, plan in found:
        text = " | ".join(plan)
        assert all(not step.startswith("SCAN") or "INDEX" in step for step in plan), (
            f"full scan: {text}\n{statement}"
        )
        assert "TEMP B-TREE" not in text, f"sorts outside an index: {text}\n{statement}"
