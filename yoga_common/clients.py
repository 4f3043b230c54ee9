"""Calls from one service to another: a channel whose service config retries only the methods
named idempotent, every call with a deadline, and a short-lived service token."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

import grpc

from yoga_common.auth import SERVICE, issue_token
from yoga_common.settings import AuthSettings


def channel(target: str, service: str, idempotent_methods: Sequence[str]) -> grpc.aio.Channel:
    """`service` is the full proto service name; only `idempotent_methods` are retried."""
    config = {
        "methodConfig": [
            {
                "name": [{"service": service, "method": m} for m in idempotent_methods],
                "retryPolicy": {
                    "maxAttempts": 5,
                    "initialBackoff": "0.05s",
                    "maxBackoff": "1s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ]
    }
    return grpc.aio.insecure_channel(
        target,
        options=[
            ("grpc.service_config", json.dumps(config)),
            ("grpc.enable_retries", 1),
            ("grpc.keepalive_time_ms", 30_000),
        ],
    )


class ServiceToken:
    """A token naming this service, minted with the shared signing key and renewed before expiry."""

    def __init__(self, settings: AuthSettings, service_name: str, ttl_seconds: int = 600) -> None:
        self._settings = settings
        self._name = service_name
        self._ttl = ttl_seconds
        self._token = ""
        self._renew_at = 0.0

    def metadata(self) -> tuple[tuple[str, str], ...]:
        now = time.time()
        if now >= self._renew_at:
            self._token = issue_token(self._settings, self._name, SERVICE, ttl_seconds=self._ttl)
            self._renew_at = now + self._ttl / 2
        return (("authorization", f"Bearer {self._token}"),)
