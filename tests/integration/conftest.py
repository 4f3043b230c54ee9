"""Real services for integration tests: each test module gets yogaclass_svc and
reservation_svc as separate processes over real gRPC, on SQLite and on PostgreSQL.
PostgreSQL must be up (`make test` starts it); if it is not, the tests fail, never skip."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import psycopg
import pytest
from sqlalchemy.engine import make_url

from yoga.reservation.v1 import reservation_pb2_grpc
from yoga.yogaclass.v1 import yogaclass_pb2_grpc
from yoga_common.auth import ADMIN, MEMBER, ensure_dev_keys, issue_token
from yoga_common.devstack import ServiceProcess, free_port
from yoga_common.settings import AuthSettings

BACKENDS = ["sqlite", "postgres"]


def pg_admin_url() -> str:
    url = os.environ.get("YOGA_TEST_PG_URL", "")
    if not url:
        pytest.fail("YOGA_TEST_PG_URL is not set: run the tests with `make test`")
    return url


def new_database(backend: str, folder: Path, name: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{folder}/{name}.db"
    admin = make_url(pg_admin_url())
    db = f"{name}_{uuid.uuid4().hex[:10]}"
    plain = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    return admin.set(database=db).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def auth(tmp_path_factory: pytest.TempPathFactory) -> AuthSettings:
    folder = tmp_path_factory.mktemp("keys")
    settings = AuthSettings(
        public_key_file=folder / "jwt-public.pem", private_key_file=folder / "jwt-private.pem"
    )
    ensure_dev_keys(settings)
    return settings


@dataclass
class Stack:
    backend: str
    auth: AuthSettings
    folder: Path
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    _tokens: dict[tuple[str, str], str] = field(default_factory=dict)

    def env_auth(self) -> dict[str, str]:
        return {
            "YOGA_JWT_PUBLIC_KEY_FILE": str(self.auth.public_key_file),
            "YOGA_JWT_PRIVATE_KEY_FILE": str(self.auth.private_key_file),
        }

    def start(self, pending_grace: float = 10.0) -> None:
        yc_port, rs_port = free_port(), free_port()
        self.services["yogaclass"] = ServiceProcess(
            "yogaclass_svc",
            yc_port,
            {
                **self.env_auth(),
                "YOGACLASS_PORT": str(yc_port),
                "YOGACLASS_DATABASE_URL": new_database(self.backend, self.folder, "yogaclass"),
            },
            self.folder / "yogaclass.log",
        )
        self.services["reservation"] = ServiceProcess(
            "reservation_svc",
            rs_port,
            {
                **self.env_auth(),
                "RESERVATION_PORT": str(rs_port),
                "RESERVATION_DATABASE_URL": new_database(self.backend, self.folder, "reservation"),
                "RESERVATION_YOGACLASS_TARGET": f"127.0.0.1:{yc_port}",
                "RESERVATION_SEAT_TIMEOUT_SECONDS": "10",
                "RESERVATION_PENDING_GRACE_SECONDS": str(pending_grace),
                "RESERVATION_RECOVERY_INTERVAL_SECONDS": "0.5",
            },
            self.folder / "reservation.log",
        )
        for service in self.services.values():
            service.start()
        for service in self.services.values():
            service.wait_healthy()

    def stop(self) -> None:
        for service in self.services.values():
            service.stop()

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


def start_stack(backend: str, auth: AuthSettings, folder: Path, **options: float) -> Stack:
    stack = Stack(backend, auth, folder)
    try:
        stack.start(**options)
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
    yc = grpc.aio.insecure_channel(stack.services["yogaclass"].target)
    rs = grpc.aio.insecure_channel(stack.services["reservation"].target)
    yield Clients(
        stack,
        yogaclass_pb2_grpc.YogaClassServiceStub(yc),
        reservation_pb2_grpc.ReservationServiceStub(rs),
    )
    await yc.close()
    await rs.close()


@pytest.fixture
async def clients(stack: Stack) -> AsyncIterator[Clients]:
    async for c in connect(stack):
        yield c
