"""Group commit for asyncio callers: concurrent submissions share one run of a batch function.

A `Batcher` keeps a queue of submissions. When nothing is running, the first submission starts
a batch at once (no timer: a lone call waits for nobody, so latency at low load does not
grow). Submissions that arrive while a batch runs wait for it and form the next batch, up to
`limit` items; the rest wait for the one after. So the batch size follows the load by itself:
one item when idle, many when a burst queues behind a running batch.

The batch function answers each item on its own, in order: a result, or the exception that
item's caller gets; one item's failure is never its neighbours'. If the batch function itself
raises, every item of that batch gets the exception."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

I = TypeVar("I")  # noqa: E741 - the item, as T is the result elsewhere
R = TypeVar("R")

log = logging.getLogger(__name__)

BatchFunction = Callable[[list[I]], Awaitable[Sequence[R | BaseException]]]


class Batcher(Generic[I, R]):
    def __init__(self, run: BatchFunction[I, R], limit: int = 64, name: str = "batch") -> None:
        if limit < 1:
            raise ValueError("a batch holds at least one item")
        self._run = run
        self._limit = limit
        self._name = name
        self._queue: list[tuple[I, asyncio.Future[R]]] = []
        self._task: asyncio.Task[None] | None = None

    @property
    def waiting(self) -> int:
        """Submissions not yet in a running batch."""
        return len(self._queue)

    async def submit(self, item: I) -> R:
        """The item's result, from the batch it ends up in (or its exception, raised)."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._task is None:
            self._task = asyncio.create_task(self._drain(), name=self._name)
        return await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[: self._limit], self._queue[self._limit :]
                await self._one(batch)
        except BaseException as err:
            # Cancelled (shutting down) or worse: nobody may wait forever for a batch that
            # will not run.
            queued, self._queue = self._queue, []
            _settle_all(queued, err)
            raise
        finally:
            self._task = None

    async def _one(self, batch: list[tuple[I, asyncio.Future[R]]]) -> None:
        try:
            results = await self._run([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{self._name}: {len(results)} results for {len(batch)} items")
        except Exception as err:
            results = [err] * len(batch)
        except BaseException as err:
            _settle_all(batch, err)
            raise
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():  # its caller gave up (cancelled); the item was still done
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)


def _settle_all(waiting: Sequence[tuple[object, asyncio.Future[R]]], err: BaseException) -> None:
    for _, future in waiting:
        if future.done():
            continue
        if isinstance(err, asyncio.CancelledError):
            future.cancel()
        else:
            future.set_exception(err)
