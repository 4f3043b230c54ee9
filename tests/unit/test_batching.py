"""yoga_common.batching.Batcher: concurrent submissions share a batch, each answered on its own."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from yoga_common.batching import Batcher


class Recorder:
    """A batch function that records its batches; `gate` (if set) holds each batch open."""

    def __init__(self, gate: asyncio.Event | None = None) -> None:
        self.batches: list[list[int]] = []
        self.gate = gate
        self.running = asyncio.Event()

    async def __call__(self, items: list[int]) -> Sequence[int | BaseException]:
        self.batches.append(list(items))
        self.running.set()
        if self.gate is not None:
            await self.gate.wait()
        return [n * 10 if n >= 0 else ValueError(f"bad {n}") for n in items]


async def test_a_lone_submission_runs_at_once_alone() -> None:
    run = Recorder()
    batcher = Batcher(run, limit=8)
    call = asyncio.ensure_future(batcher.submit(1))
    # No timer: the batch starts on the loop's next turns, with nothing else waited for.
    for _ in range(3):
        await asyncio.sleep(0)
    assert run.batches == [[1]]
    assert await call == 10


async def test_submissions_that_arrive_while_a_batch_runs_form_the_next_batch() -> None:
    gate = asyncio.Event()
    run = Recorder(gate)
    batcher = Batcher(run, limit=3)
    first = asyncio.ensure_future(batcher.submit(0))
    await run.running.wait()
    later = [asyncio.ensure_future(batcher.submit(n)) for n in range(1, 6)]
    await asyncio.sleep(0)
    assert batcher.waiting == 5
    gate.set()
    results = await asyncio.gather(first, *later)
    # Each caller gets its own item's result, in any batch; batches hold at most 3, in order.
    assert results == [0, 10, 20, 30, 40, 50]
    assert run.batches == [[0], [1, 2, 3], [4, 5]]


async def test_submissions_of_one_moment_share_a_batch() -> None:
    run = Recorder()
    batcher = Batcher(run, limit=64)
    results = await asyncio.gather(*(batcher.submit(n) for n in range(10)))
    assert results == [n * 10 for n in range(10)]
    assert run.batches == [list(range(10))]


async def test_an_item_that_fails_fails_alone() -> None:
    run = Recorder()
    batcher = Batcher(run, limit=8)
    results = await asyncio.gather(
        batcher.submit(1), batcher.submit(-1), batcher.submit(3), return_exceptions=True
    )
    assert results[0] == 10 and results[2] == 30
    assert isinstance(results[1], ValueError) and str(results[1]) == "bad -1"
    assert run.batches == [[1, -1, 3]]


async def test_a_failing_batch_fails_its_items_and_the_next_batch_still_runs() -> None:
    calls: list[list[int]] = []

    async def run(items: list[int]) -> list[int]:
        calls.append(items)
        if len(calls) == 1:
            raise RuntimeError("the database is gone")
        return items

    batcher = Batcher(run, limit=8)
    failed = await asyncio.gather(batcher.submit(1), batcher.submit(2), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in failed)
    assert await batcher.submit(3) == 3


async def test_a_caller_that_gives_up_does_not_disturb_its_batch() -> None:
    gate = asyncio.Event()
    run = Recorder(gate)
    batcher = Batcher(run, limit=8)
    first = asyncio.ensure_future(batcher.submit(0))
    await run.running.wait()
    quitter = asyncio.ensure_future(batcher.submit(1))
    stayer = asyncio.ensure_future(batcher.submit(2))
    await asyncio.sleep(0)
    quitter.cancel()
    gate.set()
    assert await first == 0
    assert await stayer == 20
    with pytest.raises(asyncio.CancelledError):
        await quitter
    assert run.batches == [[0], [1, 2]]  # the item was still done (its caller left)


async def test_a_wrong_number_of_results_fails_the_batch() -> None:
    async def run(items: list[int]) -> list[int]:
        return items[:-1]

    batcher = Batcher(run, limit=8)
    results = await asyncio.gather(batcher.submit(1), batcher.submit(2), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)


def test_a_batch_holds_at_least_one_item() -> None:
    async def run(items: list[int]) -> list[int]:
        return items

    with pytest.raises(ValueError):
        Batcher(run, limit=0)
