"""A fake of `yoga_common.uow.Transactions`: a "transaction" runs the use case against an
in-memory store, undoes its writes if it raises, and keeps the events it raised. With an `rng`
it yields to other tasks a random number of times before each transaction, so concurrent use
cases interleave between transactions as they would on a real database."""

from __future__ import annotations

import asyncio
import contextvars
import copy
import random
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Generic, TypeVar

S = TypeVar("S")
T = TypeVar("T")
JITTER = 4  # most yields before a transaction


async def jitter(rng: random.Random | None) -> None:
    if rng is not None:
        for _ in range(rng.randint(0, JITTER)):
            await asyncio.sleep(0)


class FakeUnitOfWork(Generic[S]):
    def __init__(self, store: S) -> None:
        self.store = store
        self.events: list[object] = []
        self.actions: list[Callable[[], None]] = []

    def emit(self, *events: object) -> None:
        self.events.extend(events)

    def after_commit(self, action: Callable[[], None]) -> None:
        self.actions.append(action)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        # The store's containers are copied; what they hold is immutable.
        saved = {k: copy.copy(v) for k, v in vars(self.store).items()}
        events, actions = len(self.events), len(self.actions)
        try:
            yield
        except BaseException:
            self.store.__dict__.update(saved)
            del self.events[events:]
            del self.actions[actions:]
            raise


class FakeTransactions(Generic[S]):
    """`store` keeps its state in plain attributes (copied to undo a failed transaction);
    the events of committed transactions collect in `events`."""

    def __init__(self, store: S, rng: random.Random | None = None) -> None:
        self.store = store
        self.rng = rng
        self.events: list[object] = []

    def run_sync(self, work: Callable[[FakeUnitOfWork[S]], T]) -> T:
        uow = FakeUnitOfWork(self.store)
        with uow.savepoint():
            result = work(uow)
        self.events.extend(uow.events)
        for action in uow.actions:
            action()
        return result

    async def run(self, work: Callable[[FakeUnitOfWork[S]], T]) -> T:
        await jitter(self.rng)
        return self.run_sync(work)

    def run_batch_sync(
        self,
        works: Sequence[Callable[[FakeUnitOfWork[S]], T]],
        contexts: Sequence[contextvars.Context] | None = None,
    ) -> list[T | Exception]:
        """Every work in one "transaction", each undone alone if it raises (a savepoint)."""
        results: list[T | Exception] = []
        done: list[FakeUnitOfWork[S]] = []
        for work in works:
            uow = FakeUnitOfWork(self.store)
            try:
                with uow.savepoint():
                    results.append(work(uow))
            except Exception as err:
                results.append(err)
                continue
            done.append(uow)
        for uow in done:
            self.events.extend(uow.events)
            for action in uow.actions:
                action()
        return results

    async def run_batch(
        self,
        works: Sequence[Callable[[FakeUnitOfWork[S]], T]],
        contexts: Sequence[contextvars.Context] | None = None,
    ) -> list[T | Exception]:
        await jitter(self.rng)
        return self.run_batch_sync(works, contexts)

    async def read(self, work: Callable[[S], T]) -> T:
        await jitter(self.rng)
        return work(self.store)
