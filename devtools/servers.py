"""The servers every system of the development stack shares: the Kafka broker and PostgreSQL,
each run by its script (scripts/kafka.sh, scripts/postgres.sh), which takes its port from the
registry unless KAFKA_PORT / PGPORT say else. `make run`, the bench and the broker-outage
test start and stop them through here, so all honour the same overrides."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
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
SCRIPTS = {"kafka": "kafka.sh", "postgres": "postgres.sh"}


def kafka(command: str) -> str:
    """`start`, `stop`, `status` or `bootstrap` (its host:port)."""
    return script(SCRIPTS["kafka"], command)


def postgres(*args: str) -> str:
    """`start`, `stop`, `url NAME` (an admin URL for SQLAlchemy), ..."""
    return script(SCRIPTS["postgres"], *args)


def is_running(name: str) -> bool:
    """Whether `kafka` or `postgres` answers (its script's `status`)."""
    done = subprocess.run(
        [str(ROOT / "scripts" / SCRIPTS[name]), "status"], capture_output=True, check=False
    )
    return done.returncode == 0


@contextmanager
def running(name: str, wanted: bool = True) -> Iterator[bool]:
    """`kafka` or `postgres` for the length of the block: started if it was not running, and
    then stopped again however the block ends (an error, Ctrl-C); one that was running already
    is left running. Yields whether this block started it."""
    if not wanted:
        yield False
        return
    start = not is_running(name)
    if start:
        script(SCRIPTS[name], "start")
    try:
        yield start
    finally:
        if start:
            script(SCRIPTS[name], "stop")
