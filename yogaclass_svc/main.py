"""Entry point: `python -m yogaclass_svc`."""

from __future__ import annotations

from pathlib import Path

from yoga.yogaclass.v1 import yogaclass_pb2_grpc
from yoga_common.relay import OutboxRelay
from yoga_common.retention import Retention
from yoga_common.server import open_database, run_main, serve
from yoga_common.timestamps import utcnow
from yoga_common.uow import Outbox, Transactions
from yogaclass_svc import messages
from yogaclass_svc.config import SERVICE, Settings
from yogaclass_svc.service import ClassService
from yogaclass_svc.servicer import ROLES, SERVICE_NAME, YogaClassServicer
from yogaclass_svc.storage import ClassStore, outbox

MIGRATIONS = Path(__file__).parent / "migrations"


async def run(settings: Settings) -> None:
    db = open_database(settings, MIGRATIONS)
    tx = Transactions(db, ClassStore, Outbox(outbox, settings.events_topic, messages.event))
    classes = ClassService(tx, utcnow)
    servicer = YogaClassServicer(classes)
    relay = OutboxRelay(db, outbox, SERVICE.package, settings.kafka)
    await serve(
        settings,
        [SERVICE_NAME.full_name],
        lambda server: yogaclass_pb2_grpc.add_YogaClassServiceServicer_to_server(servicer, server),
        ROLES,
        tasks=[
            relay.run,
            Retention.of(db, settings.retention, outbox=outbox).run,
            lambda: classes.queue_loop(settings.waitlist_cutoff_interval_seconds),
        ],
        on_stop=db.close,
    )


def main() -> None:
    settings = Settings()
    run_main(SERVICE.name, settings, lambda: run(settings))


if __name__ == "__main__":
    main()
