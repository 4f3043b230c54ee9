"""Entry point: `python -m reservation_svc`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from reservation_svc import consumers, messages
from reservation_svc.clients import SeatClient, StudioClient
from reservation_svc.config import SERVICE, Settings
from reservation_svc.service import ReservationService
from reservation_svc.servicer import ROLES, SERVICE_NAME, ReservationServicer
from reservation_svc.storage import ReservationStore, inbox, outbox
from yoga.reservation.v1 import reservation_pb2_grpc
from yoga_common.consumer import EventConsumer
from yoga_common.relay import OutboxRelay
from yoga_common.retention import Retention
from yoga_common.server import open_database, run_main, serve
from yoga_common.service_token import ServiceToken
from yoga_common.timestamps import utcnow
from yoga_common.uow import Outbox, Transactions

MIGRATIONS = Path(__file__).parent / "migrations"


async def run(settings: Settings) -> None:
    db = open_database(settings)
    tx = Transactions(db, ReservationStore, Outbox(outbox, settings.events_topic, messages.event))
    token = ServiceToken(settings.auth)
    seats = SeatClient(
        settings.yogaclass_target,
        token,
        settings.seat_timeout_seconds,
    )
    studio = StudioClient(
        settings.yogaclass_target,
        token,
        settings.seat_timeout_seconds,
        ttl=settings.studio_settings_ttl_seconds,
    )
    service = ReservationService(tx, seats, utcnow, studio)
    servicer = ReservationServicer(service)

    async def recovery() -> None:
        await service.recovery_loop(
            timedelta(seconds=settings.pending_grace_seconds), settings.recovery_interval_seconds
        )

    async def no_shows() -> None:
        await service.no_show_loop(settings.no_show_interval_seconds, settings.no_show_batch)

    relay = OutboxRelay(db, outbox, SERVICE.package, settings.kafka)
    consumer = EventConsumer(
        SERVICE.consumer_group, tx, inbox, SERVICE.consumes, consumers.build(), settings.kafka
    )
    retention = Retention.of(db, settings.retention, outbox=outbox, inbox=inbox)
    await serve(
        settings,
        [SERVICE_NAME.full_name],
        lambda server: reservation_pb2_grpc.add_ReservationServiceServicer_to_server(
            servicer, server
        ),
        ROLES,
        tasks=[recovery, no_shows, relay.run, consumer.run, retention.run],
        on_stop=db.close,
    )
    await seats.close()
    await studio.close()


def main() -> None:
    settings = Settings()
    run_main(SERVICE.name, settings, lambda: run(settings), MIGRATIONS)


if __name__ == "__main__":
    main()
