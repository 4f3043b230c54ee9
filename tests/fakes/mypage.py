"""A fake of `mypage_svc.storage.MyPageStore`'s page reads: a member's entries, read one part
(`domain.Phase`) at a time from a position, as the real store's keyset queries read them, and
the count of a class's WAITLISTED reservations ahead of a ticket."""

from __future__ import annotations

from datetime import UTC, datetime

from mypage_svc.domain import PageEntry, PagePosition, Phase, Status, phase_of

_UNKNOWN = datetime.min.replace(tzinfo=UTC)


class FakeMyPageStore:
    def __init__(self) -> None:
        self.entries: dict[str, tuple[str, PageEntry]] = {}  # reservation id -> (user, entry)
        self.reads = 0

    def add(self, user_id: str, entry: PageEntry) -> None:
        self.entries[entry.reservation_id] = (user_id, entry)

    def page(self, user_id: str, at: PagePosition, limit: int) -> list[PageEntry]:
        self.reads += 1

        def key(e: PageEntry) -> tuple[datetime, str]:
            return e.class_info.start_time or _UNKNOWN, e.reservation_id

        upward = at.phase is Phase.UPCOMING
        part = sorted(
            (
                e
                for owner, e in self.entries.values()
                if owner == user_id and phase_of(e.class_info.start_time, at.now) is at.phase
            ),
            key=key,
            reverse=not upward,
        )
        if at.after is not None:
            after = (at.after[0] or _UNKNOWN, at.after[1])
            part = [e for e in part if (key(e) > after if upward else key(e) < after)]
        return part[:limit]

    def waiting_ahead(self, class_id: str, ticket: int) -> int:
        return sum(
            1
            for _, e in self.entries.values()
            if e.class_id == class_id
            and e.status is Status.WAITLISTED
            and e.waitlist_ticket is not None
            and e.waitlist_ticket < ticket
        )
