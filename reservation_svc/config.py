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
    # How often the no-show sweep looks for confirmed bookings of classes over (plus the
    # studio's grace), and how many it marks per transaction.
    no_show_interval_seconds: float = 30.0
    no_show_batch: int = 100
    # The studio's settings (check-in window, no-show grace) are read again after this long.
    studio_settings_ttl_seconds: float = 5.0
