"""Real services for integration tests: each test module gets yogaclass_svc and
reservation_svc as separate processes over real gRPC, on SQLite and on PostgreSQL, started by
the development stack (devtools/stack.py) as `make run` and the bench start them.
PostgreSQL, Kafka and Keycloak must be up (`make test` starts them); if not, the tests fail,
never skip. Every token comes from that Keycloak (yoga_common.dev_accounts)."""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from devtools import processes
from devtools import stack as devstack
from tests.integration.gateway_support import JsonClient
from yoga.mypage.v1 import mypage_pb2_grpc
from yoga.notification.v1 import notification_pb2_grpc
from yoga.reservation.v1 import reservation_pb2_grpc
from yoga.yogaclass.v1 import yogaclass_pb2_grpc
from yoga_common import migrate, system
from yoga_common.auth import ADMIN, MEMBER
from yoga_common.db import Database
from yoga_common.dev_accounts import DevAccounts
from yoga_common.settings import AuthSettings, KafkaSettings

ROOT = Path(__file__).resolve().parents[2]
BACKENDS = ["sqlite", "postgres"]
CORE = ("yogaclass", "reservation")
ALL = tuple(system.SERVICES)


def pg_admin_url() -> str:
    url = os.environ.get("YOGA_TEST_PG_URL", "")
    if not url:
        pytest.fail("YOGA_TEST_PG_URL is not set: run the tests with `make test`")
    return url


@contextmanager
def migrated_database(
    backend: str, folder: Path, service: str, name: str = "", threads: int = 4
) -> Iterator[Database]:
    """A new database of its own, brought to `service`'s schema (its Alembic history), open."""
    url = new_database(backend, folder, name or service)
    migrate.upgrade(url, ROOT / system.service(service).package / "migrations")
    database = Database(url, threads=threads)
    try:
        yield database
    finally:
        database.close()


def new_database(backend: str, folder: Path, name: str) -> str:
    admin = pg_admin_url() if backend == "postgres" else ""
    return processes.new_database(backend, folder, name, admin)


TEST_HASH_ROUNDS = 1000


@functools.cache
def accounts() -> DevAccounts:
    """Development accounts at the Keycloak `make test` runs (KEYCLOAK_DIR holds its secrets)."""
    issuer = os.environ.get("YOGA_TEST_KEYCLOAK", "")
    folder = os.environ.get("KEYCLOAK_DIR", "")
    if not issuer or not folder:
        pytest.fail("YOGA_TEST_KEYCLOAK or KEYCLOAK_DIR is not set: run the tests with `make test`")
    found = DevAccounts(issuer, Path(folder) / "secrets")
    # The tests make hundreds of accounts and sign each in: with the realm's production hashing
    # (PBKDF2, 210 000 rounds) that is a quarter of a second of the provider's CPU per account.
    # Only this test instance's realm hashes its new passwords with fewer rounds.
    found.admin("PUT", "", {"passwordPolicy": f"hashIterations({TEST_HASH_ROUNDS})"})
    return found


def provider_auth() -> AuthSettings:
    """What the services of a test system trust: the test Keycloak, and the services' client."""
    return AuthSettings(
        issuer=accounts().issuer, client_secret=accounts().secret("services-client")
    )


@pytest.fixture(scope="session")
def auth() -> AuthSettings:
    return provider_auth()


def kafka_bootstrap() -> str:
    bootstrap = os.environ.get("YOGA_TEST_KAFKA", "")
    if not bootstrap:
        pytest.fail("YOGA_TEST_KAFKA is not set: run the tests with `make test`")
    return bootstrap


# Tuned for tests: a booking waits at most 10 s for its seat, recovery looks twice a second.
def reservation_env(pending_grace: float) -> dict[str, str]:
    return {
        "RESERVATION_SEAT_TIMEOUT_SECONDS": "10",
        "RESERVATION_PENDING_GRACE_SECONDS": str(pending_grace),
        "RESERVATION_RECOVERY_INTERVAL_SECONDS": "0.5",
        # The no-show sweep looks twice a second; studio settings are read again within 0.2 s.
        "RESERVATION_NO_SHOW_INTERVAL_SECONDS": "0.5",
        "RESERVATION_STUDIO_SETTINGS_TTL_SECONDS": "0.2",
    }


@dataclass
class Stack(devstack.Stack):
    """The services of one test system (devtools.stack on free ports, metrics off unless
    asked): own databases, own Kafka topic and group names; and tokens for its callers, from
    the provider. A development user `11` is the account user11@example.com; its id in the
    system is the provider's (`user_id("11")`)."""

    def token(self, user: str, role: str = MEMBER) -> str:
        return accounts().token(user, role)

    def user_id(self, user: str) -> str:
        return accounts().user_id(user)

    def sign_in(self, users: list[str]) -> None:
        """Makes and signs in many members up front, side by side."""
        accounts().sign_in(users)

    def as_user(self, user: str, role: str = MEMBER) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token(user, role)}"),)

    def as_admin(self) -> tuple[tuple[str, str], ...]:
        return self.as_user("staff-1", ADMIN)

    def json(self, user: str, role: str = MEMBER) -> JsonClient:
        """A JSON client of the stack's gateway, signed in as `user`."""
        assert self.envoy is not None, "this stack runs no gateway"
        return JsonClient("127.0.0.1", self.envoy.listen_port, self.token(user, role))


def crowd(size: int) -> list[str]:
    """`size` members, the same ones in every test that needs a crowd: the provider makes
    each account once per test run."""
    return [f"member-{n}" for n in range(size)]


def system_under_test(
    backend: str,
    auth: AuthSettings,
    folder: Path,
    names: tuple[str, ...] = CORE,
    *,
    pending_grace: float = 10.0,
    smtp_port: int = 0,
    **options: Any,
) -> Stack:
    """Not started yet (`with` starts and stops it); `options` go to devtools.stack.Stack,
    e.g. `metrics=True`, `gateway=True`, `common_env={...}`."""
    return Stack(
        folder,
        auth,
        KafkaSettings(bootstrap_servers=kafka_bootstrap(), prefix=f"t{uuid.uuid4().hex[:10]}."),
        names,
        backend=backend,
        pg_admin_url=pg_admin_url() if backend == "postgres" else "",
        smtp_port=smtp_port,
        env={
            "reservation": reservation_env(pending_grace),
            # Queues past their cutoff are closed within half a second.
            "yogaclass": {"YOGACLASS_WAITLIST_CUTOFF_INTERVAL_SECONDS": "0.5"},
        },
        **options,
    )


@dataclass
class Clients:
    stack: Stack
    classes: yogaclass_pb2_grpc.YogaClassServiceStub
    reservations: reservation_pb2_grpc.ReservationServiceStub
    notifications: notification_pb2_grpc.NotificationServiceStub
    mypage: mypage_pb2_grpc.MyPageServiceStub


@pytest.fixture(scope="module", params=BACKENDS)
def stack(
    request: pytest.FixtureRequest, auth: AuthSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    with system_under_test(request.param, auth, tmp_path_factory.mktemp(request.param)) as running:
        yield running


async def connect(stack: Stack) -> AsyncIterator[Clients]:
    # A service this stack does not run gets a channel to nowhere: calls fail UNAVAILABLE.
    channels = {name: grpc.aio.insecure_channel(stack.target(name)) for name in ALL}
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
