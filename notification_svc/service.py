"""notification_svc's use cases: record a notification for a reservation fact and keep its
reminder (in the event consumer's unit of work), keep the studio's reminder lead, list a
member's notifications, the reminder job's batch, and the mailer's steps (claim a batch of
due ones, record how their sending went). The only code of the service that opens a
transaction; the rules are in domain.py, the statements in storage.py."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from notification_svc.domain import Notification
from notification_svc.reminders import (
    Booking,
    Reminder,
    ReminderState,
    StudioLead,
    at_due,
    lead_of,
    on_event,
    reminder_notification,
    with_lead,
)
from notification_svc.storage import NotificationStore
from yoga_common.uow import Transactions, Unit, races

log = logging.getLogger(__name__)


def record(uow: Unit[NotificationStore], n: Notification) -> bool:
    """Stores the notification of an event for its recipient, once: False if it was already."""
    if not uow.store.add(n):
        return False
    # DEBUG: a JSON line per notification was 18 % of the service's busy time in a burst
    # (BENCHMARKS.md); the email's own line ("email sent") names it, and metrics count them.
    log.debug(
        "notification recorded",
        extra={
            "notification_id": n.notification_id,
            "kind": n.kind.value,
            "email_state": n.email_state.value,
        },
    )
    return True


class NotificationService:
    def __init__(self, tx: Transactions[NotificationStore]) -> None:
        self._tx = tx

    async def get(self, notification_id: str) -> Notification | None:
        return await self._tx.read(lambda store: store.get(notification_id))

    async def page(
        self, user_id: str, limit: int, after: tuple[datetime, str] | None
    ) -> list[Notification]:
        return await self._tx.read(lambda store: store.page(user_id, limit, after))

    async def due(self, now: datetime, limit: int) -> list[str]:
        return await self._tx.read(lambda store: store.due(now, limit))

    async def claim(
        self, notification_id: str, now: datetime, until: datetime
    ) -> tuple[Notification, str] | None:
        """Takes a due notification for sending until `until`; None if another mailer claimed
        it first or it is no longer due. Returns it with the claim id."""
        claim_id = str(uuid.uuid4())
        claimed = await self._tx.run(
            lambda uow: uow.store.claim(notification_id, now, until, claim_id)
        )
        return (claimed, claim_id) if claimed is not None else None

    def finish(self, n: Notification, claim_id: str) -> bool:
        """Records how an email went (on the mailer's sending thread: it blocks); False if
        the claim was lost."""
        return self._tx.run_sync(lambda uow: uow.store.finish(n, claim_id))

    async def claim_due(
        self, now: datetime, until: datetime, limit: int
    ) -> tuple[list[Notification], str]:
        """Takes up to `limit` due notifications for sending until `until`, in one
        transaction; returns them (those no other mailer claimed first) with the claim id."""
        claim_id = str(uuid.uuid4())
        claimed = await self._tx.run(lambda uow: uow.store.claim_due(now, until, claim_id, limit))
        return claimed, claim_id

    async def finish_all(self, outcomes: list[Notification], claim_id: str) -> list[bool]:
        """Records how each email of a claimed batch went, in one transaction; False for one
        whose claim was lost."""
        return await self._tx.run(lambda uow: [uow.store.finish(n, claim_id) for n in outcomes])

    async def send_due_reminders(self, now: datetime, limit: int) -> list[Reminder]:
        return await self._tx.run(lambda uow: send_due_reminders(uow, now, limit))


def remind(uow: Unit[NotificationStore], booking: Booking, now: datetime) -> Reminder | None:
    """Applies a reservation event to its reminder (scheduled, moved, cancelled): the written
    reminder, or None when the event changed nothing."""
    store = uow.store
    if not booking.confirmed and store.reminder(booking.reservation_id) is None:
        return None  # never confirmed: nothing to stop (most events of the topic)
    # Read first, and held: a new lead waits for this transaction, or this one for it.
    lead = lead_of(store.studio_lead(share=True))
    for _ in races("reminder", booking.reservation_id):
        current = store.reminder(booking.reservation_id)
        after = on_event(current, booking, lead, now)
        if after is None:
            return None
        if store.save_reminder(after, current):
            return after
    raise AssertionError("unreachable")


def hear_lead(uow: Unit[NotificationStore], lead: StudioLead, changed_at: datetime) -> int:
    """Keeps the studio's new reminder lead (unless a newer one is held) and moves the due
    times of the reminders of classes still to come; returns how many it moved."""
    store = uow.store
    before = lead_of(store.studio_lead())
    if not store.save_studio_lead(lead, changed_at) or lead.lead == before:
        return 0  # an older version, or another setting changed
    moved = 0
    for r in store.reconsidered_reminders(changed_at):
        after = with_lead(r, lead.lead, changed_at)
        if after is not None and store.update_reminder(after, r.state):
            moved += 1
    if moved:
        log.info("reminders moved to the studio's new lead", extra={"moved": moved})
    return moved


def send_due_reminders(uow: Unit[NotificationStore], now: datetime, limit: int) -> list[Reminder]:
    """One batch of the reminder job, in one transaction: each due reminder becomes its
    notification (email PENDING for the mailer) and SENT, or DROPPED when its class has
    already started. The rows stay locked until the commit, so a second replica's job skips
    them, and a crash before the commit leaves them SCHEDULED with no notification."""
    done = []
    for r in uow.store.claim_due_reminders(now, limit):
        after = at_due(r, now)
        if after.state is ReminderState.SENT:
            record(uow, reminder_notification(after, now))
        if uow.store.update_reminder(after, ReminderState.SCHEDULED):
            done.append(after)
    return done
