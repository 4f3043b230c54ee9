"""Entry point: `python -m mypage_svc`."""

from __future__ import annotations

from pathlib import Path

from mypage_svc import storage
from mypage_svc.config import Settings
from mypage_svc.consumers import handlers
from mypage_svc.servicer import ROLES, SERVICE_NAME, MyPageServicer
from mypage_svc.storage import MyPageStore
from yoga.mypage.v1 import mypage_pb2_grpc
from yoga_common.consumer import EventConsumer
from yoga_common.server import open_database, run_main, serve
from yoga_common.topics import RESERVATION_EVENTS, YOGACLASS_EVENTS

MIGRATIONS = Path(__file__).parent / "migrations"


async def run(settings: Settings) -> None:
    db = open_database(settings, MIGRATIONS)
    store = MyPageStore(db)
    servicer = MyPageServicer(store)
    consumer = EventConsumer(
        "mypage_svc",
        db,
        storage.inbox,
        [RESERVATION_EVENTS, YOGACLASS_EVENTS],
        handlers(store),
        settings.kafka,
    )
    await serve(
        settings,
        [SERVICE_NAME.full_name],
        lambda server: mypage_pb2_grpc.add_MyPageServiceServicer_to_server(servicer, server),
        ROLES,
        tasks=[consumer.run],
        on_stop=db.close,
    )


def main() -> None:
    settings = Settings()
    run_main("mypage", settings, lambda: run(settings))


if __name__ == "__main__":
    main()
