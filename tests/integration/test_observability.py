"""Observability end to end, all four services over real Kafka and SMTP (SQLite): one trace from
the caller through gRPC, the databases and Kafka to both consumers; Prometheus counters after the
seed scenario; the trace id in the log line of a rejected booking.

The services are separate processes, so an in-memory span exporter in this process could not see
their spans. Each service instead gets `<PREFIX>_TRACE_FILE`: the OpenTelemetry SDK's
ConsoleSpanExporter on a SimpleSpanProcessor writes every finished span as one JSON line, and the
tests read those files (the same SDK spans an OTLP exporter would send)."""

from __future__ import annotations

import asyncio
import json
import secrets
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from devtools.processes import free_port
from tests.integration.conftest import ALL, Clients, Stack, connect, system_under_test
from tests.integration.events_support import Mailbox
from tests.integration.support import a_class, eventually, request_id
from yoga.reservation.v1 import reservation_pb2 as rpb
from yoga.yogaclass.v1 import yogaclass_pb2 as ypb
from yoga_common import system
from yoga_common.auth import ADMIN, MEMBER
from yoga_common.system import RESERVATION_EVENTS

Span = dict[str, Any]


@dataclass
class Observed:
    stack: Stack
    mailbox: Mailbox
    folder: Path
    metrics_ports: dict[str, int]

    def spans(self, service: str) -> list[Span]:
        path = self.folder / f"{service}.spans.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def metrics(self, service: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        url = f"http://127.0.0.1:{self.metrics_ports[service]}/metrics"
        with urllib.request.urlopen(url, timeout=5) as answer:
            text = answer.read().decode()
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def log_lines(self, service: str) -> list[dict[str, Any]]:
        lines = []
        for raw in (self.folder / f"{service}.log").read_text(errors="replace").splitlines():
            try:
                lines.append(json.loads(raw))
            except json.JSONDecodeError:
                continue  # a line a library wrote itself
        return lines


@pytest.fixture(scope="module")
def observed(auth: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observed]:
    folder = tmp_path_factory.mktemp("observability")
    mailbox = Mailbox(free_port())
    mailbox.start()
    env = {"YOGA_KAFKA_LAG_INTERVAL_SECONDS": "0.5"}
    for name in ALL:
        env[f"{system.service(name).env_prefix}TRACE_FILE"] = str(folder / f"{name}.spans.jsonl")
    try:
        with system_under_test(
            "sqlite",
            auth,
            folder,
            ALL,
            pending_grace=1.0,
            smtp_port=mailbox.port,
            metrics=True,
            common_env=env,
        ) as stack:
            yield Observed(stack, mailbox, folder, stack.metrics_ports)
    finally:
        mailbox.stop()


@pytest.fixture
async def c(observed: Observed) -> AsyncIterator[Clients]:
    async for clients in connect(observed.stack):
        yield clients


def traceparent() -> tuple[str, str]:
    """A sampled W3C traceparent as a gateway would send it, and its trace id."""
    trace_id = secrets.token_hex(16)
    return f"00-{trace_id}-{secrets.token_hex(8)}-01", trace_id


async def book(c: Clients, class_id: str, user: str) -> tuple[rpb.Reservation, str]:
    header, trace_id = traceparent()
    answer = await c.reservations.CreateReservation(
        rpb.CreateReservationRequest(class_id=class_id, request_id=request_id()),
        metadata=(*c.stack.as_user(user, MEMBER), ("traceparent", header)),
        timeout=60,
    )
    return answer.reservation, trace_id


async def new_class(c: Clients, capacity: int) -> ypb.YogaClass:
    answer = await c.classes.CreateClass(
        ypb.CreateClassRequest(
            yoga_class=a_class(capacity, title=f"Traced {uuid.uuid4().hex[:6]}")
        ),
        metadata=c.stack.as_user("staff-1", ADMIN),
    )
    return answer.yoga_class


def of_trace(spans: list[Span], trace_id: str) -> list[Span]:
    return [s for s in spans if s["context"]["trace_id"] == f"0x{trace_id}"]


