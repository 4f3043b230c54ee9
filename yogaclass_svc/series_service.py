"""yogaclass_svc's use cases of weekly class series (issue 15). Like service.py, the only code
that opens a transaction for them (through the unit of work); the rules are in series.py, the
statements in storage.py (ClassStore), the protobuf mapping in the servicer.

Every change to a series takes its row's lock first (PostgreSQL `FOR UPDATE`; SQLite has one
writer), so an edit, a cancel and the materializer of any replica see each other's results.
Occurrences are named by (series_id, occurrence_date), a unique key: a materializer run twice,
or on two replicas at once, makes each class once, and neither fails."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from prometheus_client import Counter

from yoga_common.errors import invalid_field, not_found
from yoga_common.jobs import every
from yoga_common.uow import Transactions, races
from yogaclass_svc import domain, series
from yogaclass_svc.domain import MUTABLE_FIELDS, ClassStatus, ClassUpdated, YogaClass
from yogaclass_svc.series import Pattern, Series, SeriesCancelled, SeriesCreated, SeriesUpdated
from yogaclass_svc.service import Work, cancel_class, promote
from yogaclass_svc.storage import ClassStore

OCCURRENCES = Counter(
    "yoga_series_occurrences_total", "Occurrences of series made as classes (the horizon)."
)


@dataclass(frozen=True)
class SeriesEdit:
    """UpdateSeries' answer: the series carrying the new pattern, the old one when it split."""

    series: Series
    previous: Series | None
    classes_updated: int


def _existing(store: ClassStore, series_id: str, lock: bool = False) -> Series:
    found = store.lock_series(series_id) if lock else store.get_series(series_id)
    if found is None:
        raise not_found("series", series_id)
    return found


def materialize(
    uow: Work, s: Series, now: datetime, horizon: timedelta | None = None
) -> tuple[Series, list[object]]:
    """The series' occurrences within the studio's horizon (read here unless the caller has
    it) made as classes (those that do not exist yet), and its materialized_until moved on.
    Returns the series after, and the ClassCreated events to emit."""
    store = uow.store
    if horizon is None:
        horizon = store.studio_rules().series_horizon
    due = series.due(s, now, horizon)
    existing = store.occurrence_dates(s.series_id, due[0].occurrence_date) if due else set()
    made: list[object] = []
    for o in due:
        if o.occurrence_date in existing:
            continue
        created, event = domain.new_class(
            str(uuid.uuid4()),
            series.class_details(s.pattern, o),
            now,
            series_id=s.series_id,
            occurrence_date=o.occurrence_date,
        )
        if store.add_occurrence(created):
            made.append(event)
    target = replace(s, materialized_until=max(s.materialized_until, now + horizon))
    if target != s:
        store.save_series(target)
    if made:
        uow.after_commit(lambda: OCCURRENCES.inc(len(made)))
    return target, made


def materialize_one(uow: Work, series_id: str, now: datetime) -> int:
    """One series' due occurrences, if no other transaction holds the series (another
    replica's materializer does the work then). Returns how many classes were made."""
    s = uow.store.lock_series(series_id, skip_locked=True)
    if s is None:
        return 0
    horizon = uow.store.studio_rules().series_horizon
    next_due = s.next_due
    if next_due is None or next_due > now + horizon:
        return 0  # made while this replica waited for its turn
    _, made = materialize(uow, s, now, horizon)
    uow.emit(*made)
    return len(made)


def _follow(
    current: YogaClass, p: Pattern, series_id: str, now: datetime
) -> tuple[YogaClass, ClassUpdated] | None:
    """An occurrence taking its (new) series' pattern on its own date; None if nothing
    changes. Capacity below the seats booked is refused as UpdateClass refuses it."""
    assert current.occurrence_date is not None
    o = series.occurrence_on(p, current.occurrence_date)
    if o.start <= now:
        raise invalid_field(
            "series.start_time",
            f"the occurrence on {current.occurrence_date.isoformat()} would start in the past",
        )
    wanted = series.class_details(p, o)
    changes: dict[str, Any] = {
        name: getattr(wanted, name)
        for name in MUTABLE_FIELDS
        if getattr(wanted, name) != getattr(current.details, name)
    }
    moved = replace(current, series_id=series_id)
    if not changes:
        return None
    target = domain.apply_changes(moved, changes, now)
    return target, ClassUpdated(target, tuple(sorted(changes)))


def _move_tail(uow: Work, old_id: str, split: series.Split, start: date, now: datetime) -> int:
    """The classes of the series on or after `start`: each moves to the series carrying the
    new pattern (a split), and those that follow the pattern, have not started and are not
    cancelled take its new values (ClassUpdated). Detached ones keep their edits."""
    store = uow.store
    new_id = split.series.series_id
    updated = 0
    for c in store.occurrences_from(old_id, start):
        if new_id != old_id:
            store.move_occurrence(c.class_id, new_id)
        if c.detached or c.status is ClassStatus.CANCELLED or c.details.start_time <= now:
            continue
        for _ in races("class", c.class_id):
            current = replace(store.get(c.class_id) or c, series_id=new_id)
            followed = _follow(current, split.series.pattern, new_id, now)
            if followed is None:
                break
            target, event = followed
            if store.replace(target, current.version):
                uow.emit(event)
                # More seats: the queue moves, as after UpdateClass.
                promote(uow, c.class_id, now)
                updated += 1
                break
    return updated


