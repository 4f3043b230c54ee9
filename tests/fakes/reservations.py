"""A fake of `reservation_svc.storage.ReservationStore`: a request_id is unique per user, one
active reservation per user and class, `replace` is conditional on the version."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from reservation_svc.domain import (
    ACTIVE,
    ClassInfo,
    Reservation,
    RosterPosition,
    Status,
    roster_key,
    roster_part,
)


class FakeReservationStore:
    def __init__(self) -> None:
        self.rows: dict[str, Reservation] = {}

    def get(self, reservation_id: str) -> Reservation | None:
        return self.rows.get(reservation_id)

    def by_request(self, user_id: str, request_id: str) -> Reservation | None:
        for r in self.rows.values():
            if r.user_id == user_id and r.request_id == request_id:
                return r
        return None

    def add(self, r: Reservation) -> bool:
        if r.reservation_id in self.rows or self.by_request(r.user_id, r.request_id):
            return False
        if r.active and any(
            x.active and x.class_id == r.class_id and x.user_id == r.user_id
            for x in self.rows.values()
        ):
            return False
        self.rows[r.reservation_id] = r
        return True

    def replace(self, target: Reservation, expected_version: int) -> bool:
        current = self.rows.get(target.reservation_id)
        if current is None or current.version != expected_version:
            return False
        self.rows[target.reservation_id] = target
        return True

    def set_release_pending(self, reservation_id: str, pending: bool) -> None:
        if reservation_id in self.rows:
            self.rows[reservation_id] = replace(self.rows[reservation_id], release_pending=pending)

    def active_of_class(self, class_id: str) -> list[str]:
        found = [r for r in self.rows.values() if r.class_id == class_id and r.status in ACTIVE]
        return [r.reservation_id for r in sorted(found, key=lambda r: r.create_time)]

    def page(
        self, class_id: str, user_id: str, limit: int, after: tuple[datetime, str] | None
    ) -> list[Reservation]:
        found = sorted(
            (
                r
                for r in self.rows.values()
                if (not class_id or r.class_id == class_id)
                and (not user_id or r.user_id == user_id)
            ),
            key=lambda r: (r.create_time, r.reservation_id),
        )
        if after is not None:
            found = [r for r in found if (r.create_time, r.reservation_id) > after]
        return found[:limit]

    def stale_pending(self, before: datetime, limit: int = 100) -> list[Reservation]:
        found = [
            r for r in self.rows.values() if r.status is Status.PENDING and r.update_time < before
        ]
        return sorted(found, key=lambda r: r.update_time)[:limit]

    def unreleased(self, before: datetime, limit: int = 100) -> list[Reservation]:
        found = [r for r in self.rows.values() if r.release_pending and r.update_time < before]
        return sorted(found, key=lambda r: r.update_time)[:limit]

    def with_status(self, status: Status) -> list[Reservation]:
        return [r for r in self.rows.values() if r.status is status]

    def position(self, class_id: str, ticket: int) -> int:
        ahead = [
            r
            for r in self.rows.values()
            if r.class_id == class_id
            and r.status is Status.WAITLISTED
            and (r.waitlist_ticket or 0) < ticket
        ]
        return 1 + len(ahead)

    def roster(self, class_id: str, position: RosterPosition, limit: int) -> list[Reservation]:
        found = sorted(
            (
                r
                for r in self.rows.values()
                if r.class_id == class_id and roster_part(r) is position.part
            ),
            key=roster_key,
        )
        if position.after is not None:
            after: tuple[Any, ...] = position.after
            found = [r for r in found if roster_key(r) > after]
        return found[:limit]

    def due_no_shows(self, ended_by: datetime, limit: int) -> list[str]:
        due = [
            r
            for r in self.rows.values()
            if r.status is Status.CONFIRMED
            and r.class_info is not None
            and r.class_info.end_time is not None
            and r.class_info.end_time <= ended_by
        ]
        due.sort(key=lambda r: r.class_info.end_time or ended_by if r.class_info else ended_by)
        return [r.reservation_id for r in due[:limit]]

    def describe_class(self, class_id: str, info: ClassInfo) -> int:
        changed = 0
        for r in list(self.rows.values()):
            if r.class_id != class_id:
                continue
            held = r.class_info.version if r.class_info is not None else 0
            if held and held >= info.version:
                continue
            self.rows[r.reservation_id] = replace(r, class_info=info, version=r.version + 1)
            changed += 1
        return changed
