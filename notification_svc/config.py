from __future__ import annotations

from pydantic import field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from notification_svc.domain import RetryPolicy
from yoga_common import system
from yoga_common.localtime import known_zone
from yoga_common.settings import ServiceSettings

SERVICE = system.service("notification")


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix=SERVICE.env_prefix, extra="ignore")

    port: int = SERVICE.port
    metrics_port: int = SERVICE.metrics_port
    database_url: str = f"sqlite:///var/{SERVICE.name}.db"
    # The zone class times are shown in (the events carry UTC times only).
    time_zone: str = "UTC"
    # user_id -> address, for members whose events carry none (env: a JSON object).
    email_directory: dict[str, str] = {}
    smtp_host: str = "127.0.0.1"
    smtp_port: int = system.SMTP_SINK_PORT
    smtp_sender: str = "Yoga Studio <no-reply@yoga.example>"
    # Seconds for each SMTP step (connect, each command).
    smtp_timeout: float = 10.0
    email_max_attempts: int = 5
    # Backoff after a failed email: base, 2 x base, 4 x base, ... at most max.
    email_retry_base_seconds: float = 2.0
    email_retry_max_seconds: float = 600.0
    email_batch_size: int = 50
    email_poll_seconds: float = 0.5
    # How long a mailer owns a notification it is sending; must outlast one SMTP exchange.
    email_claim_seconds: float = 120.0
    # How often the reminder job looks for due reminders, and how many it sends per
    # transaction. A reminder is at most this late (the lead is hours).
    reminder_interval_seconds: float = 30.0
    reminder_batch_size: int = 100

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if not known_zone(value):
            raise ValueError(f"{value!r} is not an IANA time zone")
        return value

    @model_validator(mode="after")
    def _claim_outlasts_send(self) -> Settings:
        if self.email_max_attempts < 1:
            raise ValueError("email_max_attempts must be at least 1")
        if self.reminder_batch_size < 1 or self.reminder_interval_seconds <= 0:
            raise ValueError("reminder_batch_size and reminder_interval_seconds must be positive")
        if self.email_claim_seconds < 10 * self.smtp_timeout:
            raise ValueError("email_claim_seconds must be at least 10 x smtp_timeout")
        return self

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            self.email_max_attempts, self.email_retry_base_seconds, self.email_retry_max_seconds
        )
