"""The Prometheus metrics every service shares (the default registry, served by
`telemetry.setup`). Service-specific ones live in the service's own modules."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# gRPC, named as go-grpc-prometheus names them, per method and status code.
GRPC_STARTED = Counter(
    "grpc_server_started_total",
    "RPCs started on the server.",
    ["grpc_type", "grpc_service", "grpc_method"],
)
GRPC_HANDLED = Counter(
    "grpc_server_handled_total",
    "RPCs completed on the server, by status code.",
    ["grpc_type", "grpc_service", "grpc_method", "grpc_code"],
)
GRPC_SECONDS = Histogram(
    "grpc_server_handling_seconds",
    "Time from receiving an RPC to its answer.",
    ["grpc_type", "grpc_service", "grpc_method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

# The outbox relay.
OUTBOX_UNSENT = Gauge("yoga_outbox_unsent_events", "Outbox rows waiting to be published.")
OUTBOX_PUBLISHED = Counter(
    "yoga_outbox_published_total", "Outbox rows the broker acknowledged.", ["topic"]
)
OUTBOX_PRODUCER_RECONNECTS = Counter(
    "yoga_outbox_producer_reconnects_total",
    "Relay producers replaced after acknowledging nothing too long (yoga_common/stall.py).",
)
OUTBOX_PUBLISH_SECONDS = Histogram(
    "yoga_outbox_publish_latency_seconds",
    "Time from an outbox row's creation to the broker's acknowledgement.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)

# Event consumers.
CONSUMER_LAG = Gauge(
    "yoga_consumer_lag_messages",
    "Messages on a topic the consumer group has not committed yet.",
    ["consumer", "topic"],
)
CONSUMER_APPLIED = Counter(
    "yoga_consumer_events_applied_total",
    "Events applied (first delivery; redeliveries and others' events are not counted).",
    ["consumer", "event_type"],
)
CONSUMER_RETRIES = Counter(
    "yoga_consumer_retries_total", "Failed attempts at applying an event.", ["consumer"]
)
CONSUMER_RECONNECTS = Counter(
    "yoga_consumer_reconnects_total",
    "Consumer clients replaced after too long outside their group (yoga_common/stall.py).",
    ["consumer"],
)
CONSUMER_DEAD_LETTERS = Counter(
    "yoga_consumer_dead_letters_total", "Events sent to the dead-letter topic.", ["consumer"]
)
