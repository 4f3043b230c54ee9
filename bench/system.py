"""The system under measurement: the development stack (devtools/stack.py) with the four services
(SQLite files or PostgreSQL databases of their own), the project's SMTP sink, Envoy in front, one
Kafka topic prefix per system, so two systems (or a system and the tests) can share the broker.
Its services trust the identity provider scripts/keycloak.sh runs, and its callers' tokens come
from there (bench/identity.py). Also what the scenarios read from it: rows, consumer lag and each
process's CPU time."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
from sqlalchemy import create_engine, text

from bench import identity
from devtools.envoy import EnvoyProcess
from devtools.gateway_config import GatewayOptions
from devtools.processes import children
from devtools.stack import SINK, Stack
from yoga.yogaclass.v1 import yogaclass_pb2, yogaclass_pb2_grpc
from yoga_common import system
from yoga_common.auth import ADMIN, MEMBER
from yoga_common.settings import AuthSettings, KafkaSettings
from yoga_common.topics import CONSUMED, consumer_lag


def epoch(value: datetime | str) -> float:
    """Seconds since the epoch of a stored time: PostgreSQL gives datetimes, SQLite the text
    the services' UtcDateTime wrote (UTC)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def member(k: int) -> str:
    """The k-th of the bench's development members. Every scenario draws on the same few
    hundred accounts (a scenario's new classes keep each pair of member and class unique): a
    new account costs the provider a user, and each token a password grant."""
    return f"m{k}"


# The services the load generators call (ghz, hey); the others work on their events.
CALLED = ("reservation", "yogaclass")


@dataclass
class System:
    backend: str
    folder: Path
    kafka_bootstrap: str
    pg_admin_url: str = ""
    prefix: str = field(default_factory=lambda: f"bench{uuid.uuid4().hex[:8]}.")
    # Worker processes per service (`<PREFIX>_WORKERS`, yoga_common/workers.py); 1 if unnamed.
    workers: Mapping[str, int] = field(default_factory=dict)
    # Connections of a load generator to one service (0: as many as the most workers of a
    # service the load generators call).
    load_connections: int = 0
    stack: Stack = field(init=False)

    def __post_init__(self) -> None:
        self.stack = Stack(
            self.folder,
            identity.auth(),
            KafkaSettings(bootstrap_servers=self.kafka_bootstrap, prefix=self.prefix),
            backend=self.backend,
            pg_admin_url=self.pg_admin_url,
            database_prefix="bench_",
            smtp_sink=True,
            gateway=True,
            # The access log would cost the gateway a write per call.
            gateway_options=GatewayOptions(access_log=False),
            env={
                name: {f"{system.service(name).env_prefix}WORKERS": str(count)}
                for name, count in self.workers.items()
            },
        )

    @property
    def connections(self) -> int:
        """Connections a load generator opens to one service: the workers of a service share
        its port by connection (SO_REUSEPORT), so one connection would reach one of them."""
        called = (self.workers.get(name, 1) for name in CALLED)
        return self.load_connections or max(called)

    @property
    def auth(self) -> AuthSettings:
        return self.stack.auth

    @property
    def kafka(self) -> KafkaSettings:
        return self.stack.kafka

    @property
    def envoy(self) -> EnvoyProcess | None:
        return self.stack.envoy

    def start(self) -> None:
        self.stack.start()

    def stop(self) -> None:
        self.stack.stop()

    def target(self, name: str) -> str:
        return self.stack.target(name)

    def pids(self) -> dict[str, int]:
        """The services' and the gateway's: the sink is the mail server's stand-in, not ours."""
        return {n: pid for n, pid in self.stack.pids().items() if n != SINK}

    def token(self, user: str, role: str = MEMBER) -> str:
        """A token of development user `user` from the provider (kept there while valid)."""
        return identity.token(user, role)

    def user_id(self, user: str) -> str:
        """The provider's id of development user `user`: its id in the system."""
        return identity.user_id(user)

    def sign_in(self, users: Iterable[str], valid_for: float = 0.0) -> None:
        """Tokens of `users` held before a clock starts (see identity.sign_in)."""
        identity.sign_in(users, valid_for=valid_for)

    def metadata(self, user: str, role: str = MEMBER) -> tuple[tuple[str, str], ...]:
        return identity.metadata(user, role)

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
        engine = create_engine(self.stack.database_url(service))
        try:
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(text(query), params)]
        finally:
            engine.dispose()

    def query(self, service: str, query: str) -> list[tuple[Any, ...]]:
        """`rows` without parameters: what devtools/books.py reads the books with."""
        return self.rows(service, query)

    def count(self, service: str, query: str, **params: Any) -> int:
        return int(self.rows(service, query, **params)[0][0])

    def lag(self) -> dict[str, int]:
        return {
            name: consumer_lag(self.kafka, f"{name}_svc", topics)
            for name, topics in CONSUMED.items()
        }


def parse_workers(text: str) -> dict[str, int]:
    """`--workers`: `2` (every service) or `reservation=2,yogaclass=2` (1 for the others)."""
    if "=" not in text:
        return {name: int(text) for name in system.SERVICES}
    counts = {}
    for part in text.split(","):
        name, _, count = part.partition("=")
        counts[system.service(name.strip()).name] = int(count)
    return counts


def with_workers(pid: int) -> list[int]:
    """A service's process and, when it runs several workers, theirs (its children): the
    parent's own CPU time leaves out its children's while they run."""
    return [pid, *children(pid)]


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
