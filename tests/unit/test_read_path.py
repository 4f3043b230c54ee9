"""Per-call work of a read (issue 17): the tracing filter, the interceptor's handler built once
per method, SQLite reads on the event loop."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import grpc
from sqlalchemy import text

from yoga_common.db import Database
from yoga_common.interceptors import ServiceInterceptor
from yoga_common.telemetry import _traced


def test_probes_and_reflection_are_not_traced_everything_else_is() -> None:
    assert not _traced(SimpleNamespace(method="/grpc.health.v1.Health/Check"))
    assert not _traced(SimpleNamespace(method=b"/grpc.health.v1.Health/Watch"))
    assert not _traced(SimpleNamespace(method="/grpc.reflection.v1alpha.ServerReflection/Info"))
    assert _traced(SimpleNamespace(method="/yoga.yogaclass.v1.YogaClassService/GetClass"))
    assert _traced(SimpleNamespace(method=b"/yoga.reservation.v1.ReservationService/Get"))


async def test_the_guarded_handler_is_built_once_per_method() -> None:
    method = "/test.v1.Things/Get"
    interceptor = ServiceInterceptor(object(), {method: frozenset({"member"})})  # type: ignore[arg-type]

    async def inner(request: Any, context: Any) -> str:
        return "answer"

    handler = grpc.unary_unary_rpc_method_handler(inner)

    async def continuation(details: Any) -> Any:
        return handler

    def call() -> Any:
        return SimpleNamespace(method=method, invocation_metadata=())

    first = await interceptor.intercept_service(continuation, call())
    assert await interceptor.intercept_service(continuation, call()) is first
    assert first is not handler


async def test_sqlite_reads_run_on_the_loop_and_writes_on_the_threads(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}", threads=2)
    try:
        await db.run(lambda conn: conn.execute(text("CREATE TABLE t (x INTEGER)")))

        def where(conn: Any) -> str:
            conn.execute(text("SELECT 1"))
            return threading.current_thread().name

        assert await db.run(where, write=False) == threading.current_thread().name
        assert await db.run(where, write=True) != threading.current_thread().name
        # Another thread's loop reads through the threads: the loop's connection is one thread's.
        elsewhere = await asyncio.to_thread(asyncio.run, db.run(where, write=False))
        assert elsewhere.startswith("db")
    finally:
        db.close()


async def test_a_loop_read_does_not_wait_for_a_writer_holding_the_lock(tmp_path: Path) -> None:
    """WAL: a reader sees the last commit while a writer holds the write lock, so a read on
    the loop never waits for the threads' writers."""
    import sqlite3

    path = tmp_path / "x.db"
    db = Database(f"sqlite:///{path}", threads=2)
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        await db.run(lambda conn: conn.execute(text("CREATE TABLE t (x INTEGER)")))
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("INSERT INTO t VALUES (1)")

        def count(conn: Any) -> int:
            return int(conn.execute(text("SELECT count(*) FROM t")).scalar_one())

        assert await asyncio.wait_for(db.run(count, write=False), 10) == 0
        writer.execute("COMMIT")
        assert await db.run(count, write=False) == 1
    finally:
        writer.close()
        db.close()
