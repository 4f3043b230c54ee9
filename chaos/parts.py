"""The broker and PostgreSQL of a chaos run: instances of their own (scripts/kafka.sh and
scripts/postgres.sh with a folder and ports of their own), never the shared ones, because the
nemesis stops and restarts them. Every client reaches the broker through a proxy, so the broker
advertises the proxy's port (KAFKA_ADVERTISED_PORT)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from devtools.processes import free_port
from devtools.servers import ROOT


@dataclass
class Part:
    """One server run by its script with the environment `env`."""

    script: str
    env: dict[str, str]

    def run(self, *args: str) -> str:
        done = subprocess.run(
            [str(ROOT / "scripts" / self.script), *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"scripts/{self.script} {' '.join(args)}:\n{done.stderr.strip()}")
        return done.stdout.strip()

    def start(self) -> float:
        """Starts it and waits until it answers: the seconds it took."""
        began = time.monotonic()
        self.run("start")
        return time.monotonic() - began

    def stop(self) -> None:
        self.run("stop")

    def kill(self, pid_file: str) -> None:
        """SIGKILL to the server whose pid its script keeps in `pid_file` (under the folder
        its env names): a crash, nothing flushed or handed over. `start` brings it back."""
        pid = int(Path(pid_file).read_text().strip())
        os.kill(pid, signal.SIGKILL)
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


def broker(folder: Path, advertised_port: int) -> Part:
    port = free_port()
    return Part(
        "kafka.sh",
        {
            "KAFKA_DIR": str(folder / "kafka"),
            "KAFKA_PORT": str(port),
            "KAFKA_CONTROLLER_PORT": str(free_port()),
            "KAFKA_ADVERTISED_PORT": str(advertised_port),
        },
    )


def broker_pid_file(part: Part) -> str:
    return str(Path(part.env["KAFKA_DIR"]) / "kafka.pid")


def broker_port(part: Part) -> int:
    return int(part.env["KAFKA_PORT"])


def postgres(folder: Path) -> Part:
    # A short data path: the socket's path must stay under 107 bytes.
    return Part("postgres.sh", {"PGDATA_DIR": str(folder / "pg"), "PGPORT": str(free_port())})


def postgres_admin_url(part: Part) -> str:
    return part.run("url", "postgres")
