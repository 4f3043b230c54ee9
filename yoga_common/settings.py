"""Settings from the environment. Each service subclasses `ServiceSettings` with its own prefix
(`YOGACLASS_PORT`, `RESERVATION_DATABASE_URL`, ...); what all services must agree on (the token
keys) is read from `YOGA_*`."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from yoga_common import system


class AuthSettings(BaseSettings):
    """Who issues the tokens every service trusts: an OpenID Connect provider (Keycloak's
    `studio` realm; scripts/keycloak.sh runs one for development). The services hold no key:
    they check tokens with the keys the issuer publishes."""

    model_config = SettingsConfigDict(env_prefix="YOGA_JWT_", extra="ignore")

    # The issuer URL, exactly as tokens name it (`iss`); its discovery document names the keys.
    issuer: str = f"http://127.0.0.1:{system.KEYCLOAK_PORT}/realms/studio"
    # Where to fetch the keys instead of the discovery document's `jwks_uri` (e.g. the
    # provider's address inside the cluster when the issuer is its public URL).
    jwks_uri: str = ""
    audience: str = "yoga"
    algorithm: str = "RS256"
    # A service that calls others asks the provider for its own token (client credentials).
    client_id: str = "yoga-services"
    client_secret: SecretStr = SecretStr("")
    # Where to ask for it instead of the discovery document's `token_endpoint`.
    token_uri: str = ""


class KafkaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="YOGA_KAFKA_", extra="ignore")

    bootstrap_servers: str = f"127.0.0.1:{system.KAFKA_PORT}"
    # Put before every topic and consumer group name, so several systems can share a broker.
    prefix: str = ""
    partitions: int = 3
    replication_factor: int = 1
    # A message whose handler fails this many times goes to the dead-letter topic.
    max_attempts: int = 5
    # Seconds the relay waits for the broker's acknowledgement of one batch.
    delivery_timeout_seconds: float = 10.0
    # Seconds between two commits of a consumer's offsets (what it applied meanwhile).
    commit_interval_seconds: float = 0.5
    # Seconds between two measurements of a consumer's lag (the `yoga_consumer_lag_messages` gauge).
    lag_interval_seconds: float = 5.0
    # Seconds a consumer may be outside its group, or a relay's producer go without an
    # acknowledgement while rows wait, before the client is replaced by a new one that
    # bootstraps again (yoga_common/stall.py). Longer than a rebalance; a broker outage longer
    # than this only replaces the client again.
    reconnect_after_seconds: float = 30.0
    # librdkafka's debug contexts (e.g. `cgrp,topic`) for a consumer group problem; its lines
    # then reach the service's log.
    debug: str = ""

    def name(self, topic_or_group: str) -> str:
        return self.prefix + topic_or_group

    def client_config(self) -> dict[str, Any]:
        """What every Kafka client of ours shares. librdkafka's own log goes to the `rdkafka`
        logger, which is quiet: a broker outage would otherwise print a line per reconnect."""
        config: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "logger": logging.getLogger("rdkafka"),
            "reconnect.backoff.max.ms": 2000,
        }
        if self.debug:
            config["debug"] = self.debug
            logging.getLogger("rdkafka").setLevel(logging.DEBUG)
        return config


class RetentionSettings(BaseSettings):
    """How long the system's own bookkeeping is kept (yoga_common/retention.py). Reservations,
    classes and notifications are the studio's records and are never deleted here."""

    model_config = SettingsConfigDict(env_prefix="YOGA_RETENTION_", extra="ignore")

    # Published outbox rows: kept a day, for an operator to look at what went out recently.
    outbox_hours: float = 24.0
    # Inbox rows say which events were applied; a redelivery of an event whose row is gone
    # would be applied again. Keep them longer than the topics keep events (Kafka's default
    # retention is 7 days; `make run` and the chart keep that default), so no replay of the
    # topics can bring back an event whose row was pruned.
    inbox_hours: float = 14 * 24.0
    interval_seconds: float = 3600.0
    batch_size: int = 500


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
    # Processes serving the port together (yoga_common/workers.py): more than one lets the
    # service use more than one core. Worker i serves metrics on metrics_port + i; worker 0
    # alone runs the background jobs. The chart keeps 1 and scales out with pods (its HPA).
    workers: int = Field(default=1, ge=1)
    # How long a thread may hold the interpreter before one waiting for it gets a turn
    # (sys.setswitchinterval; Python's default is 5 ms). A thread back from a socket (the
    # mailer's SMTP answer, a database's reply) waited up to that long behind a busy consumer
    # thread at every step: a burst's emails went out at about 25 a second (BENCHMARKS.md).
    switch_interval_seconds: float = Field(default=0.001, gt=0)
    # Prometheus metrics at http://<host>:<metrics_port>/metrics; 0: none. Each service's
    # config sets its own default, so all four can run on one machine.
    metrics_port: int = 0
    # Where to append every finished span as one JSON line (tests); empty: no file.
    trace_file: str = ""
    auth: AuthSettings = Field(default_factory=AuthSettings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
