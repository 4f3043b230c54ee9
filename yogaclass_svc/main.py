"""Entry point: `python -m yogaclass_svc`."""

from __future__ import annotations

from pathlib import Path

from yoga.yogaclass.v1 import yogaclass_pb2_grpc
from yoga_common.consumer import EventConsumer
from yoga_common.relay import OutboxRelay
from yoga_common.retention import Retention
from yoga_common.server import open_database, run_main, serve
from yoga_common.timestamps import utcnow
from yoga_common.uow import Outbox, Transactions
from yogaclass_svc import consumers, messages
from yogaclass_svc.catalog import Catalog
from yogaclass_svc.config import SERVICE, Settings
from yogaclass_svc.series_service import SeriesService
from yogaclass_svc.service import ClassService
from yogaclass_svc.servicer import ROLES, SERVICE_NAME, YogaClassServicer
from yogaclass_svc.storage import ClassStore, inbox, outbox
from yogaclass_svc.studio_service import StudioService

MIGRATIONS = Path(__file__).parent / "migrations"


async def run(settings: Settings) -> None:
    db = open_database(settings)
    tx = Transactions(db, ClassStore, Outbox(outbox, settings.events_topic, messages.outbox_event))
    classes = ClassService(tx, utcnow)
    timetable = SeriesService(tx, utcnow)
    servicer = YogaClassServicer(
        classes, StudioService(tx, utcnow), timetable, Catalog(settings.catalog_max_age_seconds)
    )
    relay = OutboxRelay(db, outbox, SERVICE.package, settings.kafka)
    consumer = EventConsumer(
        SERVICE.consumer_group, tx, inbox, SERVICE.consumes, consumers.build(utcnow), settings.kafka
    )
    retention = Retention.of(db, settings.retention, outbox=outbox, inbox=inbox)
    await serve(
        settings,
        [SERVICE_NAME.full_name],
        lambda server: yogaclass_pb2_grpc.add_YogaClassServiceServicer_to_server(servicer, server),
        ROLES,
        tasks=[
            relay.run,
            consumer.run,
            retention.run,
            lambda: classes.queue_loop(settings.waitlist_cutoff_interval_seconds),
            lambda: timetable.materialize_loop(settings.series_interval_seconds),
        ],
        on_stop=db.close,
    )


def main() -> None:
    settings = Settings()
    run_main(SERVICE.name, settings, lambda: run(settings), MIGRATIONS)


if __name__ == "__main__":
    main()
