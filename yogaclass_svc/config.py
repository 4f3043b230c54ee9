from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from yoga_common.settings import ServiceSettings
from yoga_common.topics import YOGACLASS_EVENTS


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="YOGACLASS_", extra="ignore")

    port: int = 50051
    metrics_port: int = 9461
    database_url: str = "sqlite:///var/yogaclass.db"
    events_topic: str = YOGACLASS_EVENTS
