"""Entry point: `python -m notification_svc`."""

from __future__ import annotations

from pathlib import Path

from notification_svc.config import SERVICE, Settings
from notification_svc.consumers import handlers
from notification_svc.mailer import Mailer, SmtpSender
from notification_svc.reminder_job import ReminderJob
from notification_svc.service import NotificationService
from notification_svc.servicer import ROLES, SERVICE_NAME, NotificationServicer
from notification_svc.storage import NotificationStore, inbox, reminders
from yoga.notification.v1 import notification_pb2_grpc
from yoga_common.consumer import EventConsumer
from yoga_common.retention import Kept, Retention
from yoga_common.server import open_database, run_main, serve
from yoga_common.timestamps import utcnow
from yoga_common.uow import Transactions

MIGRATIONS = Path(__file__).parent / "migrations"


async def run(settings: Settings) -> None:
    db = open_database(settings)
    tx = Transactions(db, NotificationStore)
    service = NotificationService(tx)
    servicer = NotificationServicer(service)
    consumer = EventConsumer(
        SERVICE.consumer_group,
        tx,
        inbox,
        SERVICE.consumes,
        handlers(settings.email_directory, settings.time_zone),
        settings.kafka,
    )
    mailer = Mailer(
        service,
        SmtpSender(settings.smtp_host, settings.smtp_port, settings.smtp_timeout),
        settings.smtp_sender,
        settings.retry_policy,
        utcnow,
        batch_size=settings.email_batch_size,
        poll_seconds=settings.email_poll_seconds,
        claim_seconds=settings.email_claim_seconds,
    )
    db.on_events_committed(mailer.wake)  # a new notification, a reminder's too
    job = ReminderJob(
        service,
        utcnow,
        interval_seconds=settings.reminder_interval_seconds,
        batch_size=settings.reminder_batch_size,
    )
    kept = settings.retention
    retention = Retention(
        db,
        [
            Kept(inbox, inbox.c.applied_at, kept.inbox_hours),
            # A reminder's row is done with once its class is over; it goes as late as the
            # events that made it, so no redelivery finds it gone.
            Kept(reminders, reminders.c.class_start_time, kept.inbox_hours),
        ],
        kept,
    )
    await serve(
        settings,
        [SERVICE_NAME.full_name],
        lambda server: notification_pb2_grpc.add_NotificationServiceServicer_to_server(
            servicer, server
        ),
        ROLES,
        tasks=[consumer.run, mailer.run, job.run, retention.run],
        on_stop=db.close,
    )


def main() -> None:
    settings = Settings()
    run_main(SERVICE.name, settings, lambda: run(settings), MIGRATIONS)


if __name__ == "__main__":
    main()
