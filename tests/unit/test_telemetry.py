"""Telemetry pieces in one process, with the SDK's in-memory span exporter: the provider built
from OTEL_* variables, the traceparent an outbox row records, trace ids and redaction in the JSON
logs, database spans, and the interceptor's Prometheus counters."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import REGISTRY
from sqlalchemy import MetaData, create_engine, select

from yoga.reservation.v1 import events_pb2
from yoga_common import telemetry
from yoga_common.auth import Principal
from yoga_common.interceptors import ServiceInterceptor
from yoga_common.logs import JsonFormatter
from yoga_common.outbox import add_event, outbox_table


@pytest.fixture
def spans() -> Iterator[tuple[trace.Tracer, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider.get_tracer("test"), exporter
    provider.shutdown()


def processors(provider: TracerProvider) -> list[Any]:
    return list(provider._active_span_processor._span_processors)


def test_no_exporter_without_an_endpoint() -> None:
    provider, files = telemetry.tracer_provider("reservation_svc", environ={})
    assert processors(provider) == [] and files == []
    assert provider.resource.attributes["service.name"] == "reservation_svc"


def test_spans_with_nowhere_to_go_are_not_recorded_but_keep_their_ids() -> None:
    provider, _ = telemetry.tracer_provider("reservation_svc", environ={})
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("request") as span:
        context = span.get_span_context()
        assert not span.is_recording()
        assert context.is_valid and not context.trace_flags.sampled
        # The id travels on: the next hop (an outbox row, a gRPC call) carries it, unsampled.
        ids = f"{trace.format_trace_id(context.trace_id)}-{trace.format_span_id(context.span_id)}"
        sent = str(telemetry.current_traceparent())
        assert sent[3:-3] == ids
        assert not int(sent[-2:], 16) & 1  # the sampled flag is off
    parent = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"
    with tracer.start_as_current_span("child", context=telemetry.context_from(parent)) as child:
        # A caller that samples its trace is followed.
        assert child.is_recording()
        assert child.get_span_context().trace_id == int("ab" * 16, 16)


def test_an_explicit_sampler_is_kept() -> None:
    provider, _ = telemetry.tracer_provider(
        "reservation_svc", environ={"OTEL_TRACES_SAMPLER": "always_on"}
    )
    with provider.get_tracer("test").start_as_current_span("request") as span:
        assert span.is_recording()


def test_spans_are_recorded_when_they_go_to_a_file(tmp_path: Path) -> None:
    provider, files = telemetry.tracer_provider("mypage_svc", str(tmp_path / "s.jsonl"), environ={})
    with provider.get_tracer("test").start_as_current_span("request") as span:
        assert span.is_recording()
    telemetry.Telemetry(provider, files).shutdown()


def test_otlp_exporter_when_an_endpoint_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    import os

    provider, _ = telemetry.tracer_provider("reservation_svc", environ=os.environ)
    [processor] = processors(provider)
    assert isinstance(processor, BatchSpanProcessor)
    assert isinstance(processor._batch_processor._exporter, OTLPSpanExporter)
    assert provider.resource.attributes["service.name"] == "from-env"
    provider.shutdown()


def test_trace_file_gets_one_json_line_per_span(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    provider, files = telemetry.tracer_provider("mypage_svc", str(path), environ={})
    with provider.get_tracer("test").start_as_current_span("work"):
        pass
    telemetry.Telemetry(provider, files).shutdown()
    [line] = path.read_text().splitlines()
    span = json.loads(line)
    assert span["name"] == "work"
    assert span["resource"]["attributes"]["service.name"] == "mypage_svc"


def test_outbox_row_records_the_traceparent_of_the_change(
    spans: tuple[trace.Tracer, InMemorySpanExporter],
) -> None:
    tracer, exporter = spans
    metadata = MetaData()
    table = outbox_table(metadata)
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as conn:
        with tracer.start_as_current_span("CreateReservation", kind=SpanKind.SERVER):
            add_event(conn, table, "topic", "key", events_pb2.ReservationConfirmed())
        add_event(conn, table, "topic", "key", events_pb2.ReservationConfirmed())
        traced, untraced = [r.traceparent for r in conn.execute(select(table).order_by(table.c.id))]
    [span] = exporter.get_finished_spans()
    assert span.context is not None
    assert traced.startswith(f"00-{span.context.trace_id:032x}-{span.context.span_id:016x}-")
    assert untraced is None
    # ... and a consumer's span continues it.
    with tracer.start_as_current_span("process", context=telemetry.context_from(traced)) as child:
        assert child.get_span_context().trace_id == span.context.trace_id
    assert telemetry.context_from("") == telemetry.context_from("garbage")


def test_database_spans_join_the_current_trace(
    spans: tuple[trace.Tracer, InMemorySpanExporter],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    tracer, exporter = spans
    monkeypatch.setattr(telemetry, "_engine_tracer", tracer)
    from yoga_common.db import Database

    db = Database(f"sqlite:///{tmp_path}/traced.db", threads=1)
    try:
        with tracer.start_as_current_span("request"):
            assert db.run_sync(lambda conn: conn.exec_driver_sql("SELECT 1").scalar()) == 1
    finally:
        db.close()
    finished = exporter.get_finished_spans()
    request = next(s for s in finished if s.name == "request")
    database = [s for s in finished if s.attributes and "db.system" in s.attributes]
    assert database
    assert all(s.parent and s.parent.span_id == request.context.span_id for s in database)  # type: ignore[union-attr]


def record(message: str, **extra: Any) -> logging.LogRecord:
    entry = logging.LogRecord("yoga", logging.INFO, __file__, 1, message, None, None)
    for key, value in extra.items():
        setattr(entry, key, value)
    return entry


def test_log_lines_carry_trace_and_span_ids(
    spans: tuple[trace.Tracer, InMemorySpanExporter],
) -> None:
    tracer, _ = spans
    formatter = JsonFormatter("reservation")
    assert "trace_id" not in json.loads(formatter.format(record("outside")))
    with tracer.start_as_current_span("request") as span:
        line = json.loads(formatter.format(record("reservation rejected", reason="CLASS_FULL")))
    context = span.get_span_context()
    assert line["trace_id"] == f"{context.trace_id:032x}"
    assert line["span_id"] == f"{context.span_id:016x}"
    assert line["service"] == "reservation" and line["level"] == "info"
    assert line["reason"] == "CLASS_FULL"


def test_log_lines_never_carry_secrets() -> None:
    line = json.loads(
        JsonFormatter("x").format(
            record("call", authorization="Bearer abc", access_token="abc", db_password="pw")
        )
    )
    assert "abc" not in json.dumps(line) and "pw" not in json.dumps(line)
    assert line["authorization"] == "[redacted]"


BEARER = (("authorization", "Bearer t"),)


class FakeContext:
    def __init__(self, metadata: tuple[tuple[str, str], ...] = ()) -> None:
        self._code: Any = None
        self._metadata = metadata

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    def code(self) -> Any:
        return self._code

    async def abort(self, code: Any, details: str, trailing: Any = None) -> None:
        self._code = code
        raise grpc.aio.AbortError()


class FakeVerifier:
    def __init__(self, asks_provider: bool = False) -> None:
        self._asks = asks_provider
        self.threads: list[str] = []

    def asks_provider(self, token: str) -> bool:
        return self._asks

    def verify(self, token: str) -> Principal:
        self.threads.append(threading.current_thread().name)
        if self._asks:
            time.sleep(0.3)  # the provider, slow to answer (or down, until its timeout)
        return Principal(subject="11", role="member")


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_interceptor_counts_calls_by_method_and_code() -> None:
    method = "/test.v1.Things/Get"
    interceptor = ServiceInterceptor(FakeVerifier(), {method: frozenset({"member"})})  # type: ignore[arg-type]
    labels = {"grpc_type": "unary", "grpc_service": "test.v1.Things", "grpc_method": "Get"}
    ok_before = sample("grpc_server_handled_total", **labels, grpc_code="OK")
    denied_before = sample("grpc_server_handled_total", **labels, grpc_code="UNAUTHENTICATED")

    async def inner(request: Any, context: Any) -> str:
        return "answer"

    guarded = interceptor._guard(method, inner)
    assert await guarded(None, FakeContext(BEARER)) == "answer"
    with pytest.raises(grpc.aio.AbortError):
        await guarded(None, FakeContext())
    assert sample("grpc_server_handled_total", **labels, grpc_code="OK") == ok_before + 1
    assert (
        sample("grpc_server_handled_total", **labels, grpc_code="UNAUTHENTICATED")
        == denied_before + 1
    )
    assert sample("grpc_server_handling_seconds_count", **labels) >= 2


async def test_a_call_that_asks_the_provider_for_keys_holds_up_no_other_call() -> None:
    """A token of a key the service does not hold makes it ask the provider: off the event
    loop, so the process's other calls go on meanwhile (a provider that is down answers only at
    its timeout)."""
    method = "/test.v1.Things/Get"
    asking = FakeVerifier(asks_provider=True)
    interceptor = ServiceInterceptor(asking, {method: frozenset({"member"})})  # type: ignore[arg-type]

    async def inner(request: Any, context: Any) -> str:
        return "answer"

    ticks = 0

    async def other_calls() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticker = asyncio.create_task(other_calls())
    guarded = interceptor._guard(method, inner)
    assert await guarded(None, FakeContext(BEARER)) == "answer"
    ticker.cancel()
    assert ticks >= 10, ticks
    assert asking.threads != [threading.main_thread().name]
    known = FakeVerifier()
    interceptor = ServiceInterceptor(known, {method: frozenset({"member"})})  # type: ignore[arg-type]
    await interceptor._guard(method, inner)(None, FakeContext(BEARER))
    assert known.threads == [threading.current_thread().name]  # a held key: checked in place


def test_dashboard_names_only_metrics_the_services_export() -> None:
    import re

    import notification_svc.mailer
    import notification_svc.reminder_job
    import reservation_svc.service
    import yogaclass_svc.service

    assert notification_svc.mailer and notification_svc.reminder_job
    assert reservation_svc.service and yogaclass_svc.service
    exported = {
        sample_name
        for family in REGISTRY.collect()
        for sample_name in (
            family.name,
            f"{family.name}_total",
            f"{family.name}_bucket",
            f"{family.name}_count",
        )
    }
    dashboard = Path(__file__).resolve().parents[2] / "monitoring" / "grafana-dashboard.json"
    panels = json.loads(dashboard.read_text())["panels"]
    exprs = [target["expr"] for panel in panels for target in panel["targets"]]
    used = {n for e in exprs for n in re.findall(r"\b((?:yoga|grpc_server)_[a-z_]+)\{", e)}
    assert used, "the dashboard names no metric"
    assert used <= exported, used - exported
    titles = " ".join(panel["title"] for panel in panels).lower()
    for wanted in ("bookings per second", "p99", "outbox backlog", "consumer lag"):
        assert wanted in titles
