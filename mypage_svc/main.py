"""Entry point: `python -m mypage_svc`."""

from __future__ import annotations

from pathlib import Path

from mypage_svc.config import SERVICE, Settings
from mypage_svc.consumers import handlers
from mypage_svc.service import MyPageService
from mypage_svc.servicer import ROLES, SERVICE_NAME, MyPageServicer
from mypage_svc.storage import MyPageStore, inbox
from yoga.mypage.v1 import mypage_pb2_grpc
from yoga_common.consumer import EventConsumer
from yoga_common.retention import Retention
from yoga_common.server import open_database, run_main, serve
from yoga_common.timestamps import utcnow
from yoga_common.uow import Transactions

MIGRATIONS = Path(__file__).parent / "migrations"


async def run(settings: Settings) -> None:
    db = open_database(settings)
    tx = Transactions(db, MyPageStore)
    servicer = MyPageServicer(MyPageService(tx, utcnow))
    consumer = EventConsumer(
        SERVICE.consumer_group, tx, inbox, SERVICE.consumes, handlers(), settings.kafka
    )
    await serve(
        settings,
        [SERVICE_NAME.full_name],
        lambda server: mypage_pb2_grpc.add_MyPageServiceServicer_to_server(servicer, server),
        ROLES,
        tasks=[consumer.run, Retention.of(db, settings.retention, inbox=inbox).run],
        on_stop=db.close,
    )


def main() -> None:
    settings = Settings()
    run_main(SERVICE.name, settings, lambda: run(settings), MIGRATIONS)


if __name__ == "__main__":
    main()
