"""The system as the chart would run it (devtools/cluster.py) on the test run's PostgreSQL,
Kafka and identity provider (scripts/test.sh starts them), two replicas of each service, with
what the tests call it by: JSON and gRPC through the gateway, as development users."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import grpc

from devtools.cluster import Cluster
from tests.integration.conftest import accounts, kafka_bootstrap, pg_admin_url, provider_auth
from tests.integration.gateway_support import JsonClient
from yoga_common.auth import ADMIN, MEMBER
from yoga_common.settings import KafkaSettings


@dataclass
class ContainerSystem(Cluster):
    @classmethod
    def of_test_run(cls, folder: Path, image: str) -> ContainerSystem:
        """A system of its own on the shared servers: its own databases and topic prefix."""
        run = uuid.uuid4().hex[:8]
        return cls(
            folder,
            image,
            provider_auth(),
            KafkaSettings(bootstrap_servers=kafka_bootstrap(), prefix=f"ct{run}.", partitions=3),
            pg_admin_url=pg_admin_url(),
            run=run,
        )

    def json(self, user: str, role: str = MEMBER) -> JsonClient:
        assert self.envoy is not None
        return JsonClient("127.0.0.1", self.envoy.listen_port, accounts().token(user, role))

    def admin_json(self) -> JsonClient:
        return self.json("staff-1", ADMIN)

    def channel(self) -> grpc.aio.Channel:
        return grpc.aio.insecure_channel(self.gateway)

    def metadata(self, user: str, role: str = MEMBER) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {accounts().token(user, role)}"),)
