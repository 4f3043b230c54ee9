"""Child processes of the development stack: a service waited on until its health service
answers SERVING, any other `python -m` process (the SMTP sink), their logs and CPU time; free
ports and throwaway databases."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import grpc
import psycopg
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy.engine import make_url

from yoga_common import system

CLK_TCK = os.sysconf("SC_CLK_TCK")


# The registry's fixed ports lie in Linux's ephemeral range: a free port handed to a test or
# the bench must not be one that `make run` or the shared servers are about to listen on.
RESERVED = frozenset(
    {system.GATEWAY_PORT, system.WEB_PORT, system.SMTP_SINK_PORT, system.POSTGRES_PORT}
    | {system.KAFKA_PORT, system.KAFKA_CONTROLLER_PORT}
    | {s.port for s in system.SERVICES.values()}
    | {s.metrics_port for s in system.SERVICES.values()}
)


def free_port() -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in RESERVED:
            return port


def new_database(backend: str, folder: Path, name: str, pg_admin_url: str = "") -> str:
    """The URL of a new, empty database of its own: a SQLite file in `folder`, or a PostgreSQL
    database created through `pg_admin_url` (with a random suffix)."""
    if backend == "sqlite":
        return f"sqlite:///{folder}/{name}.db"
    admin = make_url(pg_admin_url)
    db = f"{name}_{uuid.uuid4().hex[:10]}"
    plain = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    return admin.set(database=db).render_as_string(hide_password=False)


def start_or_undo(start: Callable[[], object], stop: Callable[[], object]) -> None:
    """Runs `start`; when it fails (or is interrupted), `stop` takes down what it had started."""
    try:
        start()
    except BaseException:
        stop()
        raise


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    """Waits until something accepts connections on 127.0.0.1:`port`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a running process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


LOG_MAX_BYTES = 10 * 1024 * 1024


def children(pid: int) -> set[int]:
    """The processes whose parent is `pid` (a service's workers), from /proc."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.add(int(entry.name))
    return found


def rotate(path: Path, max_bytes: int | None = None, keep: int = 3) -> None:
    """Before a process starts appending to `path`: a log past `max_bytes` becomes `.1`, the
    older ones shift (`.1` -> `.2`, ...), and only `keep` of them stay."""
    limit = LOG_MAX_BYTES if max_bytes is None else max_bytes
    if not path.exists() or path.stat().st_size <= limit:
        return
    for n in range(keep, 0, -1):
        older = path.with_name(f"{path.name}.{n}")
        if n == keep:
            older.unlink(missing_ok=True)
        elif older.exists():
            older.rename(path.with_name(f"{path.name}.{n + 1}"))
    path.rename(path.with_name(f"{path.name}.1"))


def log_to(path: Path, stream: IO[bytes] | None) -> None:
    """Appends a child's output (`stream`, its stdout pipe) to `path` from a thread of this
    process, rotating the file whenever it passes `rotate`'s size: a long `make run` must not
    grow one log without end (the SMTP sink's reached 12 MB). Ends with the child's output."""
    if stream is None:
        raise ValueError("the child's stdout is not a pipe")

    def copy() -> None:
        rotate(path)
        out = path.open("ab")
        try:
            for chunk in iter(lambda: stream.read1(65536), b""):  # type: ignore[attr-defined]
                if out.tell() > LOG_MAX_BYTES:
                    out.close()
                    rotate(path)
                    out = path.open("ab")
                out.write(chunk)
                out.flush()
        finally:
            out.close()
            stream.close()

    threading.Thread(target=copy, name=f"log {path.name}", daemon=True).start()


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


class Child:
    """What every child process of the stack shares once started: its pid, whether it ended,
    a stop with a deadline, and the end of its log. Subclasses set `process` and `log_path`."""

    process: subprocess.Popen[bytes] | None
    log_path: Path

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def exited(self) -> bool:
        """True once a started process has ended by itself or been stopped."""
        return self.process is not None and self.process.poll() is not None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        """Sends `sig` (SIGKILL for a crash), waits, kills after `timeout`: the exit code."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def tail(self, lines: int = 30) -> str:
        return tail(self.log_path, lines)


class Listening:
    """A child that serves HTTP on 127.0.0.1:`listen_port` (Envoy, nginx)."""

    listen_port: int

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.listen_port}"

    @property
    def url(self) -> str:
        return f"http://{self.target}"


@dataclass
class ChildProcess(Child):
    """`python -m <module> <args>` with the environment plus `env`, its output appended to
    `log_path`. May be stopped and started again (with `env` changed meanwhile)."""

    module: str
    env: dict[str, str]
    log_path: Path
    args: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module, *self.args],
            env={**os.environ, **self.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log_to(self.log_path, self.process.stdout)


@dataclass
class ServiceProcess(ChildProcess):
    """A service (`python -m yogaclass_svc`) serving gRPC on 127.0.0.1:`port`."""

    port: int = 0

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        with grpc.insecure_channel(self.target) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                if self.exited():
                    raise RuntimeError(f"{self.module} exited; see {self.log_path}:\n{self.tail()}")
                try:
                    answer = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                    if answer.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass
                time.sleep(0.1)
        raise RuntimeError(f"{self.module} not healthy after {timeout}s:\n{self.tail()}")
