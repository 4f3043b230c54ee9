"""Entry point: `python -m reservation_svc`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from reservation_svc import consumers
from reservation_svc.clients import SeatClient
from reservation_svc.config import Settings
from reservation_svc.saga import BookingSaga
from reservation_svc.servicer import ROLES, SERVICE_NAME, ReservationServicer
from reservation_svc.storage import ReservationStore, inbox, outbox
from yoga.reservation.v1 import reservation_pb2_grpc
from yoga_common.clients import ServiceToken
from yoga_common.consumer import EventConsumer
from yoga_common.relay import OutboxRelay
from yoga_common.server import open_database, run_main, serve
from yoga_common.timestamps import utcnow

MIGRATIONS = Path(__file__).parent / "migrations"


async def run(settings: Settings) -> None:
    db = open_database(settings, MIGRATIONS)
    store = ReservationStore(db, settings.events_topic)
    seats = SeatClient(
        settings.yogaclass_target,
        ServiceToken(settings.auth, "reservation_svc"),
        settings.seat_timeout_seconds,
    )
    saga = BookingSaga(store, seats, utcnow)
    servicer = ReservationServicer(store, saga)

    async def recovery() -> None:
        await saga.recovery_loop(
            timedelta(seconds=settings.pending_grace_seconds), settings.recovery_interval_seconds
        )

    relay = OutboxRelay(db, outbox, "reservation_svc", settings.kafka)
    consumer = EventConsumer(
        "reservation_svc",
        db,
        inbox,
        [settings.class_events_topic],
        consumers.build(settings.events_topic),
        settings.kafka,
    )
    await serve(
        settings,
        [SERVICE_NAME.full_name],
        lambda server: reservation_pb2_grpc.add_ReservationServiceServicer_to_server(
            servicer, server
        ),
        ROLES,
        tasks=[recovery, relay.run, consumer.run],
        on_stop=db.close,
    )
    await seats.close()


def main() -> None:
    settings = Settings()
    run_main("reservation", settings, lambda: run(settings))


if __name__ == "__main__":
    main()
