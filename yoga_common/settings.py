"""Settings from the environment. Each service subclasses `ServiceSettings` with its own prefix
(`YOGACLASS_PORT`, `RESERVATION_DATABASE_URL`, ...); what all services must agree on (the token
keys) is read from `YOGA_*`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AuthSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="YOGA_JWT_", extra="ignore")

    public_key_file: Path = Path("var/keys/jwt-public.pem")
    # Only services that call others read it, to sign their short-lived service tokens.
    private_key_file: Path = Path("var/keys/jwt-private.pem")
    issuer: str = "yoga-dev"
    audience: str = "yoga"
    algorithm: str = "RS256"
    key_id: str = "yoga-dev-1"


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    host: str = "127.0.0.1"
    port: int = 0
    database_url: str = ""
    log_level: str = "INFO"
    # Seconds between health turning NOT_SERVING and the server stopping (lets balancers drain).
    drain_seconds: float = 0.0
    # Seconds in-flight calls get to finish once the server stops.
    grace_seconds: float = 5.0
    db_threads: int = 8
    auth: AuthSettings = Field(default_factory=AuthSettings)

    def sqlite_default(self, name: str) -> str:
        return f"sqlite:///var/{name}.db"
