"""The unit of work: every transaction of a service goes through here (cosmicpython's pattern,
shaped for a thread pool). A use case is a plain function of a `UnitOfWork`; `Transactions.run`
opens the transaction on a database thread, hands the use case the service's store bound to it,
collects the domain events the use case raised, writes them to the outbox in the same
transaction, and only after the commit runs what waits for it (metrics, logs) and wakes the
relay. A transaction the database asks to retry is run again from the start, events and
after-commit actions included, so nothing of a failed attempt survives.

Several commands can share one transaction (group commit, `Transactions.run_batch`), each with
its own unit of work; one that fails is undone alone, its events and after-commit actions with
it, and its neighbours still commit (the batch is run again with a savepoint per item)."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Generic, Protocol, TypeVar

from google.protobuf.message import Message
from sqlalchemy import Connection, Table
from sqlalchemy.exc import DBAPIError

from yoga_common.db import (
    Database,
    is_transient,  # one rule for "try again"
)
from yoga_common.errors import aborted
from yoga_common.outbox import add_event

S = TypeVar("S")
S_co = TypeVar("S_co", covariant=True)
T = TypeVar("T")

# How often a change overtaken by a concurrent one (its conditional statement matched no row)
# is decided again on fresh data before the caller is told to retry.
RACE_ATTEMPTS = 8

# A domain event -> (the aggregate id it is keyed by, the protobuf message published).
Encoder = Callable[[Any], tuple[str, Message]]


class Unit(Protocol[S_co]):
    """What a use case sees of its transaction (the real one below, a fake in unit tests)."""

    @property
    def store(self) -> S_co: ...

    def emit(self, *events: object) -> None: ...

    def after_commit(self, action: Callable[[], None]) -> None: ...

    def savepoint(self) -> Any: ...


class Outbox:
    """A producing service's outbox: its table, its topic, and how its domain events become
    protobuf messages (the domain knows nothing of protobuf)."""

    def __init__(self, table: Table, topic: str, encode: Encoder) -> None:
        self.table = table
        self.topic = topic
        self._encode = encode

    def write(self, conn: Connection, events: list[object]) -> None:
        for event in events:
            key, message = self._encode(event)
            add_event(conn, self.table, self.topic, key, message)


class UnitOfWork(Generic[S]):
    def __init__(self, conn: Connection, store: S, outbox: Outbox | None) -> None:
        self.conn = conn
        self._store = store
        self._outbox = outbox
        self.events: list[object] = []
        self.actions: list[Callable[[], None]] = []

    @property
    def store(self) -> S:
        return self._store

    def emit(self, *events: object) -> None:
        if events and self._outbox is None:
            raise TypeError("this service publishes no events: it has no outbox")
        self.events.extend(events)

    def after_commit(self, action: Callable[[], None]) -> None:
        self.actions.append(action)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        events, actions = len(self.events), len(self.actions)
        try:
            with self.conn.begin_nested():
                yield
        except BaseException:
            del self.events[events:]
            del self.actions[actions:]
            raise

    def flush(self) -> None:
        """Writes the collected events to the outbox (inside the transaction)."""
        if self._outbox is not None and self.events:
            self._outbox.write(self.conn, self.events)


class Transactions(Generic[S]):
    """Opens units of work on one service's database. `store` binds the service's store to
    a connection; `outbox` is None for a service that publishes nothing."""

    def __init__(
        self, db: Database, store: Callable[[Connection], S], outbox: Outbox | None = None
    ) -> None:
        self.db = db
        self._store = store
        self._outbox = outbox

    def run_sync(self, work: Callable[[UnitOfWork[S]], T], write: bool = True) -> T:
        """Runs `work` in one transaction (from a thread that may block)."""
        attempt: list[UnitOfWork[S]] = []

        def transaction(conn: Connection) -> T:
            uow = UnitOfWork(conn, self._store(conn), self._outbox)
            attempt[:] = [uow]
            result = work(uow)
            uow.flush()
            return result

        result = self.db.run_sync(transaction, write)
        for action in attempt[0].actions:
            action()
        return result

    async def run(self, work: Callable[[UnitOfWork[S]], T]) -> T:
        """Runs `work` in one write transaction on a database thread."""
        return await self.db.in_thread(lambda: self.run_sync(work))

    def run_batch_sync(
        self,
        works: Sequence[Callable[[UnitOfWork[S]], T]],
        contexts: Sequence[contextvars.Context] | None = None,
    ) -> list[T | Exception]:
        """Runs every one of `works` in ONE transaction (group commit), each with its own unit
        of work: a work that raises is undone alone (its rows, its events, its after-commit
        actions: the batch runs again with a savepoint per item) and its exception is its
        result; its neighbours commit. A transient database error (a deadlock, a busy
        database) is no item's fault: the whole batch runs again from the start, as
        `run_sync` does.
        `contexts[i]` (if given) is the context works[i] runs in, so its outbox rows and logs
        carry its own request's trace, not the batch's."""
        if len(works) == 1:
            # Alone (the usual case at low load): its transaction is its savepoint, so it costs
            # no more statements than `run_sync`.
            alone = works[0]
            try:
                if contexts is not None:
                    return [contexts[0].run(self.run_sync, alone)]
                return [self.run_sync(alone)]
            except Exception as err:
                return [err]
        attempt: list[tuple[contextvars.Context | None, UnitOfWork[S]]] = []

        def transaction(conn: Connection, guarded: bool) -> list[T | Exception]:
            store = self._store(conn)
            attempt.clear()
            results: list[T | Exception] = []
            for n, work in enumerate(works):
                uow = UnitOfWork(conn, store, self._outbox)
                context = contexts[n] if contexts is not None else None
                step = _in_savepoint if guarded else _plain
                try:
                    if context is not None:
                        results.append(context.run(step, uow, work))
                    else:
                        results.append(step(uow, work))
                except DBAPIError as err:
                    if is_transient(err):
                        raise  # the whole batch again: the database lost it, not the item
                    if not guarded:
                        raise _ItemFailed from err
                    results.append(err)
                    continue
                except Exception as err:
                    if not guarded:
                        raise _ItemFailed from err
                    results.append(err)
                    continue
                attempt.append((context, uow))
            return results

        # Optimistic first: every item succeeds in nearly every batch, and a savepoint costs
        # two statements (two round trips on PostgreSQL) per item. Only when an item fails is
        # the batch undone and run again with a savepoint per item, so the failure is that
        # item's alone.
        try:
            results = self.db.run_sync(lambda conn: transaction(conn, guarded=False))
        except _ItemFailed:
            results = self.db.run_sync(lambda conn: transaction(conn, guarded=True))
        for context, uow in attempt:
            for action in uow.actions:
                if context is not None:
                    context.run(action)
                else:
                    action()
        return results

    async def run_batch(
        self,
        works: Sequence[Callable[[UnitOfWork[S]], T]],
        contexts: Sequence[contextvars.Context] | None = None,
    ) -> list[T | Exception]:
        """`run_batch_sync` on a database thread."""
        return await self.db.in_thread(lambda: self.run_batch_sync(works, contexts))

    async def read(self, work: Callable[[S], T]) -> T:
        """A read-only transaction: `work` gets the store only."""
        return await self.db.run(lambda conn: work(self._store(conn)), write=False)


class _ItemFailed(Exception):
    """An item of a batch run without savepoints failed: the batch runs again with them."""


def _plain(uow: UnitOfWork[S], work: Callable[[UnitOfWork[S]], T]) -> T:
    """One item of a batch that shares the batch's fate (the optimistic first pass)."""
    result = work(uow)
    uow.flush()
    return result


def _in_savepoint(uow: UnitOfWork[S], work: Callable[[UnitOfWork[S]], T]) -> T:
    """One item of a batch: its work and its outbox rows, undone together if it raises."""
    with uow.conn.begin_nested():
        result = work(uow)
        uow.flush()
    return result


def races(what: str, key: str) -> Iterator[int]:
    """The attempts of a read-decide-write step whose write is conditional on what it read:
    `for _ in races(...)`, `return` once the write took; a bounded loop, never recursion."""
    yield from range(RACE_ATTEMPTS)
    raise aborted("CONCURRENT_CHANGE", f"{what} {key!r} kept changing; retry", id=key)
