"""yogaclass_svc's use cases of the studio's settings and members' standing (issue 14). Like
service.py, the only code that opens a transaction for them (through the unit of work); the
rules are in studio.py, the statements in storage.py (ClassStore), the protobuf mapping in the
servicer and the consumers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from prometheus_client import Counter

from yoga_common.uow import Transactions, Unit, races
from yogaclass_svc import studio
from yogaclass_svc.storage import ClassStore
from yogaclass_svc.studio import (
    BlockLifted,
    MemberBlocked,
    MemberStanding,
    Standing,
    StrikeKind,
    StudioSettings,
)

STRIKES = Counter("yoga_strikes_total", "Strikes recorded (late cancels, no-shows).", ["kind"])
BLOCKS = Counter("yoga_member_blocks_total", "Members blocked for strikes.")

Work = Unit[ClassStore]


def standing_view(store: ClassStore, standing: Standing, now: datetime) -> MemberStanding:
    """The member's standing as shown: strikes counted now, held seats, the studio's limit."""
    rules = store.studio_rules()
    strikes = store.count_strikes(standing.user_id, studio.counted_since(rules, standing, now))
    held = store.held_upcoming(standing.user_id, now)
    return studio.view(rules, standing, strikes, held, now)


def record_strike(
    uow: Work, reservation_id: str, user_id: str, kind: StrikeKind, at: datetime, now: datetime
) -> bool:
    """One strike for the reservation (a replay records none), then the block it may bring:
    at the limit, a member not blocked already is blocked and MemberBlocked emitted. False if
    the reservation's strike was recorded before."""
    store = uow.store
    # The member's row first: their strikes are judged one transaction at a time.
    standing = store.lock_member_standing(user_id)
    if not store.add_strike(reservation_id, user_id, kind, at):
        return False
    uow.after_commit(lambda: STRIKES.labels(kind.value.lower()).inc())
    rules = store.studio_rules()
    counted = store.count_strikes(user_id, studio.counted_since(rules, standing, now))
    blocked = studio.block_due(rules, standing, counted, now)
    if blocked is not None:
        if not store.save_member_standing(blocked, standing.version):
            raise AssertionError("a locked standing changed")  # never: the row is locked
        uow.emit(MemberBlocked(standing_view(store, blocked, now)))
        uow.after_commit(BLOCKS.inc)
    return True


class StudioService:
    def __init__(self, tx: Transactions[ClassStore], clock: Callable[[], datetime]) -> None:
        self._tx = tx
        self._now = clock

    async def settings(self) -> StudioSettings:
        return await self._tx.read(lambda store: store.studio_settings())

    async def update_settings(self, changes: dict[str, Any]) -> StudioSettings:
        """Staff change the named fields (StudioRules names); all checked, or nothing changes."""
        now = self._now()

        def work(uow: Work) -> StudioSettings:
            for _ in races("studio settings", "studio"):
                current = uow.store.studio_settings()
                target, event = studio.change_settings(current, changes, now)
                if event is None:
                    return current
                if uow.store.save_studio_settings(target, current.version):
                    uow.emit(event)
                    return uow.store.studio_settings()
            raise AssertionError("unreachable")

        return await self._tx.run(work)

    async def standing(self, user_id: str) -> MemberStanding:
        now = self._now()
        return await self._tx.read(
            lambda store: standing_view(store, store.member_standing(user_id), now)
        )

    async def lift_block(self, user_id: str) -> MemberStanding:
        """Ends the member's block now; their strikes so far stop counting. A member who is not
        blocked is left as they are (no event): lifting twice is lifting once."""
        now = self._now()

        def work(uow: Work) -> MemberStanding:
            store = uow.store
            for _ in races("member standing", user_id):
                current = store.member_standing(user_id)
                lifted = studio.lift_block(current, now)
                if lifted is None:
                    return standing_view(store, current, now)
                if store.save_member_standing(lifted, current.version):
                    shown = standing_view(store, lifted, now)
                    uow.emit(BlockLifted(shown))
                    return shown
            raise AssertionError("unreachable")

        return await self._tx.run(work)
