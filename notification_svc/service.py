"""notification_svc's use cases: record a notification for a reservation fact (in the event
consumer's unit of work), list a member's notifications, and the mailer's steps (what is due,
claim one, record how its sending went). The only code of the service that opens a
transaction; the rules are in domain.py, the statements in storage.py."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from notification_svc.domain import Notification
from notification_svc.storage import NotificationStore
from yoga_common.uow import Transactions, Unit

log = logging.getLogger(__name__)


def record(uow: Unit[NotificationStore], n: Notification) -> bool:
    """Stores the notification of an event for its recipient, once: False if it was already."""
    if not uow.store.add(n):
        return False
    log.info(
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

    async def finish(self, n: Notification, claim_id: str) -> bool:
        return await self._tx.run(lambda uow: uow.store.finish(n, claim_id))
