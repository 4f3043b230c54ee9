"""Retention of the system's own bookkeeping: published outbox rows and applied inbox rows
older than their settings (`YOGA_RETENTION_*`) are deleted, a small batch per transaction so
no delete holds the database for long. Unsent outbox rows are never touched. On PostgreSQL the
replicas of a service take turns through an advisory lock, so the job runs once across them.

The studio's records (classes, reservations, seat claims, notifications) are not bookkeeping
and are kept."""

from __future__ import annotations

import asyncio
import functools
import logging
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Column, Connection, Table, delete, select, text, tuple_

from yoga_common.db import Database
from yoga_common.settings import RetentionSettings
from yoga_common.timestamps import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kept:
    """A table whose rows go once `column` is older than `hours`."""

    table: Table
    column: Column[datetime]
    hours: float


class Retention:
    def __init__(self, db: Database, kept: list[Kept], settings: RetentionSettings) -> None:
        self._db = db
        self._kept = kept
        self._settings = settings

    @classmethod
    def of(
        cls,
        db: Database,
        settings: RetentionSettings,
        outbox: Table | None = None,
        inbox: Table | None = None,
    ) -> Retention:
        kept = []
        if outbox is not None:
            kept.append(Kept(outbox, outbox.c.sent_at, settings.outbox_hours))
        if inbox is not None:
            kept.append(Kept(inbox, inbox.c.applied_at, settings.inbox_hours))
        return cls(db, kept, settings)

    def prune(self, now: datetime) -> dict[str, int]:
        """Deletes what is past its time, batch by batch; returns the rows deleted per table."""
        deleted = {}
        for kept in self._kept:
            cutoff = now - timedelta(hours=kept.hours)
            total = 0
            while True:
                count = self._db.run_sync(functools.partial(self._batch, kept=kept, cutoff=cutoff))
                total += count
                if count < self._settings.batch_size:
                    break
            deleted[kept.table.name] = total
        return deleted

    def _batch(self, conn: Connection, kept: Kept, cutoff: datetime) -> int:
        if not self._db.is_sqlite:
            key = zlib.crc32(f"retention:{kept.table.name}".encode())
            took = conn.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key})
            if not took.scalar():
                return 0  # another replica prunes this table now
        pk = list(kept.table.primary_key.columns)
        # NULL (an unsent outbox row) is never older than the cutoff.
        oldest = (
            select(*pk)
            .where(kept.column < cutoff)
            .order_by(kept.column)
            .limit(self._settings.batch_size)
        )
        keys = [tuple(row) for row in conn.execute(oldest)]
        if not keys:
            return 0
        conn.execute(delete(kept.table).where(tuple_(*pk).in_(keys)))
        return len(keys)

    async def run(self) -> None:
        while True:
            try:
                deleted = await self._db.in_thread(lambda: self.prune(utcnow()))
                if any(deleted.values()):
                    log.info("retention", extra={"deleted": deleted})
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("retention pass failed; trying again later")
            await asyncio.sleep(self._settings.interval_seconds)