def named(spans: list[Span], name: str, kind: str) -> list[Span]:
    return [s for s in spans if s["name"] == name and s["kind"] == f"SpanKind.{kind}"]


async def test_one_trace_from_the_caller_to_every_consumer(c: Clients, observed: Observed) -> None:
    yoga_class = await new_class(c, 1)
    reservation, trace_id = await book(c, yoga_class.class_id, "trace-1")
    assert reservation.status == rpb.RESERVATION_STATUS_CONFIRMED

    def consumed(service: str) -> list[Span]:
        spans = of_trace(observed.spans(service), trace_id)
        return [s for s in spans if s["kind"] == "SpanKind.CONSUMER"]

    async def consumers_joined() -> bool:
        return all(consumed(s) for s in ("notification", "mypage"))

    await eventually(consumers_joined, within=15.0)

    reservation_spans = of_trace(observed.spans("reservation"), trace_id)
    yogaclass_spans = of_trace(observed.spans("yogaclass"), trace_id)
    create = "/yoga.reservation.v1.ReservationService/CreateReservation"
    # Concurrent bookings share one ReserveSeats call (group commit); a lone one has its own.
    reserve = "/yoga.yogaclass.v1.YogaClassService/ReserveSeats"
    [server] = named(reservation_spans, create, "SERVER")
    [client] = named(reservation_spans, reserve, "CLIENT")
    [seat_server] = named(yogaclass_spans, reserve, "SERVER")
    assert client["parent_id"] == server["context"]["span_id"]
    assert seat_server["parent_id"] == client["context"]["span_id"]
    for spans in (reservation_spans, yogaclass_spans):
        database = [s for s in spans if "db.system" in s["attributes"]]
        assert database, "no database spans in the trace"
    for service in ("notification", "mypage"):
        spans = consumed(service)
        assert all(s["attributes"]["messaging.system"] == "kafka" for s in spans)
        assert spans[0]["resource"]["attributes"]["service.name"] == f"{service}_svc"
        # The consumer's own database work is in the same trace.
        assert any(
            "db.system" in s["attributes"] for s in of_trace(observed.spans(service), trace_id)
        )


