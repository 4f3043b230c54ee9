from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from yoga_common import system
from yoga_common.settings import ServiceSettings

SERVICE = system.service("yogaclass")


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix=SERVICE.env_prefix, extra="ignore")

    port: int = SERVICE.port
    metrics_port: int = SERVICE.metrics_port
    database_url: str = f"sqlite:///var/{SERVICE.name}.db"
    events_topic: str = system.YOGACLASS_EVENTS
    # How often classes past their waitlist cutoff are looked for (their waiting end EXPIRED).
    waitlist_cutoff_interval_seconds: float = 30.0
    # How often series are looked at for occurrences the horizon has reached (issue 15).
    series_interval_seconds: float = 300.0
    # How old a GetClass or ListClasses answer may be (yogaclass_svc/catalog.py): another
    # replica's write, or a seat taken, shows within this; 0 reads the database every call.
    catalog_max_age_seconds: float = 1.0
