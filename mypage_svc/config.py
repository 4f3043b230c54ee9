from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from yoga_common.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MYPAGE_", extra="ignore")

    port: int = 50054
    metrics_port: int = 9464
    database_url: str = "sqlite:///var/mypage.db"
