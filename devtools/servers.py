"""The servers every system of the development stack shares: the Kafka broker and PostgreSQL,
each run by its script (scripts/kafka.sh, scripts/postgres.sh), which takes its port from the
registry unless KAFKA_PORT / PGPORT say else. `make run`, the bench and the broker-outage
test start and stop them through here, so all honour the same overrides."""

from __future__ import annotations

import subprocess
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


def kafka(command: str) -> str:
    """`start`, `stop`, `status` or `bootstrap` (its host:port)."""
    return script("kafka.sh", command)


def postgres(*args: str) -> str:
    """`start`, `stop`, `url NAME` (an admin URL for SQLAlchemy), ..."""
    return script("postgres.sh", *args)
