"""mypage_svc's use cases: apply a reservation or class fact to the read model (in the event
consumer's unit of work) and read a member's page, one page at a time. The only code of the
service that opens a transaction; the rules (which version wins, what an entry shows, how a
page is ordered) are in domain.py and the statements that keep them in storage.py."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from mypage_svc import domain
from mypage_svc.domain import ClassView, PageEntry, PagePosition, ReservationView
from mypage_svc.storage import MyPageStore
from yoga_common.uow import Transactions, Unit

log = logging.getLogger(__name__)


def apply_reservation(
    uow: Unit[MyPageStore],
    view: ReservationView,
    event_id: str,
    moved_from: domain.Move | None = None,
) -> bool:
    """Stores the reservation as the event tells it, with its class as the page shows it,
    unless a newer version is held. `moved_from`: the event says the class moved from these
    times (ReservationRescheduled)."""
    uow.store.lock_class(view.class_id)
    known = uow.store.get_class(view.class_id)
    if uow.store.save_reservation(domain.with_class(view, known, moved_from)):
        return True
    _dropped(event_id, view.reservation_id, view.version)
    return False


def apply_class(uow: Unit[MyPageStore], view: ClassView, event_id: str) -> bool:
    """Stores the class as the event tells it, unless a newer version is held, and shows it
    so on every reservation of it."""
    uow.store.lock_class(view.class_id)
    if uow.store.save_class(view):
        uow.store.show_class(view.class_id, domain.shown_class_of(view))
        return True
    _dropped(event_id, view.class_id, view.version)
    return False


def _dropped(event_id: str, key: str, version: int) -> None:
    log.info(
        "stale event dropped: a newer version is held",
        extra={"event_id": event_id, "key": key, "version": version},
    )


class MyPageService:
    def __init__(self, tx: Transactions[MyPageStore], clock: Callable[[], datetime]) -> None:
        self._tx = tx
        self._now = clock

    async def page(
        self, user_id: str, size: int, start: PagePosition | None
    ) -> tuple[list[PageEntry], PagePosition | None]:
        """Up to `size` entries of the member's page from `start` (None: a new listing, whose
        "now" is this moment), and where the next page starts (None after the last)."""
        at = start or domain.first_position(self._now())

        def read(store: MyPageStore) -> list[PageEntry]:
            # One more than the page, to know whether a next page exists without counting;
            # a part that runs out hands over to the next in the same read.
            found: list[PageEntry] = []
            part: PagePosition | None = at
            while part is not None and len(found) <= size:
                found += store.page(user_id, part, size + 1 - len(found))
                part = domain.next_phase(part)
            # A waiting reservation's place, counted in the same read as the page.
            return [
                domain.with_position(e, store.waiting_ahead(e.class_id, e.waitlist_ticket))
                if domain.waits(e) and e.waitlist_ticket is not None and i < size
                else e
                for i, e in enumerate(found)
            ]

        found = await self._tx.read(read)
        page = found[:size]
        following = domain.position_after(page[-1], at.now) if len(found) > size else None
        return page, following
