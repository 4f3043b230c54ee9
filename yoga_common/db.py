"""The database layer: one engine per service, transactions run on a small thread pool so the
asyncio event loop never blocks on I/O. A SQLite read is the exception: it runs on the loop
(a library call on a local file that waits for no writer in WAL; `Database._read_on_loop`).
PostgreSQL reads stay on the threads: they wait on the network.

SQLite: WAL, and every write transaction takes the write lock at BEGIN (`BEGIN IMMEDIATE`), so two
writers can never deadlock by upgrading read locks; a writer that finds the lock taken waits
(busy timeout) instead of failing with "database is locked".
PostgreSQL (`postgresql+psycopg://`): READ COMMITTED; invariants rest on conditional statements
and constraints, and the rare serialization failure or deadlock is retried."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    Connection,
    DateTime,
    Insert,
    Table,
    TypeDecorator,
    create_engine,
    event,
    literal_column,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, Engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from yoga_common.errors import unavailable
from yoga_common.telemetry import trace_engine

T = TypeVar("T")
log = logging.getLogger(__name__)

_WRITE = "yoga_write"
# Set on a connection by `events_written`; read once its transaction committed.
_EVENTS = "yoga_events_written"
_RETRYABLE_PG = {"40001", "40P01"}  # serialization failure, deadlock detected
_ATTEMPTS = 8


def is_transient(err: DBAPIError) -> bool:
    code = _sqlstate(err)
    if code in _RETRYABLE_PG:
        return True
    text = str(err.orig).lower()
    return isinstance(err, OperationalError) and ("locked" in text or "busy" in text)


# SQLSTATE classes of a database that cannot be reached: connection exceptions (08...),
# and a server shutting down, crashed or not yet accepting connections (57P01-57P03).
_UNAVAILABLE_PG = ("08", "57P")


def is_unavailable(err: BaseException) -> bool:
    """The database cannot be reached right now (down, restarting, the connection lost): the
    caller's work is not at fault and may succeed later unchanged. A connection psycopg could
    not open carries no SQLSTATE; SQLite's errors never say this (its "locked" is
    `is_transient`)."""
    if not isinstance(err, DBAPIError):
        return False
    if err.connection_invalidated:
        return True
    code = _sqlstate(err)
    if code:
        return str(code).startswith(_UNAVAILABLE_PG)
    return isinstance(err, OperationalError) and type(err.orig).__module__.startswith("psycopg")


def _sqlstate(err: DBAPIError) -> str | None:
    """PostgreSQL's SQLSTATE of the error (psycopg puts it on the error or its diagnostics)."""
    orig = err.orig
    code = getattr(orig, "sqlstate", None) or getattr(getattr(orig, "diag", None), "sqlstate", None)
    return str(code) if code else None


WAL_LIMIT_BYTES = 16 * 1024 * 1024


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so BEGIN is ours.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        # A checkpoint leaves the WAL file at its peak size unless told to cut it back.
        cur.execute(f"PRAGMA journal_size_limit={WAL_LIMIT_BYTES}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def make_engine(url: str, pool_size: int = 8) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            pool_size=pool_size,
            max_overflow=0,
        )
        _configure_sqlite(engine)
    else:
        engine = create_engine(url, pool_size=pool_size, max_overflow=4, pool_pre_ping=True)
    trace_engine(engine)
    return engine


