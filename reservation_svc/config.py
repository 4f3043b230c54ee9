from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from yoga_common import system
from yoga_common.settings import ServiceSettings

SERVICE = system.service("reservation")


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix=SERVICE.env_prefix, extra="ignore")

    port: int = SERVICE.port
    metrics_port: int = SERVICE.metrics_port
    database_url: str = f"sqlite:///var/{SERVICE.name}.db"
    events_topic: str = system.RESERVATION_EVENTS
    yogaclass_target: str = system.service("yogaclass").default_target
    # Deadline of one ReserveSeat/ReleaseSeat call, retries included.
    seat_timeout_seconds: float = 3.0
    # A reservation PENDING for longer than this is finished by the recovery loop.
    pending_grace_seconds: float = 10.0
    recovery_interval_seconds: float = 2.0
