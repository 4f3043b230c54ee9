"""The reminder job: every `interval` it sends what is due (reminders.py), a batch per
transaction through the service layer, until a batch comes back short. Due times are rows in
the database, not timers, so a restart or a second replica loses and doubles nothing: a batch's
rows are locked until it commits (replicas skip them), and a crash before the commit leaves
them SCHEDULED with no notification. The emails go out through the mailer, woken by the
notifications' commit."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from prometheus_client import Counter

from notification_svc.reminders import Reminder
from yoga_common.jobs import every

log = logging.getLogger(__name__)

REMINDERS = Counter(
    "yoga_notification_reminders_total",
    "Reminders the job handled, by what became of them: sent (a notification made), dropped "
    "(the job ran after the class had started: nobody was reminded).",
    ["state"],
)


class DueReminders(Protocol):
    """The service layer's step of the job (NotificationService)."""

    async def send_due_reminders(self, now: datetime, limit: int) -> list[Reminder]: ...


class ReminderJob:
    def __init__(
        self,
        reminders: DueReminders,
        clock: Callable[[], datetime],
        interval_seconds: float = 30.0,
        batch_size: int = 100,
    ) -> None:
        self._reminders = reminders
        self._now = clock
        self._interval = interval_seconds
        self._batch = batch_size

    async def send_due(self) -> list[Reminder]:
        """Every reminder due now, batch after batch; returns what became of them."""
        handled: list[Reminder] = []
        while True:
            batch = await self._reminders.send_due_reminders(self._now(), self._batch)
            for r in batch:
                REMINDERS.labels(r.state.value.lower()).inc()
                if r.reason:
                    log.warning(
                        "reminder dropped",
                        extra={"reservation_id": r.reservation_id, "reason": r.reason},
                    )
            handled.extend(batch)
            if len(batch) < self._batch:
                return handled

    async def run(self) -> None:
        async def one_pass() -> int:
            return len(await self.send_due())

        await every(self._interval, one_pass, "reminders handled", "reminders")
