"""Where the services run, as the nemesis and the checker see it: an interface, so the same
nemesis and checker drive the services as host processes (here, `ProcessRuntime`, on
devtools.stack) or as containers (a runtime of the container work, issue 18 §1). The broker,
PostgreSQL and the proxies are the harness's own (chaos/parts.py, chaos/toxiproxy.py)."""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from devtools.processes import free_port
from devtools.stack import Stack
from yoga_common import system
from yoga_common.settings import AuthSettings, KafkaSettings

HEALTHY_WITHIN = 120.0


@dataclass(frozen=True)
class Wiring:
    """What the harness decided before any service starts: the broker (through its proxy), the
    identity provider, the database, and how to put a proxy the nemesis can cut in front of a
    yogaclass_svc replica (`link(name, port)`: the address reservation_svc calls instead)."""

    link: Callable[[str, int], str]
    kafka: KafkaSettings
    auth: AuthSettings
    backend: str
    pg_admin_url: str = ""
    # Settings of one service on top of the wiring (tuning for a short run).
    env: dict[str, dict[str, str]] = field(default_factory=dict)


class Runtime(Protocol):
    """The services of one system under test."""

    def start(self) -> None:
        """Starts every service and waits until each answers SERVING."""

    def stop(self) -> None: ...

    def names(self) -> tuple[str, ...]: ...

    def target(self, name: str) -> str:
        """The service's gRPC address, for the workload's clients."""

    def database_url(self, name: str) -> str:
        """The service's database, for the checker."""

    def kill(self, name: str) -> None:
        """SIGKILL: a crash, nothing drained."""

    def revive(self, name: str) -> None:
        """Starts a killed service again with the same settings and waits until it serves."""

    def running(self, name: str) -> bool: ...

    def smtp_folder(self) -> Path | None:
        """Where the SMTP sink keeps what the services mailed, if this runtime runs one."""


# Makes the runtime of one run: its folder, the harness's wiring.
RuntimeFactory = Callable[[Path, Wiring], Runtime]


@dataclass
class ProcessRuntime:
    """The four services as host processes (devtools.stack), each with its own database, and
    the project's SMTP sink."""

    folder: Path
    wiring: Wiring
    stack: Stack = field(init=False)

    def __post_init__(self) -> None:
        w = self.wiring
        env = {name: dict(values) for name, values in w.env.items()}
        port = free_port()
        env.setdefault("reservation", {})["RESERVATION_YOGACLASS_TARGET"] = w.link(
            "yogaclass", port
        )
        self.stack = Stack(
            self.folder,
            w.auth,
            w.kafka,
            backend=w.backend,
            pg_admin_url=w.pg_admin_url,
            database_prefix="chaos_",
            ports={"yogaclass": port},
            smtp_sink=True,
            env=env,
            # The machine is shared and a chaos run busy: a start may take long, not forever.
            healthy_within=HEALTHY_WITHIN,
        )

    def start(self) -> None:
        self.stack.start()

    def stop(self) -> None:
        self.stack.stop()

    def names(self) -> tuple[str, ...]:
        return tuple(system.SERVICES)

    def target(self, name: str) -> str:
        return self.stack.target(name)

    def database_url(self, name: str) -> str:
        return self.stack.database_url(name)

    def kill(self, name: str) -> None:
        self.stack.services[name].stop(signal.SIGKILL)

    def revive(self, name: str) -> None:
        service = self.stack.services[name]
        if service.exited():
            service.start()
        service.wait_healthy(HEALTHY_WITHIN)

    def running(self, name: str) -> bool:
        return not self.stack.services[name].exited()

    def smtp_folder(self) -> Path | None:
        return self.stack.mail_folder
