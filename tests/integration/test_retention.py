"""The system's own bookkeeping does not grow forever (issue 12 §2): published outbox rows and
applied inbox rows past their time are deleted in small batches; an unsent row, a recent row
and the studio's records stay."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from reservation_svc.storage import inbox, outbox, reservations
from tests.integration.conftest import BACKENDS, migrated_database
from yoga_common.db import Database
from yoga_common.retention import Retention
from yoga_common.settings import RetentionSettings

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with migrated_database(request.param, tmp_path, "reservation", threads=2) as database:
        yield database


def outbox_row(n: int, created: datetime, sent: datetime | None) -> dict[str, object]:
    return {
        "event_id": f"e-{n}",
        "topic": "t",
        "event_key": "k",
        "event_type": "T",
        "payload": b"x",
        "created_at": created,
        "sent_at": sent,
    }


def count(db: Database, table: object) -> int:
    query = select(func.count()).select_from(table)  # type: ignore[arg-type]
    return int(db.run_sync(lambda c: c.execute(query).scalar_one(), write=False))


def test_old_bookkeeping_goes_in_batches_and_the_rest_stays(db: Database) -> None:
    old, recent = NOW - timedelta(days=2), NOW - timedelta(hours=1)
    rows = [outbox_row(n, old, old) for n in range(5)]
    rows += [outbox_row(5, recent, recent), outbox_row(6, old - timedelta(days=1), None)]
    applied = [NOW - timedelta(days=20)] * 3 + [NOW - timedelta(days=1)]

    def fill(conn: object) -> None:
        conn.execute(insert(outbox), rows)  # type: ignore[attr-defined]
        conn.execute(  # type: ignore[attr-defined]
            insert(inbox),
            [
                {"consumer": "c", "event_id": f"i-{n}", "event_type": "T", "applied_at": at}
                for n, at in enumerate(applied)
            ],
        )

    db.run_sync(fill)
    settings = RetentionSettings(outbox_hours=24, inbox_hours=14 * 24, batch_size=2)
    retention = Retention.of(db, settings, outbox=outbox, inbox=inbox)

    assert retention.prune(NOW) == {"outbox": 5, "inbox": 3}
    left = db.run_sync(
        lambda c: sorted(c.execute(select(outbox.c.event_id)).scalars()), write=False
    )
    assert left == ["e-5", "e-6"]  # the recent one, and the unsent one however old
    assert count(db, inbox) == 1
    assert count(db, reservations) == 0  # untouched (nothing of the studio's is bookkeeping)
    assert retention.prune(NOW) == {"outbox": 0, "inbox": 0}
