from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from yoga_common.settings import ServiceSettings
from yoga_common.topics import RESERVATION_EVENTS, YOGACLASS_EVENTS


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RESERVATION_", extra="ignore")

    port: int = 50052
    metrics_port: int = 9462
    database_url: str = "sqlite:///var/reservation.db"
    events_topic: str = RESERVATION_EVENTS
    class_events_topic: str = YOGACLASS_EVENTS
    yogaclass_target: str = "127.0.0.1:50051"
    # Deadline of one ReserveSeat/ReleaseSeat call, retries included.
    seat_timeout_seconds: float = 3.0
    # A reservation PENDING for longer than this is finished by the recovery loop.
    pending_grace_seconds: float = 10.0
    recovery_interval_seconds: float = 2.0
