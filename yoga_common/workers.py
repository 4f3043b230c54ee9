"""More than one process per service (`<PREFIX>_WORKERS`, default 1): Python runs one thread of
Python at a time, so a service uses more than one core by running several processes. They
share the gRPC port the way grpc's multiprocessing example does (SO_REUSEPORT: the kernel
hands each new connection to one of them), and each is forked before any gRPC object exists
(gRPC's core does not survive a fork of a process that has one).

The parent supervises: it forks the workers, starts a crashed one again (with a backoff when
it keeps crashing), forwards SIGTERM/SIGINT so each drains as a single process does, and exits
0 when all of them stopped cleanly. A worker dies with its parent (PR_SET_PDEATHSIG), as every
process of a container dies with its first.

Each background job (relay, consumers, recovery, mailer, reminders, sweeps, retention) runs in
one worker: they are dealt out in turn, job k to worker k mod N, so with two workers
notification_svc's consumer and mailer each have a process (and an interpreter lock) of their
own. The jobs are safe with several replicas anyway, but one copy per service instance costs
less CPU, no extra consumer-group members and rebalances, and no second SQLite relay reading
the rows the first is sending. A worker that commits events (an outbox row, an email to send)
tells the others through pipes the parent made, one a worker, so the relay and the mailer
start at once wherever they run, as they do for their own process's commits.

SO_REUSEPORT spreads connections, not calls: a caller that keeps one HTTP/2 connection (a gRPC
channel, an Envoy upstream) reaches one worker for that connection's life."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import select
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

_PR_SET_PDEATHSIG = 1
# A worker that lived this long before crashing is started again at once, not after a backoff.
_STABLE_SECONDS = 30.0
_MAX_BACKOFF_SECONDS = 30.0


@dataclass(frozen=True)
class Worker:
    """This process's place among its service's workers (index 0 of 1 when there is one)."""

    index: int = 0
    count: int = 1
    # One pipe a worker, carrying "events committed" to it from the others: the read ends,
    # then the write ends, by worker index (empty: a single process).
    wake_reads: tuple[int, ...] = ()
    wake_writes: tuple[int, ...] = ()

    def jobs(self, tasks: Sequence[T]) -> list[T]:
        """This worker's share of a service's background jobs: every count-th, from its index."""
        return list(tasks[self.index :: self.count])

    @property
    def wake_read(self) -> int:
        return self.wake_reads[self.index]

    @property
    def shares_port(self) -> bool:
        return self.count > 1

    def metrics_port(self, base: int) -> int:
        """Each worker's Prometheus endpoint: `base` + its index (0: none)."""
        return base + self.index if base else 0

    def tell_others(self) -> None:
        """From any thread: wakes the relay and the mailer in the other workers. A full pipe
        already holds a wake, so a write that would block is dropped."""
        for index, fd in enumerate(self.wake_writes):
            if index != self.index:
                with contextlib.suppress(BlockingIOError):
                    os.write(fd, b"\0")

    def drain_wakes(self) -> bool:
        """Reads every wake pending for this worker; True if there was one."""
        woke = False
        while True:
            try:
                if not os.read(self.wake_read, 4096):
                    return woke
                woke = True
            except BlockingIOError:
                return woke


_current = Worker()


def current() -> Worker:
    return _current