class Database:
    def __init__(self, url: str, threads: int = 8) -> None:
        self.url = url
        # One connection more than threads: SQLite's reads on the event loop keep their own.
        self.engine = make_engine(url, pool_size=threads + 1)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="db")
        self._on_events: list[tuple[Callable[[], None], bool]] = []
        self._loop_reader: Connection | None = None
        self._loop_thread: int | None = None  # the one thread that reads on its loop

    def on_events_committed(self, callback: Callable[[], None], elsewhere_too: bool = True) -> None:
        """Calls `callback` (from the committing thread) after each transaction of `run_sync`
        that marked itself with `events_written` (an outbox row, an email to send): the relay
        or the mailer starts at once instead of at its next poll. With `elsewhere_too` False,
        only for this process's own commits (the callback that tells the other workers)."""
        self._on_events.append((callback, elsewhere_too))

    def events_committed(self, elsewhere: bool = False) -> None:
        """Runs the `on_events_committed` callbacks: after a commit that wrote events here,
        or, `elsewhere`, in another worker process of this service."""
        for callback, elsewhere_too in self._on_events:
            if elsewhere_too or not elsewhere:
                callback()

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn.execution_options(**{_WRITE: write})
            with conn.begin():
                yield conn

    def run_sync(self, work: Callable[[Connection], T], write: bool = True) -> T:
        """Runs `work` in one transaction, again from the start if the database asks for it."""
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                with self.transaction(write) as conn:
                    conn.info.pop(_EVENTS, None)
                    result = work(conn)
                    wrote_events = conn.info.pop(_EVENTS, False)
                if wrote_events:
                    self.events_committed()
                return result
            except DBAPIError as err:
                if not is_transient(err):
                    raise
                if attempt == _ATTEMPTS:
                    raise unavailable("DATABASE_BUSY", "the database is busy; retry") from err
                log.info("transient database error, retrying", extra={"attempt": attempt})
                time.sleep(random.uniform(0, 0.005 * 2**attempt))
        raise AssertionError("unreachable")

    async def in_thread(self, call: Callable[[], T]) -> T:
        """Runs `call` on one of the database's threads."""
        loop = asyncio.get_running_loop()
        # The caller's context goes along (the current span: database spans and outbox rows
        # join the request's trace); run_in_executor alone would drop it.
        context = contextvars.copy_context()
        return await loop.run_in_executor(self._pool, context.run, call)

    async def run(self, work: Callable[[Connection], T], write: bool = True) -> T:
        if not write and self.is_sqlite and self._loop_thread in (None, threading.get_ident()):
            try:
                return self._read_on_loop(work)
            except DBAPIError as err:
                if not is_transient(err):
                    raise
                # Busy (rare in WAL: a reader waits for nobody): the threads wait and retry.
        return await self.in_thread(lambda: self.run_sync(work, write))

    def _read_on_loop(self, work: Callable[[Connection], T]) -> T:
        """A SQLite read, on the calling (event loop) thread. Its statements are library calls
        on a local file that, in WAL mode, wait for no writer: a short read costs less than the
        two thread switches of the pool (the profile of GetClass, BENCHMARKS.md). Its own
        connection, outside the threads' share of the pool, so a loop never waits for a
        connection held by a writer queued on the write lock; and no busy wait: a read the
        database cannot start at once goes to the threads instead (see `run`)."""
        conn = self._loop_reader
        if conn is None or conn.closed:
            self._loop_thread = threading.get_ident()
            conn = self.engine.connect()
            conn.execution_options(**{_WRITE: False})
            driver = conn.connection.driver_connection
            assert driver is not None
            driver.execute("PRAGMA busy_timeout=0")
            self._loop_reader = conn
        with conn.begin():
            return work(conn)

    def close(self) -> None:
        if self._loop_reader is not None:
            self._loop_reader.close()
        self._pool.shutdown(wait=True)
        self.engine.dispose()


def insert_new(conn: Connection, table: Table, values: Mapping[str, Any]) -> bool:
    """Inserts a row unless a unique key holds one like it already (an idempotency key, a
    claim recorded before): False then, with the rest of the transaction intact. One
    statement (ON CONFLICT DO NOTHING); a savepoint around a plain INSERT cost two more, two
    round trips on PostgreSQL."""
    # RETURNING, not rowcount: psycopg reports -1 rows for an INSERT ... ON CONFLICT here.
    return conn.execute(_insert_or_skip(table, conn.dialect.name), values).first() is not None


@functools.cache
def _insert_or_skip(table: Table, dialect: str) -> Insert:
    build = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return build(table).on_conflict_do_nothing().returning(literal_column("1"))


def events_written(conn: Connection) -> None:
    """Marks the connection's transaction as one that wrote events (see on_events_committed)."""
    conn.info[_EVENTS] = True


class UtcDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC (the same on SQLite and PostgreSQL), read back as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None
