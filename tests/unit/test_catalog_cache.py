"""yogaclass_svc/catalog.py: answers kept at most max_age, own writes seen at once, a read
racing a write never puts the old answer back, concurrent misses share one read."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from yogaclass_svc.catalog import Catalog


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Source:
    """The database: a value per key, and how often it was read."""

    def __init__(self) -> None:
        self.value: dict[str, str] = {}
        self.reads = 0

    def loader(self, key: str) -> Callable[[], Awaitable[str]]:
        async def load() -> str:
            self.reads += 1
            return self.value[key]

        return load


async def test_an_answer_is_kept_until_max_age_then_read_again() -> None:
    clock, db = Clock(), Source()
    catalog = Catalog(1.0, clock)
    db.value["c1"] = "v1"
    assert await catalog.one("c1", db.loader("c1")) == "v1"
    db.value["c1"] = "v2"  # another replica's write: no event reaches this process
    clock.now += 0.5
    assert await catalog.one("c1", db.loader("c1")) == "v1"
    assert db.reads == 1
    clock.now += 0.5  # the bound: never older than max_age
    assert await catalog.one("c1", db.loader("c1")) == "v2"
    assert db.reads == 2


async def test_an_own_write_is_seen_at_once_by_the_class_and_the_pages_showing_it() -> None:
    clock, db = Clock(), Source()
    catalog = Catalog(1.0, clock)
    db.value |= {"c1": "v1", "page": "c1,c2", "other": "c3"}

    def shown(answer: str) -> list[str]:
        return answer.split(",")

    assert await catalog.one("c1", db.loader("c1")) == "v1"
    assert await catalog.page("page", db.loader("page"), shown) == "c1,c2"
    assert await catalog.page("other", db.loader("other"), shown) == "c3"
    db.value |= {"c1": "v2", "page": "c1',c2"}
    catalog.forget("c1")
    assert await catalog.one("c1", db.loader("c1")) == "v2"
    assert await catalog.page("page", db.loader("page"), shown) == "c1',c2"
    reads = db.reads
    assert await catalog.page("other", db.loader("other"), shown) == "c3"
    assert db.reads == reads  # a page not showing the class stays


async def test_a_new_class_or_a_series_edit_forgets_every_page() -> None:
    clock, db = Clock(), Source()
    catalog = Catalog(1.0, clock)
    db.value |= {"page": "c1", "c1": "v1"}
    await catalog.page("page", db.loader("page"), lambda a: [a])
    db.value["page"] = "c0,c1"
    catalog.forget_pages()
    assert await catalog.page("page", db.loader("page"), lambda a: [a]) == "c0,c1"
    await catalog.one("c1", db.loader("c1"))
    db.value |= {"page": "c0", "c1": "gone"}
    catalog.forget_all()
    assert await catalog.one("c1", db.loader("c1")) == "gone"
    assert await catalog.page("page", db.loader("page"), lambda a: [a]) == "c0"


async def test_a_read_racing_a_write_does_not_put_the_old_answer_back() -> None:
    """The read began before the commit (it saw the old row) and ends after the forget: its
    answer goes to the callers already waiting for it, but is not served again."""
    clock = Clock()
    catalog = Catalog(1.0, clock)
    started, release = asyncio.Event(), asyncio.Event()
    current = {"c1": "old"}

    async def slow() -> str:
        seen = current["c1"]
        started.set()
        await release.wait()
        return seen

    racing = asyncio.create_task(catalog.one("c1", slow))
    await started.wait()
    current["c1"] = "new"
    catalog.forget("c1")  # the write committed
    release.set()
    assert await racing == "old"

    async def fresh() -> str:
        return current["c1"]

    assert await catalog.one("c1", fresh) == "new"


async def test_concurrent_misses_share_one_read_and_errors_are_not_kept() -> None:
    catalog = Catalog(1.0, Clock())
    reads = 0
    gate = asyncio.Event()

    async def load() -> str:
        nonlocal reads
        reads += 1
        await gate.wait()
        return "v"

    callers = [asyncio.create_task(catalog.one("c1", load)) for _ in range(10)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*callers) == ["v"] * 10
    assert reads == 1

    async def missing() -> str:
        raise LookupError("no class")

    for _ in range(2):
        with pytest.raises(LookupError):
            await catalog.one("c2", missing)

    async def created() -> str:
        return "now there"

    assert await catalog.one("c2", created) == "now there"  # a miss is never kept


async def test_a_caller_giving_up_does_not_cancel_the_shared_read() -> None:
    catalog = Catalog(1.0, Clock())
    gate = asyncio.Event()

    async def load() -> str:
        await gate.wait()
        return "v"

    first = asyncio.create_task(catalog.one("c1", load))
    second = asyncio.create_task(catalog.one("c1", load))
    await asyncio.sleep(0)
    first.cancel()
    gate.set()
    assert await second == "v"
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_max_age_zero_reads_every_time() -> None:
    db = Source()
    db.value["c1"] = "v"
    catalog = Catalog(0, Clock())
    for _ in range(3):
        await catalog.one("c1", db.loader("c1"))
    assert db.reads == 3


async def test_forget_marks_stay_bounded() -> None:
    clock = Clock()
    catalog = Catalog(1.0, clock)
    for n in range(20_000):
        clock.now += 0.001
        catalog.forget(f"c{n}")
    assert len(catalog._changed) <= 5_000