def check_port(host: str, port: int) -> int:
    """The port the workers will share (a free one if `port` is 0). Fails, as a single process
    does, when something listens there already: the workers' own SO_REUSEPORT binds would
    otherwise join another process of the same user on that port without a word."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host.strip("[]") or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    with socket.socket(family, kind, proto) as probe:
        # As gRPC binds: connections of an earlier run in TIME_WAIT do not count as in use.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as err:
            raise RuntimeError(f"cannot listen on {host}:{port}: {err}") from None
        return int(probe.getsockname()[1])


def supervise(count: int, run: Callable[[Worker], int], stop_seconds: float) -> int:
    """Forks `count` workers that each call `run(worker)` and exit with what it returns, and
    watches them until a SIGTERM or SIGINT has stopped them all. Returns 0 when every worker
    stopped cleanly (or was stopped by that signal), 1 otherwise; a worker still running
    `stop_seconds` after the signal is killed."""
    pipes = [os.pipe() for _ in range(count)]
    for fd in (fd for pipe in pipes for fd in pipe):
        os.set_blocking(fd, False)
    wake_reads = tuple(read for read, _ in pipes)
    wake_writes = tuple(write for _, write in pipes)
    signals_read, signals_write = os.pipe()
    os.set_blocking(signals_read, False)
    os.set_blocking(signals_write, False)
    watched = (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT)
    for sig in watched:
        signal.signal(sig, lambda *_: None)  # the byte on the wakeup pipe is what counts
    signal.set_wakeup_fd(signals_write, warn_on_full_buffer=False)
    parent = os.getpid()

    def fork(index: int) -> int:
        worker = Worker(index, count, wake_reads, wake_writes)
        pid = os.fork()
        if pid == 0:
            _child(worker, run, parent, (signals_read, signals_write))
        log.info("worker started", extra={"worker": index, "pid": pid})
        return pid

    running: dict[int, tuple[int, float]] = {}  # pid -> (index, started)
    for index in range(count):
        running[fork(index)] = (index, time.monotonic())
    crashes = [0] * count
    due: dict[int, float] = {}  # index -> when to start it again
    stopping_since: float | None = None
    clean = True
    while running or (due and stopping_since is None):
        now = time.monotonic()
        waits = [*due.values()]
        if stopping_since is not None:
            waits.append(stopping_since + stop_seconds)
        timeout = max(0.0, min(waits) - now) if waits else None
        select.select([signals_read], [], [], timeout)
        received = b""
        while True:
            try:
                received += os.read(signals_read, 256)
            except BlockingIOError:
                break
        if stopping_since is None and ({signal.SIGTERM, signal.SIGINT} & set(received)):
            stopping_since = time.monotonic()
            due.clear()
            log.info("stopping: every worker drains", extra={"workers": len(running)})
            for pid in running:
                _signal(pid, signal.SIGTERM)
        while running:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                running.clear()
                break
            if pid == 0:
                break
            if pid not in running:
                continue
            index, started = running.pop(pid)
            code = os.waitstatus_to_exitcode(status)
            if stopping_since is not None:
                if code not in (0, -signal.SIGTERM, -signal.SIGINT):
                    clean = False
                    log.warning("worker stopped badly", extra={"worker": index, "code": code})
                continue
            lived = time.monotonic() - started
            crashes[index] = 1 if lived >= _STABLE_SECONDS else crashes[index] + 1
            delay = 0.0 if crashes[index] == 1 else min(2.0 ** crashes[index], _MAX_BACKOFF_SECONDS)
            log.error(
                "worker ended; starting it again",
                extra={"worker": index, "pid": pid, "code": code, "after_seconds": delay},
            )
            due[index] = time.monotonic() + delay
        now = time.monotonic()
        if stopping_since is not None and running and now >= stopping_since + stop_seconds:
            log.warning("workers still running; killed", extra={"workers": len(running)})
            clean = False
            for pid in running:
                _signal(pid, signal.SIGKILL)
            stopping_since = now + 3600.0  # killed: only reaping is left
        if stopping_since is None:
            for index, when in list(due.items()):
                if when <= now:
                    del due[index]
                    running[fork(index)] = (index, time.monotonic())
    signal.set_wakeup_fd(-1)
    log.info("stopped", extra={"clean": clean})
    return 0 if clean else 1


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _child(
    worker: Worker, run: Callable[[Worker], int], parent: int, inherited: tuple[int, ...]
) -> None:
    """The forked worker's whole life: it never returns into the parent's loop."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
        for fd in inherited:
            os.close(fd)
        _die_with(parent)
        global _current
        _current = worker
        code = run(worker)
    except SystemExit as stop:
        code = 0 if stop.code is None else stop.code if isinstance(stop.code, int) else 1
    except BaseException:
        log.exception("worker failed", extra={"worker": worker.index})
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _die_with(parent: int) -> None:
    """SIGKILL when the parent dies, as the processes of a container die with its first; a
    parent gone before this call is seen as a new parent id."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)
