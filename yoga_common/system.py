"""The system's wiring, defined once: each service's ports, settings prefix, the topics it
produces and consumes, the calls it makes to other services, and where its role table lives.

Everything else reads this module: each service's `config.py` defaults, the topic list
(`topics.py`), the development stack (`make run`, the integration tests, the bench), the
gateway's configuration and `make deploy-check` (which holds the Helm chart's values, allow
lists and topics against it). The chart cannot import Python: its copies are checked."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

# One topic per producing context, keyed by aggregate id.
YOGACLASS_EVENTS = "yoga.yogaclass.events"
RESERVATION_EVENTS = "yoga.reservation.events"

GATEWAY_PORT = 8088
# The web app's static server (nginx) behind the gateway under `make run`, on 127.0.0.1 only:
# browsers reach the app through the gateway's port.
WEB_PORT = 8087
# The development SMTP sink `make run` starts (notification_svc's default SMTP port).
SMTP_SINK_PORT = 2525
# The Kafka broker of `make run` (scripts/kafka.sh listens here unless KAFKA_PORT says else).
KAFKA_PORT = 59092
# Its KRaft controller: the port after the broker's (scripts/kafka.sh keeps that rule when
# KAFKA_PORT moves the broker).
KAFKA_CONTROLLER_PORT = KAFKA_PORT + 1
# Keycloak, the OpenID Connect provider (scripts/keycloak.sh, unless KEYCLOAK_PORT says else);
# its health and metrics answer on the management port. Both below the ephemeral range.
KEYCLOAK_PORT = 8180
KEYCLOAK_MANAGEMENT_PORT = KEYCLOAK_PORT + 1000
# The PostgreSQL of `make test` and `make bench` (scripts/postgres.sh, unless PGPORT says else).
POSTGRES_PORT = 55432


@dataclass(frozen=True)
class Service:
    name: str  # yogaclass, reservation, notification, mypage: the chart's key too
    grpc_service: str  # the public gRPC service's full name
    port: int
    metrics_port: int
    produces: str | None = None
    consumes: tuple[str, ...] = ()
    # Service -> the methods of it this service calls (service to service, with role `service`).
    calls: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # It sends email (its `<PREFIX>SMTP_HOST`/`_PORT` settings point at an SMTP server).
    sends_mail: bool = False

    @property
    def package(self) -> str:
        return f"{self.name}_svc"

    @property
    def env_prefix(self) -> str:
        """Every setting of the service is read from `<PREFIX>_<NAME>`, e.g. YOGACLASS_PORT."""
        return f"{self.name.upper()}_"

    @property
    def consumer_group(self) -> str:
        return self.package

    @property
    def dead_letter_topic(self) -> str:
        return f"yoga.{self.name}.dlt"

    @property
    def roles_source(self) -> str:
        """`module:attribute` of its servicer's role table."""
        return f"{self.package}.servicer:ROLES"

    @property
    def default_target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def roles(self) -> Mapping[str, frozenset[str]]:
        """The servicer's role table: full method path (`/pkg.Service/Method`) -> allowed
        roles (imports the service's servicer module)."""
        module, _, attribute = self.roles_source.partition(":")
        table: Mapping[str, frozenset[str]] = getattr(importlib.import_module(module), attribute)
        return table


SERVICES: dict[str, Service] = {
    s.name: s
    for s in (
        Service(
            "yogaclass",
            "yoga.yogaclass.v1.YogaClassService",
            port=50051,
            metrics_port=9461,
            produces=YOGACLASS_EVENTS,
            # Late cancels and no-shows: members' strikes (issue 14).
            consumes=(RESERVATION_EVENTS,),
        ),
        Service(
            "reservation",
            "yoga.reservation.v1.ReservationService",
            port=50052,
            metrics_port=9462,
            produces=RESERVATION_EVENTS,
            consumes=(YOGACLASS_EVENTS,),
            calls={
                "yogaclass": ("ReserveSeat", "ReserveSeats", "ReleaseSeat", "GetStudioSettings")
            },
        ),
        Service(
            "notification",
            "yoga.notification.v1.NotificationService",
            port=50053,
            metrics_port=9463,
            consumes=(RESERVATION_EVENTS, YOGACLASS_EVENTS),
            sends_mail=True,
        ),
        Service(
            "mypage",
            "yoga.mypage.v1.MyPageService",
            port=50054,
            metrics_port=9464,
            consumes=(RESERVATION_EVENTS, YOGACLASS_EVENTS),
        ),
    )
}

EVENT_TOPICS = tuple(s.produces for s in SERVICES.values() if s.produces)
CONSUMERS = tuple(s for s in SERVICES.values() if s.consumes)


def service(name: str) -> Service:
    """By name (`yogaclass`) or package (`yogaclass_svc`)."""
    return SERVICES[name.removesuffix("_svc")]


def main(argv: list[str] | None = None) -> int:
    """`python -m yoga_common.system KEY`: one fact for a shell script, e.g. `kafka-port`,
    `postgres-port`, `gateway-port`, `web-port`, `smtp-port`, `<service>-port`,
    `<service>-metrics-port`."""
    args = sys.argv[1:] if argv is None else argv
    facts = {
        "kafka-port": KAFKA_PORT,
        "kafka-controller-port": KAFKA_CONTROLLER_PORT,
        "postgres-port": POSTGRES_PORT,
        "gateway-port": GATEWAY_PORT,
        "web-port": WEB_PORT,
        "smtp-port": SMTP_SINK_PORT,
        "keycloak-port": KEYCLOAK_PORT,
        **{f"{s.name}-port": s.port for s in SERVICES.values()},
        **{f"{s.name}-metrics-port": s.metrics_port for s in SERVICES.values()},
    }
    if len(args) != 1 or args[0] not in facts:
        print(f"usage: python -m yoga_common.system {{{','.join(facts)}}}", file=sys.stderr)
        return 2
    print(facts[args[0]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
