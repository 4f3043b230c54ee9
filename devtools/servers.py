"""The servers every system of the development stack shares: the Kafka broker, PostgreSQL and
Keycloak (the identity provider), each run by its script (scripts/kafka.sh, postgres.sh,
keycloak.sh), which takes its port from the registry unless KAFKA_PORT / PGPORT /
KEYCLOAK_PORT say else. `make run`, the bench and the outage tests start and stop them through
here, so all honour the same overrides."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def script(name: str, *args: str) -> str:
    """Runs scripts/<name> and returns what it printed; its complaints are in the error."""
    done = subprocess.run(
        [str(ROOT / "scripts" / name), *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"scripts/{name} {' '.join(args)} failed:\n{done.stderr.strip()}")
    return done.stdout.strip()


# Each shared server and the script that runs it.
SCRIPTS = {"kafka": "kafka.sh", "postgres": "postgres.sh", "keycloak": "keycloak.sh"}


def kafka(command: str) -> str:
    """`start`, `stop`, `status` or `bootstrap` (its host:port)."""
    return script(SCRIPTS["kafka"], command)


def postgres(*args: str) -> str:
    """`start`, `stop`, `url NAME` (an admin URL for SQLAlchemy), ..."""
    return script(SCRIPTS["postgres"], *args)


def is_running(name: str) -> bool:
    """Whether the server answers (its script's `status`)."""
    done = subprocess.run(
        [str(ROOT / "scripts" / SCRIPTS[name]), "status"], capture_output=True, check=False
    )
    return done.returncode == 0


@contextmanager
def running(name: str, wanted: bool = True) -> Iterator[bool]:
    """One server for the length of the block (see `all_running`). Yields whether this block
    started it."""
    with all_running([name] if wanted else []) as started:
        yield bool(started.get(name))


@contextmanager
def all_running(names: list[str]) -> Iterator[dict[str, float]]:
    """The servers for the length of the block, those not running started side by side, and
    stopped again however the block ends (an error, Ctrl-C); one that was running already is
    left running. Yields the seconds each start took, by name, for those this block started."""
    with starting(names) as servers:
        servers.wait()
        yield servers.seconds


@dataclass
class Starting:
    """Servers being started side by side: `wait(name)` until one is up (its start's error
    raised), `seconds` what each start this block made took."""

    futures: dict[str, Future[None]]
    seconds: dict[str, float] = field(default_factory=dict)

    def wait(self, *names: str) -> None:
        for name in names or list(self.futures):
            if name in self.futures:
                self.futures[name].result()


@contextmanager
def starting(names: list[str]) -> Iterator[Starting]:
    """Like `all_running`, without waiting: the block goes on while the servers start (e.g.
    `make run` starts the services once the broker is up, while Keycloak still starts)."""
    wanted = [name for name in names if not is_running(name)]
    pool = ThreadPoolExecutor(max_workers=max(len(wanted), 1))
    servers = Starting({})

    def start(name: str) -> None:
        began = time.monotonic()
        script(SCRIPTS[name], "start")
        servers.seconds[name] = time.monotonic() - began

    servers.futures.update({name: pool.submit(start, name) for name in wanted})
    try:
        yield servers
    finally:
        pool.shutdown(wait=True)  # a start under way ends before its server is stopped
        for name in wanted:
            # Stopping one that never came up is harmless: its script finds nothing to stop.
            subprocess.run([str(ROOT / "scripts" / SCRIPTS[name]), "stop"], check=False)
