"""Calls from one service to another: a channel whose service config retries only the methods
named idempotent, every call with a deadline (the token comes from yoga_common.service_token)."""

from __future__ import annotations

import json
from collections.abc import Sequence

import grpc


def channel(target: str, service: str, idempotent_methods: Sequence[str]) -> grpc.aio.Channel:
    """`service` is the full proto service name; only `idempotent_methods` are retried."""
    config = {
        # Each call to the next ready address the target resolves to (a headless Service, or
        # an `ipv4:` list of replicas): with grpc's default pick_first every call goes to one
        # replica, and a call meets it when it is the one going away.
        "loadBalancingConfig": [{"round_robin": {}}],
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
        ],
    }
    return grpc.aio.insecure_channel(
        target,
        options=[
            ("grpc.service_config", json.dumps(config)),
            ("grpc.enable_retries", 1),
            ("grpc.keepalive_time_ms", 30_000),
            # After a failed connection grpc waits 1 s (+-20 %) before trying again, and a call
            # in that pause fails at once: the retries above (0.75 s in all) could all fall in
            # it, leaving a booking PENDING just after the callee came up (a service that
            # started before the one it calls). 100 ms puts a reconnect inside the retries.
            ("grpc.initial_reconnect_backoff_ms", 100),
            ("grpc.max_reconnect_backoff_ms", 5_000),
        ],
    )
