"""Traces and metrics of every service, set up once per process by `server.run_main`.

Tracing is the OpenTelemetry SDK, configured from the standard `OTEL_*` variables
(`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_ENDPOINT` or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_TRACES_SAMPLER`, `OTEL_SDK_DISABLED`, ...): spans go
to an OTLP collector when an endpoint is set; otherwise they are not recorded at all (unless
`OTEL_TRACES_SAMPLER` says so), while trace and span ids still reach the logs and travel on.
gRPC server and client spans come from the OpenTelemetry gRPC instrumentation, database spans
from its SQLAlchemy instrumentation. `<PREFIX>_TRACE_FILE` also writes every finished span as one
JSON line to a file (the cross-process tests read them, since an in-memory exporter cannot see
into another process).

Metrics are Prometheus' (`prometheus_client`), served on `<PREFIX>_METRICS_PORT` at `/metrics`
(0: no metrics server)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import IO, Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.grpc import (
    GrpcAioInstrumentorClient,
    GrpcAioInstrumentorServer,
)
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.metrics import get_meter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from prometheus_client import start_http_server
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

_OTLP_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
# Probes and grpcurl's reflection are not worth a trace each.
_UNTRACED_PREFIXES = ("/grpc.health.v1.Health", "/grpc.reflection.")


def _traced(details: Any) -> bool:
    """The instrumentation's filter, asked on every call: one prefix test on the method name
    (the `filters` module's equivalent splits and normalizes the path each time; it was most
    of the instrumentation's share of a cached GetClass in the profile)."""
    name = getattr(details, "method", "")
    if isinstance(name, bytes):  # grpc.aio client call details carry bytes (grpc#31092)
        name = name.decode()
    return not str(name).startswith(_UNTRACED_PREFIXES)


# Set by `setup`: the tracer of database spans (none: engines are not traced).
_engine_tracer: trace.Tracer | None = None


class Telemetry:
    """What `setup` started; `shutdown` flushes the spans still buffered."""

    def __init__(self, provider: TracerProvider | None, files: list[IO[str]]) -> None:
        self.provider = provider
        self._files = files

    def shutdown(self) -> None:
        if self.provider is not None:
            self.provider.shutdown()
        for f in self._files:
            f.close()


def _span_line(span: ReadableSpan) -> str:
    return str(span.to_json(indent=None)) + "\n"


def tracer_provider(
    service: str, trace_file: str = "", environ: Mapping[str, str] = os.environ
) -> tuple[TracerProvider, list[IO[str]]]:
    """A provider from the OTEL_* variables; `service` names it unless OTEL_SERVICE_NAME does."""
    attributes: dict[str, Any] = {}
    if not environ.get("OTEL_SERVICE_NAME"):
        attributes[SERVICE_NAME] = service
    exporting = _exporting(trace_file, environ)
    sampler = None  # the SDK's default: OTEL_TRACES_SAMPLER, else parentbased_always_on
    if not exporting and not environ.get("OTEL_TRACES_SAMPLER"):
        # Spans with nowhere to go are not recorded (recording them cost 40 % of a booking's
        # CPU, bench/); their trace and span ids still reach the logs and the next hop.
        sampler = ParentBased(ALWAYS_OFF)
    provider = TracerProvider(resource=Resource.create(attributes), sampler=sampler)
    files: list[IO[str]] = []
    if any(environ.get(name) for name in _OTLP_ENDPOINTS):
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    if trace_file:
        out = open(trace_file, "a", encoding="utf-8")  # noqa: SIM115 - closed by shutdown
        files.append(out)
        provider.add_span_processor(
            SimpleSpanProcessor(ConsoleSpanExporter(out=out, formatter=_span_line))
        )
    return provider, files


def _exporting(trace_file: str, environ: Mapping[str, str]) -> bool:
    """Whether finished spans go anywhere (a file, an OTLP collector)."""
    return bool(trace_file) or any(environ.get(name) for name in _OTLP_ENDPOINTS)


def setup(service: str, metrics_host: str, metrics_port: int, trace_file: str = "") -> Telemetry:
    """Installs the tracer provider and the instrumentation, and starts the metrics server.
    Call it before the first engine or channel is made: the instrumentation wraps their
    constructors."""
    provider: TracerProvider | None = None
    files: list[IO[str]] = []
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() != "true":
        provider, files = tracer_provider(service, trace_file)
        trace.set_tracer_provider(provider)
        GrpcAioInstrumentorServer(filter_=_traced).instrument(  # type: ignore[no-untyped-call]
            tracer_provider=provider
        )
        GrpcAioInstrumentorClient(filter_=_traced).instrument(  # type: ignore[no-untyped-call]
            tracer_provider=provider
        )
        # A database span costs more than a SQLite statement itself (14 us against 20,
        # bench/): none is made when no span would go anywhere.
        global _engine_tracer
        _engine_tracer = (
            trace.get_tracer("opentelemetry.instrumentation.sqlalchemy")
            if _exporting(trace_file, os.environ)
            else None
        )
    if metrics_port:
        try:
            start_http_server(metrics_port, addr=metrics_host)
            log.info("metrics", extra={"url": f"http://{metrics_host}:{metrics_port}/metrics"})
        except OSError as err:  # a busy port costs the metrics, not the service
            log.warning(
                "metrics server not started", extra={"port": metrics_port, "error": str(err)}
            )
    return Telemetry(provider, files)


def trace_engine(engine: Engine) -> None:
    """Database spans for every statement of `engine`, by the OpenTelemetry SQLAlchemy
    instrumentation's engine tracer. Used per engine rather than through its instrumentor, which
    patches `create_async_engine` too (it needs greenlet) and declares SQLAlchemy < 2.1 although
    the cursor events it listens to are unchanged in 2.1 (the tests check its spans)."""
    if _engine_tracer is None:
        return
    usage = get_meter(__name__).create_up_down_counter(
        "db.client.connections.usage", unit="connections"
    )
    EngineTracer(_engine_tracer, engine, usage)  # type: ignore[no-untyped-call]


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span, if there is one."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


def context_from(traceparent: str) -> Context:
    """The context an event's traceparent names (an empty one if none)."""
    return propagate.extract({"traceparent": traceparent} if traceparent else {})
