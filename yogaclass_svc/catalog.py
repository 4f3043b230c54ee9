"""The catalog as members read it (GetClass, ListClasses), answered from memory.

The timetable changes rarely and is read all the time; each answer is the built protobuf
message, kept for at most `max_age` seconds after its database read began. The bound is what
makes every replica see the others' writes: a class another process changed (a seat taken, an
edit, a class a series made) shows in this process's answers at most `max_age` later, whether
or not an event says so (taking a seat publishes none). The seat count is a hint either way:
the booking itself takes the seat with a conditional update.

Writes of this process are seen at once: the servicer forgets a class it changed (a seat, an
edit, a cancellation) and every page when the set of classes or their order may have changed
(a class created or moved, a series edited), so staff who edit a class and read it back see
their edit. An answer whose read began before such a forget is stale from then on, so a read
racing the commit cannot put the old answer back. Concurrent misses of one key share one
database read. Changes made here outside the API (a waitlist closing at its cutoff, a series
materializing its next classes) are seen within the bound, like other replicas' writes.

Nothing here decides who may see what: every caller who may call GetClass or ListClasses
sees every class (cancelled ones included), as the database answers it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar, cast

from prometheus_client import Counter

V = TypeVar("V")

READS = Counter(
    "yoga_catalog_reads_total",
    "GetClass and ListClasses answers, by where they came from (cache or database).",
    ["kind", "source"],
)

# Enough for a studio's whole timetable and the pages its members page through (a page of 100
# classes is about 30 kB); past that the oldest entries go first.
MAX_CLASSES = 20_000
MAX_PAGES = 500
# Forget marks kept before the ones older than max_age are dropped.
PRUNE_AT = 4_096


@dataclass(frozen=True)
class _Entry(Generic[V]):
    value: V
    tick: int  # the forget counter when its read began
    at: float  # when its read began
    class_ids: tuple[str, ...]  # the classes it shows


class _Table(Generic[V]):
    """Answers by key, with the reads under way."""

    def __init__(self, kind: str, limit: int) -> None:
        self.entries: dict[Hashable, _Entry[V]] = {}
        self.loading: dict[Hashable, asyncio.Task[_Entry[V]]] = {}
        self.limit = limit
        self.hit = READS.labels(kind, "cache")
        self.miss = READS.labels(kind, "database")

    def put(self, key: Hashable, entry: _Entry[V]) -> None:
        self.entries.pop(key, None)
        if len(self.entries) >= self.limit:
            del self.entries[next(iter(self.entries))]  # the oldest put
        self.entries[key] = entry


class Catalog:
    """GetClass and ListClasses answers of this process, each at most `max_age` seconds old
    (0: none kept, every call reads the database)."""

    def __init__(
        self,
        max_age: float,
        clock: Callable[[], float] = time.monotonic,
        max_classes: int = MAX_CLASSES,
        max_pages: int = MAX_PAGES,
    ) -> None:
        self.max_age = max_age
        self._clock = clock
        # Counts forgets: an entry carries the count at which its read began.
        self._tick = 0
        # class id -> (tick, time) of its last forget: entries showing it read before are stale.
        self._changed: dict[str, tuple[int, float]] = {}
        self._pages_changed = 0  # the tick of the last forget of every page
        self._all_changed = 0  # and of everything
        self._classes: _Table[object] = _Table("class", max_classes)
        self._pages: _Table[object] = _Table("page", max_pages)

    # --- reads ------------------------------------------------------------------------

    async def one(self, class_id: str, load: Callable[[], Awaitable[V]]) -> V:
        """The answer for one class: kept, or `load()`ed (an error is never kept)."""
        return cast(V, await self._get(self._classes, class_id, load, lambda _: (class_id,)))

    async def page(
        self,
        key: Hashable,
        load: Callable[[], Awaitable[V]],
        shown: Callable[[V], Iterable[str]],
    ) -> V:
        """A page of classes: kept, or `load()`ed; `shown(answer)` names its classes."""
        names = cast(Callable[[object], Iterable[str]], shown)
        return cast(V, await self._get(self._pages, key, load, names))

    def _fresh(self, table: _Table[object], entry: _Entry[object]) -> bool:
        if self._clock() - entry.at >= self.max_age or entry.tick < self._all_changed:
            return False
        if table is self._pages and entry.tick < self._pages_changed:
            return False
        changed = self._changed
        return all(changed.get(c, (0, 0.0))[0] <= entry.tick for c in entry.class_ids)

    async def _get(
        self,
        table: _Table[object],
        key: Hashable,
        load: Callable[[], Awaitable[object]],
        shown: Callable[[object], Iterable[str]],
    ) -> object:
        if self.max_age <= 0:
            return await load()
        entry = table.entries.get(key)
        if entry is not None and self._fresh(table, entry):
            table.hit.inc()
            return entry.value
        task = table.loading.get(key)
        if task is None:
            table.miss.inc()
            task = asyncio.ensure_future(self._load(table, key, load, shown))
            table.loading[key] = task
            task.add_done_callback(lambda done: _drop(table.loading, key, done))
        # Shielded: a caller that gives up (its deadline) does not cancel the others' read.
        return (await asyncio.shield(task)).value

    async def _load(
        self,
        table: _Table[object],
        key: Hashable,
        load: Callable[[], Awaitable[object]],
        shown: Callable[[object], Iterable[str]],
    ) -> _Entry[object]:
        # Stamped with when the read began: a forget after that makes it stale (_fresh).
        tick, at = self._tick, self._clock()
        value = await load()
        entry = _Entry(value, tick, at, tuple(shown(value)))
        kept = table.entries.get(key)
        if kept is None or kept.tick <= tick:
            table.put(key, entry)
        return entry

    # --- writes of this process ----------------------------------------------------------

    def forget(self, class_id: str, pages: bool = False) -> None:
        """`class_id` changed here (committed): answers showing it are read again. With
        `pages`, every page too (a class created, moved, or its instructor changed: it may
        belong on pages that did not show it)."""
        self._tick += 1
        now = self._clock()
        self._changed[class_id] = (self._tick, now)
        self._classes.entries.pop(class_id, None)
        # Callers from now on must not join a read that may have begun before the commit.
        self._classes.loading.pop(class_id, None)
        self._pages.loading.clear()
        if pages:
            self._pages_changed = self._tick
            self._pages.entries.clear()
        if len(self._changed) > PRUNE_AT:
            # A mark older than max_age only concerns reads begun before it: stale anyway.
            self._changed = {
                c: mark for c, mark in self._changed.items() if now - mark[1] < self.max_age
            }

    def forget_pages(self) -> None:
        """A class was created here: every page is read again."""
        self._tick += 1
        self._pages_changed = self._tick
        self._pages.entries.clear()
        self._pages.loading.clear()

    def forget_all(self) -> None:
        """Many classes changed here (a series created, edited or cancelled)."""
        self._tick += 1
        self._all_changed = self._tick
        self._changed.clear()
        for table in (self._classes, self._pages):
            table.entries.clear()
            table.loading.clear()


def _drop(
    loading: dict[Hashable, asyncio.Task[_Entry[object]]],
    key: Hashable,
    done: asyncio.Task[_Entry[object]],
) -> None:
    if loading.get(key) is done:
        del loading[key]
    if not done.cancelled():
        done.exception()  # retrieved: every caller may have given up on it
