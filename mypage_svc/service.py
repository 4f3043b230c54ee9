"""mypage_svc's use cases: apply a reservation or class fact to the read model (in the event
consumer's unit of work) and read a member's page. The only code of the service that opens a
transaction; the rules (which version wins, how a page is ordered) are in domain.py and the
conditional upsert that enforces them in storage.py."""

from __future__ import annotations

import logging

from mypage_svc.domain import ClassView, PageEntry, ReservationView
from mypage_svc.storage import MyPageStore
from yoga_common.uow import Transactions, Unit

log = logging.getLogger(__name__)


def apply_reservation(uow: Unit[MyPageStore], view: ReservationView, event_id: str) -> bool:
    """Stores the reservation as the event tells it, unless a newer version is held."""
    if uow.store.save_reservation(view):
        return True
    _dropped(event_id, view.reservation_id, view.version)
    return False


def apply_class(uow: Unit[MyPageStore], view: ClassView, event_id: str) -> bool:
    """Stores the class as the event tells it, unless a newer version is held."""
    if uow.store.save_class(view):
        return True
    _dropped(event_id, view.class_id, view.version)
    return False


def _dropped(event_id: str, key: str, version: int) -> None:
    log.info(
        "stale event dropped: a newer version is held",
        extra={"event_id": event_id, "key": key, "version": version},
    )


class MyPageService:
    def __init__(self, tx: Transactions[MyPageStore]) -> None:
        self._tx = tx

    async def page(self, user_id: str) -> list[PageEntry]:
        return await self._tx.read(lambda store: store.page(user_id))
