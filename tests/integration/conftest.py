"""Real services for integration tests: each test module gets yogaclass_svc and
reservation_svc as separate processes over real gRPC, on SQLite and on PostgreSQL.
PostgreSQL must be up (`make test` starts it); if it is not, the tests fail, never skip."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest

from devtools import processes as devstack
from devtools.processes import ServiceProcess, free_port
from yoga.mypage.v1 import mypage_pb2_grpc
from yoga.notification.v1 import notification_pb2_grpc
from yoga.reservation.v1 import reservation_pb2_grpc
from yoga.yogaclass.v1 import yogaclass_pb2_grpc
from yoga_common.auth import ADMIN, MEMBER, ensure_dev_keys, issue_token
from yoga_common.settings import AuthSettings, KafkaSettings
from yoga_common.topics import ensure_topics

BACKENDS = ["sqlite", "postgres"]
CORE = ("yogaclass", "reservation")
ALL = ("yogaclass", "reservation", "notification", "mypage")


def pg_admin_url() -> str:
    url = os.environ.get("YOGA_TEST_PG_URL", "")
    if not url:
        pytest.fail("YOGA_TEST_PG_URL is not set: run the tests with `make test`")
    return url


def new_database(backend: str, folder: Path, name: str) -> str:
    admin = pg_admin_url() if backend == "postgres" else ""
    return devstack.new_database(backend, folder, name, admin)


@pytest.fixture(scope="session")
def auth(tmp_path_factory: pytest.TempPathFactory) -> AuthSettings:
    folder = tmp_path_factory.mktemp("keys")
    settings = AuthSettings(
        public_key_file=folder / "jwt-public.pem", private_key_file=folder / "jwt-private.pem"
    )
    ensure_dev_keys(settings)
    return settings


def kafka_bootstrap() -> str:
    bootstrap = os.environ.get("YOGA_TEST_KAFKA", "")
    if not bootstrap:
        pytest.fail("YOGA_TEST_KAFKA is not set: run the tests with `make test`")
    return bootstrap


@dataclass
class Stack:
    """The services of one test system: own databases, own Kafka topic and group names."""

    backend: str
    auth: AuthSettings
    folder: Path
    prefix: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:10]}.")
    smtp_port: int = 0
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    _tokens: dict[tuple[str, str], str] = field(default_factory=dict)

    def kafka(self) -> KafkaSettings:
        return KafkaSettings(bootstrap_servers=kafka_bootstrap(), prefix=self.prefix)

    def env_auth(self) -> dict[str, str]:
        return {
            "YOGA_JWT_PUBLIC_KEY_FILE": str(self.auth.public_key_file),
            "YOGA_JWT_PRIVATE_KEY_FILE": str(self.auth.private_key_file),
            "YOGA_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap(),
            "YOGA_KAFKA_PREFIX": self.prefix,
        }

    def _service(self, name: str, port: int, env: dict[str, str]) -> None:
        prefix = name.upper()
        self.services[name] = ServiceProcess(
            f"{name}_svc",
            port,
            {
                **self.env_auth(),
                f"{prefix}_PORT": str(port),
                f"{prefix}_DATABASE_URL": new_database(self.backend, self.folder, name),
                **env,
            },
            self.folder / f"{name}.log",
        )

    def start(
        self,
        names: tuple[str, ...] = CORE,
        pending_grace: float = 10.0,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        """`extra_env` goes to every service; metrics servers are off unless it turns them on."""
        ensure_topics(self.kafka())
        ports = {name: free_port() for name in names}
        extra = {f"{name.upper()}_METRICS_PORT": "0" for name in ALL} | (extra_env or {})
        specs: dict[str, dict[str, str]] = {
            "yogaclass": {},
            "reservation": {
                "RESERVATION_YOGACLASS_TARGET": f"127.0.0.1:{ports.get('yogaclass', 1)}",
                "RESERVATION_SEAT_TIMEOUT_SECONDS": "10",
                "RESERVATION_PENDING_GRACE_SECONDS": str(pending_grace),
                "RESERVATION_RECOVERY_INTERVAL_SECONDS": "0.5",
            },
            "notification": {
                "NOTIFICATION_SMTP_HOST": "127.0.0.1",
                "NOTIFICATION_SMTP_PORT": str(self.smtp_port),
            },
            "mypage": {},
        }
        for name in names:
            self._service(name, ports[name], specs[name] | extra)
        for service in self.services.values():
            service.start()
        for service in self.services.values():
            service.wait_healthy()

    def stop(self) -> None:
        for service in self.services.values():
            service.stop()

    def database_url(self, name: str) -> str:
        return self.services[name].env[f"{name.upper()}_DATABASE_URL"]

    def token(self, user: str, role: str = MEMBER) -> str:
        key = (user, role)
        if key not in self._tokens:
            self._tokens[key] = issue_token(self.auth, user, role, f"user{user}@example.com")
        return self._tokens[key]

    def as_user(self, user: str, role: str = MEMBER) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token(user, role)}"),)

    def as_admin(self) -> tuple[tuple[str, str], ...]:
        return self.as_user("staff-1", ADMIN)


@dataclass
class Clients:
    stack: Stack
    classes: yogaclass_pb2_grpc.YogaClassServiceStub
    reservations: reservation_pb2_grpc.ReservationServiceStub
    notifications: notification_pb2_grpc.NotificationServiceStub
    mypage: mypage_pb2_grpc.MyPageServiceStub


def start_stack(
    backend: str, auth: AuthSettings, folder: Path, names: tuple[str, ...] = CORE, **options: Any
) -> Stack:
    stack = Stack(backend, auth, folder, **options)
    try:
        stack.start(names)
    except Exception:
        stack.stop()
        raise
    return stack


@pytest.fixture(scope="module", params=BACKENDS)
def stack(
    request: pytest.FixtureRequest, auth: AuthSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    running = start_stack(request.param, auth, tmp_path_factory.mktemp(request.param))
    yield running
    running.stop()


async def connect(stack: Stack) -> AsyncIterator[Clients]:
    def channel(name: str) -> grpc.aio.Channel:
        service = stack.services.get(name)
        # A service this stack does not run gets a channel to nowhere: calls fail UNAVAILABLE.
        return grpc.aio.insecure_channel(service.target if service else "127.0.0.1:1")

    channels = {name: channel(name) for name in ALL}
    yield Clients(
        stack,
        yogaclass_pb2_grpc.YogaClassServiceStub(channels["yogaclass"]),
        reservation_pb2_grpc.ReservationServiceStub(channels["reservation"]),
        notification_pb2_grpc.NotificationServiceStub(channels["notification"]),
        mypage_pb2_grpc.MyPageServiceStub(channels["mypage"]),
    )
    for c in channels.values():
        await c.close()


@pytest.fixture
async def clients(stack: Stack) -> AsyncIterator[Clients]:
    async for c in connect(stack):
        yield c
