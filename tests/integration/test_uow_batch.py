"""Transactions.run_batch (yoga_common.uow) on real SQLite and PostgreSQL: several units of work
in one transaction. An item that raises is undone alone (its rows, its outbox rows, its
after-commit actions: the batch runs again with a savepoint per item) and its exception is its
result; a transient database error runs the whole batch again, so nothing of the failed
attempt survives. A batch in which every item succeeds makes no savepoint at all."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from google.protobuf.wrappers_pb2 import StringValue
from sqlalchemy import Column, Connection, MetaData, String, Table, event, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError

from tests.integration.conftest import BACKENDS, new_database
from yoga_common.db import Database, insert_new
from yoga_common.outbox import outbox_table
from yoga_common.uow import Outbox, Transactions, UnitOfWork

metadata = MetaData()
items = Table("items", metadata, Column("name", String(20), primary_key=True))
outbox = outbox_table(metadata)


class Store:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, name: str) -> None:
        self.conn.execute(insert(items).values(name=name))

    def names(self) -> list[str]:
        return sorted(self.conn.execute(select(items.c.name)).scalars())


def encode(event: object) -> tuple[str, StringValue]:
    return str(event), StringValue(value=str(event))


@pytest.fixture(params=BACKENDS)
def tx(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Transactions[Store]]:
    db = Database(new_database(request.param, tmp_path, "uow_batch"), threads=2)
    metadata.create_all(db.engine)
    try:
        yield Transactions(db, Store, Outbox(outbox, "t.items", encode))
    finally:
        db.close()


def written(tx: Transactions[Store]) -> tuple[list[str], list[str]]:
    with tx.db.engine.connect() as conn:
        rows = sorted(conn.execute(select(items.c.name)).scalars())
        keys = sorted(conn.execute(select(outbox.c.event_key)).scalars())
    return rows, keys


Work = UnitOfWork[Store]


def adds(name: str, done: list[str]) -> Callable[[Work], str]:
    def work(uow: Work) -> str:
        uow.store.add(name)
        uow.emit(f"added {name}")
        uow.after_commit(lambda: done.append(name))
        return name

    return work


def adds_then_fails(name: str, done: list[str]) -> Callable[[Work], str]:
    def work(uow: Work) -> str:
        uow.store.add(name)
        uow.emit(f"added {name}")
        uow.after_commit(lambda: done.append(name))
        raise ValueError(f"{name} refused")

    return work


async def test_each_item_commits_or_is_undone_alone(tx: Transactions[Store]) -> None:
    done: list[str] = []
    results = await tx.run_batch(
        [
            adds("a", done),
            adds_then_fails("b", done),
            adds("a", done),  # the same key again: a constraint
            adds("c", done),
        ]
    )
    assert results[0] == "a" and results[3] == "c"
    assert isinstance(results[1], ValueError)
    assert isinstance(results[2], IntegrityError)
    # The refused items left no row, no outbox row, no after-commit action.
    assert written(tx) == (["a", "c"], ["added a", "added c"])
    assert done == ["a", "c"]


async def test_a_transient_error_runs_the_whole_batch_again(tx: Transactions[Store]) -> None:
    done: list[str] = []
    attempts: list[int] = []

    def flaky(uow: Work) -> str:
        uow.store.add("y")
        attempts.append(1)
        if len(attempts) == 1:
            raise OperationalError("UPDATE", {}, Exception("database is locked"))
        return "y"

    results = await tx.run_batch([adds("x", done), flaky, adds("z", done)])
    assert results == ["x", "y", "z"]
    assert len(attempts) == 2
    # The first attempt's rows, events and actions are gone: each once.
    assert written(tx) == (["x", "y", "z"], ["added x", "added z"])
    assert done == ["x", "z"]


async def test_each_item_runs_in_its_own_context(tx: Transactions[Store]) -> None:
    request: contextvars.ContextVar[str] = contextvars.ContextVar("request", default="none")
    seen: list[str] = []

    def work(uow: Work) -> str:
        uow.after_commit(lambda: seen.append(f"after {request.get()}"))
        return request.get()

    contexts = []
    for name in ("r1", "r2"):
        request.set(name)
        contexts.append(contextvars.copy_context())
    request.set("batch")
    assert await tx.run_batch([work, work], contexts) == ["r1", "r2"]
    assert seen == ["after r1", "after r2"]


async def test_a_lone_item_is_its_own_transaction(tx: Transactions[Store]) -> None:
    done: list[str] = []
    failed = await tx.run_batch([adds_then_fails("b", done)])
    assert isinstance(failed[0], ValueError)
    assert await tx.run_batch([adds("a", done)]) == ["a"]
    assert written(tx) == (["a"], ["added a"])
    assert done == ["a"]


def statements(tx: Transactions[Store]) -> list[str]:
    """Every statement the database is sent from now on, upper-cased."""
    sent: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        sent.append(statement.upper())

    event.listen(tx.db.engine, "before_cursor_execute", record)
    return sent


async def test_a_batch_that_succeeds_makes_no_savepoint(tx: Transactions[Store]) -> None:
    done: list[str] = []
    sent = statements(tx)
    assert await tx.run_batch([adds(name, done) for name in "abc"]) == ["a", "b", "c"]
    assert written(tx)[0] == ["a", "b", "c"]
    assert not [s for s in sent if "SAVEPOINT" in s]
    # One item failing: the batch again, now with a savepoint per item.
    sent.clear()
    results = await tx.run_batch([adds("d", done), adds_then_fails("e", done), adds("f", done)])
    assert results[0] == "d" and results[2] == "f" and isinstance(results[1], ValueError)
    assert written(tx)[0] == ["a", "b", "c", "d", "f"]
    assert len([s for s in sent if s.startswith("SAVEPOINT")]) == 3


async def test_insert_new_skips_a_duplicate_in_one_statement(tx: Transactions[Store]) -> None:
    sent = statements(tx)

    def twice(uow: Work) -> tuple[bool, bool]:
        first = insert_new(uow.conn, items, {"name": "k"})
        again = insert_new(uow.conn, items, {"name": "k"})
        uow.store.add("after")  # the transaction is intact after the refusal
        return first, again

    assert await tx.run(twice) == (True, False)
    assert written(tx)[0] == ["after", "k"]
    inserts = [s for s in sent if s.startswith("INSERT")]
    assert len(inserts) == 3 and not [s for s in sent if "SAVEPOINT" in s]
