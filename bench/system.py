"""The system under measurement: the four services (SQLite files or PostgreSQL databases of their
own), the project's SMTP sink, Envoy in front, one Kafka topic prefix per system, so two systems
(or a system and the tests) can share the broker. Also what the scenarios read from it: rows,
consumer lag and each process's CPU time."""

from __future__ import annotations

import os
import subprocess
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
from sqlalchemy import create_engine, text

from devtools import envoy, smtp_sink
from devtools import gateway_config as gateway
from devtools.processes import ServiceProcess, free_port, new_database, wait_for_port
from yoga.yogaclass.v1 import yogaclass_pb2, yogaclass_pb2_grpc
from yoga_common.auth import ADMIN, MEMBER, ensure_dev_keys, issue_token
from yoga_common.settings import AuthSettings, KafkaSettings
from yoga_common.topics import CONSUMED, consumer_lag, ensure_topics

NAMES = ("yogaclass", "reservation", "notification", "mypage")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def epoch(value: datetime | str) -> float:
    """Seconds since the epoch of a stored time: PostgreSQL gives datetimes, SQLite the text
    the services' UtcDateTime wrote (UTC)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a running process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


@dataclass
class System:
    backend: str
    folder: Path
    kafka_bootstrap: str
    pg_admin_url: str = ""
    prefix: str = field(default_factory=lambda: f"bench{uuid.uuid4().hex[:8]}.")
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    envoy: envoy.EnvoyProcess | None = None
    sink: subprocess.Popen[bytes] | None = None
    auth: AuthSettings = field(init=False)
    _tokens: dict[tuple[str, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        keys = self.folder / "keys"
        self.auth = AuthSettings(
            public_key_file=keys / "jwt-public.pem", private_key_file=keys / "jwt-private.pem"
        )

    @property
    def kafka(self) -> KafkaSettings:
        return KafkaSettings(bootstrap_servers=self.kafka_bootstrap, prefix=self.prefix)

    def start(self) -> None:
        ensure_dev_keys(self.auth)
        ensure_topics(self.kafka)
        smtp_port = free_port()
        self.sink = subprocess.Popen(
            smtp_sink.command(smtp_port, self.folder / "mail"),
            stdout=(self.folder / "smtp_sink.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        wait_for_port(smtp_port)
        ports = {name: free_port() for name in NAMES}
        common = {
            "YOGA_JWT_PUBLIC_KEY_FILE": str(self.auth.public_key_file),
            "YOGA_JWT_PRIVATE_KEY_FILE": str(self.auth.private_key_file),
            "YOGA_KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "YOGA_KAFKA_PREFIX": self.prefix,
        }
        wiring = {
            "reservation": {"RESERVATION_YOGACLASS_TARGET": f"127.0.0.1:{ports['yogaclass']}"},
            "notification": {"NOTIFICATION_SMTP_PORT": str(smtp_port)},
        }
        for name in NAMES:
            env = {
                **common,
                f"{name.upper()}_PORT": str(ports[name]),
                f"{name.upper()}_METRICS_PORT": "0",
                f"{name.upper()}_DATABASE_URL": new_database(
                    self.backend, self.folder, f"bench_{name}", self.pg_admin_url
                ),
                **wiring.get(name, {}),
            }
            self.services[name] = ServiceProcess(
                f"{name}_svc", ports[name], env, self.folder / f"{name}.log"
            )
        for service in self.services.values():
            service.start()
        for service in self.services.values():
            service.wait_healthy()
        targets = {name: s.target for name, s in self.services.items()}
        self.envoy = envoy.start_gateway(
            self.folder / "envoy",
            free_port(),
            targets,
            gateway.jwks_file(self.auth),
            opts=gateway.GatewayOptions(access_log=False),
        )

    def stop(self) -> None:
        if self.envoy:
            self.envoy.stop()
        for service in self.services.values():
            service.stop()
        if self.sink:
            self.sink.terminate()
            self.sink.wait(10)

    def target(self, name: str) -> str:
        return self.services[name].target

    def pids(self) -> dict[str, int]:
        found = {n: s.process.pid for n, s in self.services.items() if s.process}
        if self.envoy and self.envoy.process:
            found["envoy"] = self.envoy.process.pid
        return found

    def token(self, user: str, role: str = MEMBER) -> str:
        key = (user, role)
        if key not in self._tokens:
            self._tokens[key] = issue_token(self.auth, user, role, f"{user}@example.com")
        return self._tokens[key]

    def metadata(self, user: str, role: str = MEMBER) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token(user, role)}"),)

    def create_classes(self, count: int, capacity: int, title: str = "Bench") -> list[str]:
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
        made: list[str] = []
        with grpc.insecure_channel(self.target("yogaclass")) as channel:
            stub = yogaclass_pb2_grpc.YogaClassServiceStub(channel)
            for i in range(count):
                yoga_class = yogaclass_pb2.YogaClass(
                    title=f"{title} {i}",
                    instructor="Jiwoo",
                    time_zone="Asia/Seoul",
                    capacity=capacity,
                )
                yoga_class.start_time.FromDatetime(start + timedelta(minutes=i))
                yoga_class.end_time.FromDatetime(start + timedelta(minutes=i + 60))
                answer = stub.CreateClass(
                    yogaclass_pb2.CreateClassRequest(yoga_class=yoga_class),
                    metadata=self.metadata("staff-1", ADMIN),
                    timeout=10,
                )
                made.append(str(answer.yoga_class.class_id))
        return made

    def rows(self, service: str, query: str, **params: Any) -> list[tuple[Any, ...]]:
        engine = create_engine(self.services[service].env[f"{service.upper()}_DATABASE_URL"])
        try:
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(text(query), params)]
        finally:
            engine.dispose()

    def count(self, service: str, query: str, **params: Any) -> int:
        return int(self.rows(service, query, **params)[0][0])

    def lag(self) -> dict[str, int]:
        return {
            name: consumer_lag(self.kafka, f"{name}_svc", topics)
            for name, topics in CONSUMED.items()
        }


def shared_parts() -> dict[str, list[int]]:
    """The processes of the broker and of PostgreSQL (all its backends), whose CPU time the
    scenarios count too: they serve every service."""
    found: dict[str, list[int]] = {"kafka": [], "postgres": []}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if b"kafka.Kafka" in cmdline:
            found["kafka"].append(int(entry.name))
        elif comm == "postgres":
            found["postgres"].append(int(entry.name))
    return found
