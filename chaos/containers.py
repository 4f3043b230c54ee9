"""The services as the chart runs them, in containers of the image (devtools/cluster.py): two
replicas each on PostgreSQL, one on SQLite. The workload's clients come in through the gateway
(Envoy, balancing the replicas it finds healthy); reservation_svc reaches each yogaclass_svc
replica through a proxy of its own (`yogaclass-1`, `yogaclass-2`), which the nemesis cuts
together. A kill is SIGKILL to every replica of the service: the service crashes as a whole."""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from pathlib import Path

from chaos.runtime import HEALTHY_WITHIN, Wiring
from devtools.cluster import Cluster, direct
from devtools.containers import Container
from yoga_common import system


@dataclass
class ContainerRuntime:
    folder: Path
    wiring: Wiring
    image: str  # the id of the image built from this checkout (devtools.containers.build_image)
    cluster: Cluster = field(init=False)

    def __post_init__(self) -> None:
        w = self.wiring

        def route(name: str, index: int, port: int) -> str:
            if name == "yogaclass":
                return w.link(f"yogaclass-{index}", port)
            return direct(name, index, port)

        self.cluster = Cluster(
            self.folder,
            self.image,
            w.auth,
            w.kafka,
            backend=w.backend,
            pg_admin_url=w.pg_admin_url,
            env=w.env,
            route=route,
            name="yoga-chaos",
        )

    def _replicas(self, name: str) -> list[Container]:
        return self.cluster.replicas[name]

    def start(self) -> None:
        self.cluster.start()

    def stop(self) -> None:
        # The checker has read everything: nothing is left to drain.
        self.cluster.stop(graceful=False)

    def names(self) -> tuple[str, ...]:
        return tuple(system.SERVICES)

    def target(self, name: str) -> str:
        return self.cluster.gateway

    def database_url(self, name: str) -> str:
        return self.cluster.database_urls[name]

    def kill(self, name: str) -> None:
        for replica in self._replicas(name):
            replica.stop(signal.SIGKILL)

    def revive(self, name: str) -> None:
        stopped = [r for r in self._replicas(name) if not r.running()]
        for replica in stopped:
            replica.start()
        for replica in stopped:
            replica.wait_serving(HEALTHY_WITHIN)

    def running(self, name: str) -> bool:
        return all(r.running() for r in self._replicas(name))

    def smtp_folder(self) -> Path | None:
        return self.cluster.mail_folder