class SeriesService:
    def __init__(self, tx: Transactions[ClassStore], clock: Callable[[], datetime]) -> None:
        self._tx = tx
        self._now = clock

    async def create(
        self, pattern: Pattern, request_id: str, request_hash: str
    ) -> tuple[Series, int]:
        """The series stored, SeriesCreated, and its occurrences within the horizon made as
        classes in the same transaction. A retry (same request_id) gets the series back."""
        now = self._now()

        def work(uow: Work) -> tuple[Series, int]:
            store = uow.store
            if request_id:
                found = store.series_by_request(request_id)
                if found is not None:
                    s = series.retried(*found, request_hash)
                    return s, len(store.occurrence_dates(s.series_id, s.pattern.start_date))
            created = series.new_series(str(uuid.uuid4()), pattern, now)
            store.add_series(created, request_id, request_hash)
            stored, made = materialize(uow, created, now)
            uow.emit(SeriesCreated(stored), *made)
            return stored, len(made)

        return await self._tx.run(work)

    async def get(self, series_id: str) -> Series:
        return await self._tx.read(lambda store: _existing(store, series_id))

    async def page(
        self, instructor: str, limit: int, after: tuple[datetime, str] | None
    ) -> list[Series]:
        return await self._tx.read(lambda store: store.series_page(instructor, limit, after))

    async def update(
        self,
        series_id: str,
        changes: dict[str, Any],
        from_text: str,
        request_id: str,
        request_hash: str,
    ) -> SeriesEdit:
        """This and following: see series.edit (the rules) and _move_tail (the classes).
        Everything in one transaction: a refusal (capacity below the seats booked) changes
        nothing. A retry with the same request_id answers as the first call did."""
        now = self._now()

        def work(uow: Work) -> SeriesEdit:
            store = uow.store
            if request_id:
                stored = store.series_edit(request_id)
                if stored is not None:
                    return _replayed(store, stored, request_hash)
            s = _existing(store, series_id, lock=True)
            start = series.from_date(s, from_text, now)
            split = series.edit(s, changes, start, str(uuid.uuid4()), now)
            if not split.changed:
                return SeriesEdit(s, None, 0)
            if split.previous is not None:
                store.save_series(split.previous)
                store.add_series(split.series)
            else:
                store.save_series(split.series)
            uow.emit(SeriesUpdated(split.series, split.previous, split.changed, start))
            updated = _move_tail(uow, s.series_id, split, start, now)
            # A later start can bring an occurrence into the horizon: made now, not at the
            # materializer's next pass.
            _, made = materialize(uow, _existing(store, split.series.series_id), now)
            uow.emit(*made)
            if request_id:
                previous = split.previous.series_id if split.previous else ""
                store.add_series_edit(
                    request_id, request_hash, split.series.series_id, previous, updated, now
                )
            return SeriesEdit(
                _existing(store, split.series.series_id),
                None if split.previous is None else _existing(store, s.series_id),
                updated,
            )

        return await self._tx.run(work)

    async def cancel(self, series_id: str, from_text: str) -> tuple[Series, int]:
        """Every occurrence on or after the date that has not started is cancelled as
        DeleteClass cancels a class (detached ones too); no occurrence is made from it on.
        Cancelling again from the same date changes nothing."""
        now = self._now()

        def work(uow: Work) -> tuple[Series, int]:
            store = uow.store
            s = _existing(store, series_id, lock=True)
            start = series.from_date(s, from_text, now)
            target = series.cancel_from(s, start, now)
            if target is not None:
                store.save_series(target)
                uow.emit(SeriesCancelled(target, start))
            cancelled = 0
            for c in store.occurrences_from(series_id, start):
                if c.status is ClassStatus.SCHEDULED and c.details.start_time > now:
                    cancel_class(uow, c.class_id, now)
                    cancelled += 1
            return _existing(store, series_id), cancelled

        return await self._tx.run(work)

    async def materialize_due(self, batch: int = 100) -> int:
        """One pass of the materializer: every series with an occurrence within the horizon
        not made yet, each in its own transaction. Returns the classes made."""
        now = self._now()
        rules = await self._tx.read(lambda store: store.studio_rules())
        due = await self._tx.read(lambda store: store.series_due(now + rules.series_horizon, batch))
        made = 0
        for series_id in due:
            made += await self._tx.run(
                functools.partial(materialize_one, series_id=series_id, now=now)
            )
        return made

    async def materialize_loop(self, interval: float) -> None:
        await every(interval, self.materialize_due, "series occurrences made", "classes")


def _replayed(
    store: ClassStore, stored: tuple[str, str, str, int], request_hash: str
) -> SeriesEdit:
    stored_hash, series_id, previous_id, updated = stored
    if stored_hash != request_hash:
        raise invalid_field("request_id", "was already used for a different edit")
    return SeriesEdit(
        _existing(store, series_id),
        _existing(store, previous_id) if previous_id else None,
        updated,
    )