def value(
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def quiet(observed: Observed) -> bool:
    """Every notification applied so far has been mailed."""
    found = observed.metrics("notification")
    applied = sum(
        v for (name, _), v in found.items() if name == "yoga_consumer_events_applied_total"
    )
    return applied == value(found, "yoga_notification_deliveries_total", state="sent")


async def test_seed_scenario_counters_and_the_rejected_booking_log_line(
    c: Clients, observed: Observed
) -> None:
    await eventually(lambda: quiet(observed), within=20.0)  # earlier tests' mail is out
    before = {s: observed.metrics(s) for s in ALL}
    yoga_class = await new_class(c, 2)
    r11, _ = await book(c, yoga_class.class_id, "seed-11")
    await book(c, yoga_class.class_id, "seed-12")
    r13, rejected_trace = await book(c, yoga_class.class_id, "seed-13")
    assert r13.status == rpb.RESERVATION_STATUS_REJECTED
    await c.reservations.CancelReservation(
        rpb.CancelReservationRequest(reservation_id=r11.reservation_id),
        metadata=c.stack.as_user("seed-11", MEMBER),
    )

    def delta(service: str, name: str, **labels: str) -> float:
        now = observed.metrics(service)
        return value(now, name, **labels) - value(before[service], name, **labels)

    # Reservations by outcome, gRPC calls by method and code, seats.
    assert delta("reservation", "yoga_reservations_total", outcome="confirmed") == 2
    assert delta("reservation", "yoga_reservations_total", outcome="rejected") == 1
    assert delta("reservation", "yoga_reservations_total", outcome="cancelled") == 1
    grpc = {
        "grpc_type": "unary",
        "grpc_service": "yoga.reservation.v1.ReservationService",
    }
    assert (
        delta(
            "reservation",
            "grpc_server_handled_total",
            **grpc,
            grpc_method="CreateReservation",
            grpc_code="OK",
        )
        == 3
    )
    assert (
        delta(
            "reservation",
            "grpc_server_handling_seconds_count",
            **grpc,
            grpc_method="CreateReservation",
        )
        == 3
    )
    assert (
        delta(
            "reservation",
            "grpc_server_handled_total",
            **grpc,
            grpc_method="CancelReservation",
            grpc_code="OK",
        )
        == 1
    )
    assert delta("yogaclass", "yoga_seats_booked_total") == 2
    assert delta("yogaclass", "yoga_seat_requests_total", result="class_full") == 1

    # Events: published, applied by both consumers, mailed; nothing left waiting.
    def lag(service: str) -> float:
        return value(
            observed.metrics(service),
            "yoga_consumer_lag_messages",
            consumer=f"{service}_svc",
            topic=RESERVATION_EVENTS,
        )

    async def settled() -> bool:
        return (
            delta("notification", "yoga_notification_deliveries_total", state="sent") >= 4
            and value(observed.metrics("reservation"), "yoga_outbox_unsent_events") == 0
            and lag("notification") == 0
            and lag("mypage") == 0
        )

    await eventually(settled, within=20.0)
    assert delta("notification", "yoga_notification_deliveries_total", state="sent") == 4
    applied = {
        kind: delta(
            "notification",
            "yoga_consumer_events_applied_total",
            consumer="notification_svc",
            event_type=f"yoga.reservation.v1.Reservation{kind}",
        )
        for kind in ("Confirmed", "Rejected", "Cancelled")
    }
    assert applied == {"Confirmed": 2, "Rejected": 1, "Cancelled": 1}
    assert delta("reservation", "yoga_outbox_publish_latency_seconds_count") >= 4
    assert (
        delta("notification", "yoga_consumer_dead_letters_total", consumer="notification_svc") == 0
    )
    assert (
        delta(
            "yogaclass",
            "grpc_server_handled_total",
            grpc_type="unary",
            grpc_service="yoga.yogaclass.v1.YogaClassService",
            grpc_method="ReserveSeats",
            grpc_code="OK",
        )
        == 3
    )

    # The log line of the rejected booking carries that request's trace id.
    [line] = [
        entry
        for entry in observed.log_lines("reservation")
        if entry.get("reservation_id") == r13.reservation_id
        and entry["message"].endswith("rejected")
    ]
    assert line["trace_id"] == rejected_trace
    assert len(line["span_id"]) == 16
    assert line["service"] == "reservation" and line["level"] == "info"
    assert line["reason"] == "CLASS_FULL"
    # No token reaches any log.
    for service in ALL:
        text = (observed.folder / f"{service}.log").read_text(errors="replace")
        assert c.stack.token("seed-13", MEMBER) not in text


async def test_a_studio_cancellation_counts_each_booking_it_cancels(
    c: Clients, observed: Observed
) -> None:
    """A class deleted by the studio cancels its bookings through the same use case as a
    member's cancel, so yoga_reservations_total{outcome="cancelled"} counts them too."""
    yoga_class = await new_class(c, 3)
    booked = [(await book(c, yoga_class.class_id, f"studio-{n}"))[0] for n in (1, 2)]
    assert {r.status for r in booked} == {rpb.RESERVATION_STATUS_CONFIRMED}
    before = value(observed.metrics("reservation"), "yoga_reservations_total", outcome="cancelled")
    await c.classes.DeleteClass(
        ypb.DeleteClassRequest(class_id=yoga_class.class_id), metadata=c.stack.as_admin()
    )

    async def all_cancelled_by_studio() -> bool:
        listed = await c.reservations.ListReservations(
            rpb.ListReservationsRequest(class_id=yoga_class.class_id),
            metadata=c.stack.as_admin(),
        )
        return len(listed.reservations) == 2 and all(
            r.reason == rpb.RESERVATION_REASON_CANCELLED_BY_STUDIO for r in listed.reservations
        )

    await eventually(all_cancelled_by_studio, within=30.0)
    after = value(observed.metrics("reservation"), "yoga_reservations_total", outcome="cancelled")
    assert after - before == 2


async def test_metrics_server_answers_while_idle(observed: Observed) -> None:
    found = await asyncio.to_thread(observed.metrics, "mypage")
    assert any(name.startswith("yoga_consumer_lag_messages") for name, _ in found)
