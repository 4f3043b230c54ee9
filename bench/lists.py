"""`make bench-lists`: every list call at size (issue 12 §3), timed through gRPC on SQLite and on
PostgreSQL; the table goes to bench/results/lists.md. A measurement, not a test.

    .venv/bin/python bench/lists.py [--backends sqlite,postgres] [--calls 500]

The data is written straight into each service's database (migrated by its own Alembic
history), not through the API, for speed: 100,000 classes a quarter of an hour apart, from a
year ago to two years ahead; one member with 5,000 reservations spread over them (a third in
the past), among 50,000 reservations of 2,001 members; a notification and a my-page entry per
reservation. Then the four services start (devtools.stack, as the bench and the tests start
them; no broker: a list reads only its database) and each call is made one at a time from a
Python gRPC client, after a warm-up, its latency taken at the client. A later page is reached
the way a client reaches it, by following `next_page_token` (100 at a time) to about 98 % of the
list, so its token is one the service issued. Target: every list call under 10 ms p99.

The callers' tokens come from the identity provider the services trust, Keycloak
(scripts/keycloak.sh; bench/identity.py), and the member's id in the data is the provider's id
of the development user `bench-member`. It starts PostgreSQL and Keycloak side by side where
they are not running (PGPORT, KEYCLOAK_PORT and KEYCLOAK_DIR move them) and stops those it
started at the end, also when it fails or is interrupted."""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import Connection, Table, create_engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import mypage_svc.domain as mypage_domain  # noqa: E402
import mypage_svc.storage as mypage_tables  # noqa: E402
import notification_svc.storage as notification_tables  # noqa: E402
import reservation_svc.storage as reservation_tables  # noqa: E402
import yogaclass_svc.storage as class_tables  # noqa: E402
from bench import identity  # noqa: E402
from devtools import servers  # noqa: E402
from devtools.processes import new_database  # noqa: E402
from devtools.stack import Stack  # noqa: E402
from mypage_svc.storage import MyPageStore  # noqa: E402
from notification_svc.storage import NotificationStore  # noqa: E402
from reservation_svc.storage import ReservationStore  # noqa: E402
from yoga.mypage.v1 import mypage_pb2, mypage_pb2_grpc  # noqa: E402
from yoga.notification.v1 import notification_pb2, notification_pb2_grpc  # noqa: E402
from yoga.reservation.v1 import reservation_pb2, reservation_pb2_grpc  # noqa: E402
from yoga.yogaclass.v1 import yogaclass_pb2, yogaclass_pb2_grpc  # noqa: E402
from yoga_common import migrate, pagination, system  # noqa: E402
from yoga_common.auth import ADMIN  # noqa: E402
from yoga_common.settings import KafkaSettings  # noqa: E402
from yoga_common.timestamps import to_timestamp  # noqa: E402
from yogaclass_svc.storage import ClassStore  # noqa: E402

RESULTS = ROOT / "bench" / "results"
CLASSES = 100_000
# The development user whose lists are measured; in the data, its provider id (Data.member).
THE_MEMBER = "bench-member"
MEMBER_RESERVATIONS = 5_000
OTHER_RESERVATIONS = 45_000
OTHER_MEMBERS = 2_000
TARGET_P99_MS = 10.0
NO_BROKER = "127.0.0.1:1"  # nothing listens: the services' Kafka clients only wait for one
BATCH = 5_000
WALK_PAGE = 100  # the page size used to reach a later page
LATE = 0.98  # how far into a list "a later page" is


# --- the data --------------------------------------------------------------------------------


Metadata = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Data:
    first_start: datetime
    # The member's id in the system: the provider's id of THE_MEMBER (its tokens' `sub`).
    member: str

    def start(self, class_index: int) -> datetime:
        return self.first_start + timedelta(minutes=15 * class_index)

    def class_id(self, class_index: int) -> str:
        return str(uuid.UUID(int=class_index + 1))

    def bookings(self) -> Iterator[tuple[str, str, int]]:
        """(reservation id, member, class index) of every reservation."""
        step = CLASSES // MEMBER_RESERVATIONS
        for k in range(MEMBER_RESERVATIONS):
            yield str(uuid.UUID(int=(1 << 64) + k)), self.member, k * step
        for j in range(OTHER_RESERVATIONS):
            # Distinct classes per member (7 is prime to 100,000), as one active booking each.
            index = (j * 7 + 3) % CLASSES
            yield str(uuid.UUID(int=(2 << 64) + j)), f"m-{j % OTHER_MEMBERS}", index


def batches(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def fill(url: str, table: Table, rows: Iterator[dict[str, Any]]) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for batch in batches(rows):
                conn.execute(table.insert(), batch)
        if engine.dialect.name == "postgresql":
            # What autovacuum does soon after a load like this one.
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql(f"ANALYZE {table.name}")
    finally:
        engine.dispose()


def class_rows(d: Data) -> Iterator[dict[str, Any]]:
    for i in range(CLASSES):
        start = d.start(i)
        yield {
            "class_id": d.class_id(i),
            "title": f"Flow {i}",
            "instructor": "Jiwoo",
            "start_time": start,
            "end_time": start + timedelta(hours=1),
            "time_zone": "Asia/Seoul",
            "capacity": 30,
            "booked": 0,
            "status": "SCHEDULED",
            "create_time": d.first_start - timedelta(days=30),
            "update_time": d.first_start - timedelta(days=30),
            "version": 1,
        }


def _cancelled(n: int) -> bool:
    return n % 10 == 0


def reservation_rows(d: Data) -> Iterator[dict[str, Any]]:
    for n, (rid, user, i) in enumerate(d.bookings()):
        start = d.start(i)
        yield {
            "reservation_id": rid,
            "class_id": d.class_id(i),
            "user_id": user,
            "user_email": f"{user}@example.com",
            "status": "CANCELLED" if _cancelled(n) else "CONFIRMED",
            "reason": "CANCELLED_BY_USER" if _cancelled(n) else "NONE",
            "request_id": rid,
            "request_hash": "bench",
            "class_title": f"Flow {i}",
            "class_start_time": start,
            "class_end_time": start + timedelta(hours=1),
            "class_time_zone": "Asia/Seoul",
            "create_time": start - timedelta(days=3, seconds=n % 3600),
            "update_time": start - timedelta(days=3),
            "version": 3 if _cancelled(n) else 2,
            "release_pending": False,
        }


def notification_rows(d: Data) -> Iterator[dict[str, Any]]:
    for n, (rid, user, i) in enumerate(d.bookings()):
        start = d.start(i)
        yield {
            "notification_id": str(uuid.UUID(int=(3 << 64) + n)),
            "event_id": str(uuid.UUID(int=(4 << 64) + n)),
            "user_id": user,
            "kind": "BOOKED",
            "reservation_id": rid,
            "class_id": d.class_id(i),
            "class_title": f"Flow {i}",
            "class_start_time": start,
            "subject": f"Booked: Flow {i}",
            "body": f"You are booked for Flow {i}.",
            "email": f"{user}@example.com",
            "email_state": "SENT",
            "attempts": 1,
            "next_attempt_at": None,
            "last_error": "",
            "claim_id": None,
            "create_time": start - timedelta(days=3, seconds=n % 3600),
            "sent_time": start - timedelta(days=3),
        }


def mypage_rows(d: Data) -> Iterator[dict[str, Any]]:
    for n, (rid, user, i) in enumerate(d.bookings()):
        start = d.start(i)
        yield {
            "reservation_id": rid,
            "class_id": d.class_id(i),
            "user_id": user,
            "status": "CANCELLED" if _cancelled(n) else "CONFIRMED",
            "reason": "CANCELLED_BY_USER" if _cancelled(n) else "NONE",
            "class_title": f"Flow {i}",
            "class_start_time": start,
            "class_end_time": start + timedelta(hours=1),
            "update_time": start - timedelta(days=3),
            "version": 3 if _cancelled(n) else 2,
        }


def mypage_class_rows(d: Data) -> Iterator[dict[str, Any]]:
    for row in class_rows(d):
        yield {
            "class_id": row["class_id"],
            "title": row["title"],
            "start_time": row["start_time"],
            "end_time": row["end_time"],
            "cancelled": False,
            "version": 1,
        }


def databases(backend: str, folder: Path, pg_admin_url: str, d: Data) -> dict[str, str]:
    urls = {}
    for name in system.SERVICES:
        urls[name] = new_database(backend, folder, f"lists_{name}", pg_admin_url)
        migrate.upgrade(urls[name], ROOT / system.service(name).package / "migrations")
    loads: list[tuple[str, Table, Callable[[Data], Iterator[dict[str, Any]]]]] = [
        ("yogaclass", class_tables.classes, class_rows),
        ("reservation", reservation_tables.reservations, reservation_rows),
        ("notification", notification_tables.notifications, notification_rows),
        ("mypage", mypage_tables.reservations, mypage_rows),
        ("mypage", mypage_tables.classes, mypage_class_rows),
    ]
    for name, table, rows in loads:
        began = time.monotonic()
        fill(urls[name], table, rows(d))
        print(f"   {name}.{table.name}: {time.monotonic() - began:.0f} s", flush=True)
    return urls


# --- the calls -------------------------------------------------------------------------------


@dataclass
class Call:
    """One list call: `send(request, metadata)` returns the response, `caller()` is the
    metadata (the caller's token, as the provider holds it now: taken once before each loop of
    calls, so none waits for the provider); `request(size, token)` builds it; `health()` is
    the reference: a Health/Check of the same service (no database, no token)."""

    name: str
    send: Callable[[Any, Metadata], Any]
    caller: Callable[[], Metadata]
    request: Callable[[int, str], Message]
    items: Callable[[Any], int]
    health: Callable[[], Any]
    # The statements the service sends for a page at `token`, run in this process on a
    # connection of the service's database: the database's share of the call.
    queries: Callable[[str], Callable[[Connection], Any]]
    database: str
    late: bool = False

    def token_late_in_the_list(self) -> tuple[str, int]:
        """A token the service issued about 98 % into the list, and the list's length."""
        tokens, count, token = [], 0, ""
        caller = self.caller()
        while True:
            answer = self.send(self.request(WALK_PAGE, token), caller)
            count += self.items(answer)
            token = answer.next_page_token
            if not token:
                break
            tokens.append((count, token))
        late = [t for c, t in tokens if c <= count * LATE]
        return (late[-1] if late else tokens[-1][1]), count


@dataclass
class Timing:
    name: str
    p50_ms: float
    p99_ms: float
    health_p50_ms: float
    health_p99_ms: float
    queries_p50_ms: float
    queries_p99_ms: float


def _ms(send: Callable[[], Any]) -> float:
    began = time.perf_counter()
    send()
    return (time.perf_counter() - began) * 1000


def _p50_p99(times: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(times, n=100, method="inclusive")
    return cuts[49], cuts[98]


def timed(call: Call, url: str, calls: int, warmup: int) -> Timing:
    """The list call and its reference, alternately, so a busy moment of the shared machine
    falls on both; then its queries alone."""
    token, length = call.token_late_in_the_list() if call.late else ("", 0)
    request = call.request(0, token)  # the default page size, as a client would ask
    caller = call.caller()  # valid for at least a minute: longer than the calls take
    listed = call.items(call.send(request, caller))
    for _ in range(warmup):
        call.send(request, caller)
        call.health()
    times, health = [], []
    for _ in range(calls):
        times.append(_ms(lambda: call.send(request, caller)))
        health.append(_ms(call.health))
    queries = call.queries(token)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert len(queries(conn)) in (listed, listed + 1), "not the call's queries"
            conn.rollback()
            for _ in range(warmup):
                queries(conn)
                conn.rollback()
            alone = []
            for _ in range(calls):
                alone.append(_ms(lambda: queries(conn)))
                conn.rollback()
    finally:
        engine.dispose()
    where = f", {length:,} long" if call.late else ""
    return Timing(
        f"{call.name} ({listed} listed{where})",
        *_p50_p99(times),
        *_p50_p99(health),
        *_p50_p99(alone),
    )


PAGE = 20  # the default page size; a store is asked for one more, to know of a next page


def classes_queries(
    start: datetime | None, end: datetime | None
) -> Callable[[str], Callable[[Connection], Any]]:
    def of(token: str) -> Callable[[Connection], Any]:
        after = pagination.decode_after(token)
        return lambda conn: ClassStore(conn).page(start, end, PAGE + 1, after)

    return of


def reservations_queries(user: str) -> Callable[[str], Callable[[Connection], Any]]:
    def of(token: str) -> Callable[[Connection], Any]:
        after = pagination.decode_after(token)
        return lambda conn: ReservationStore(conn).page("", user, PAGE + 1, after)

    return of


def notifications_queries(user: str) -> Callable[[str], Callable[[Connection], Any]]:
    def of(token: str) -> Callable[[Connection], Any]:
        after = pagination.decode_after(token)
        return lambda conn: NotificationStore(conn).page(user, PAGE + 1, after)

    return of


def mypage_queries(user: str) -> Callable[[str], Callable[[Connection], Any]]:
    def of(token: str) -> Callable[[Connection], Any]:
        now = datetime.now(UTC)
        start = mypage_domain.position_of(token) or mypage_domain.first_position(now)

        def read(conn: Connection) -> list[Any]:
            # As MyPageService.page reads: a part that runs out hands over to the next.
            found: list[Any] = []
            part: mypage_domain.PagePosition | None = start
            while part is not None and len(found) <= PAGE:
                found += MyPageStore(conn).page(user, part, PAGE + 1 - len(found))
                part = mypage_domain.next_phase(part)
            return found

        return read

    return of


def list_calls(stack: Stack, d: Data) -> tuple[list[Call], list[Any]]:
    def member() -> Metadata:
        return identity.metadata(THE_MEMBER)

    def admin() -> Metadata:
        return identity.metadata("staff-1", ADMIN)

    channels = {n: grpc.insecure_channel(stack.target(n)) for n in system.SERVICES}
    classes = yogaclass_pb2_grpc.YogaClassServiceStub(channels["yogaclass"])
    reservations = reservation_pb2_grpc.ReservationServiceStub(channels["reservation"])
    notifications = notification_pb2_grpc.NotificationServiceStub(channels["notification"])
    mypage = mypage_pb2_grpc.MyPageServiceStub(channels["mypage"])

    def health(service: str) -> Callable[[], Any]:
        stub = health_pb2_grpc.HealthStub(channels[service])
        return lambda: stub.Check(health_pb2.HealthCheckRequest(), timeout=30)

    window_start = d.start(CLASSES - 7 * 96)  # the last week of the catalogue
    window = {
        "start_time": to_timestamp(window_start),
        "end_time": to_timestamp(window_start + timedelta(days=7)),
    }

    def list_classes(r: Any, md: Metadata) -> Any:
        return classes.ListClasses(r, metadata=md, timeout=30)

    def classes_request(**extra: Any) -> Callable[[int, str], Message]:
        return lambda size, token: yogaclass_pb2.ListClassesRequest(
            page_size=size, page_token=token, **extra
        )

    def list_reservations(r: Any, md: Metadata) -> Any:
        return reservations.ListReservations(r, metadata=md, timeout=30)

    def reservations_request(user: str) -> Callable[[int, str], Message]:
        return lambda size, token: reservation_pb2.ListReservationsRequest(
            user_id=user, page_size=size, page_token=token
        )

    def list_notifications(r: Any, md: Metadata) -> Any:
        return notifications.ListNotifications(r, metadata=md, timeout=30)

    def notifications_request(size: int, token: str) -> Message:
        return notification_pb2.ListNotificationsRequest(
            user_id=d.member, page_size=size, page_token=token
        )

    def get_my_page(r: Any, md: Metadata) -> Any:
        return mypage.GetMyPage(r, metadata=md, timeout=30)

    def mypage_request(size: int, token: str) -> Message:
        return mypage_pb2.GetMyPageRequest(user_id=d.member, page_size=size, page_token=token)

    def n_classes(a: Any) -> int:
        return len(a.yoga_classes)

    def n_reservations(a: Any) -> int:
        return len(a.reservations)

    def n_notifications(a: Any) -> int:
        return len(a.notifications)

    def n_entries(a: Any) -> int:
        return len(a.entries)

    everyone, week = classes_request(), classes_request(**window)
    mine, all_of_them = reservations_request(d.member), reservations_request("")
    all_classes = classes_queries(None, None)
    week_of_classes = classes_queries(window_start, window_start + timedelta(days=7))

    def both(
        name: str,
        service: str,
        send: Callable[[Any, Metadata], Any],
        request: Callable[[int, str], Message],
        items: Callable[[Any], int],
        queries: Callable[[str], Callable[[Connection], Any]],
        caller: Callable[[], Metadata] = member,
    ) -> list[Call]:
        """A list's first page and a later one."""
        check = health(service)
        return [
            Call(f"{name}, page 1", send, caller, request, items, check, queries, service),
            Call(
                f"{name}, a later page",
                send,
                caller,
                request,
                items,
                check,
                queries,
                service,
                True,
            ),
        ]

    C, R, N, M = "yogaclass", "reservation", "notification", "mypage"
    calls = [
        *both("ListClasses", C, list_classes, everyone, n_classes, all_classes),
        *both("ListClasses, a week's window", C, list_classes, week, n_classes, week_of_classes),
        *both(
            "ListReservations, the member",
            R,
            list_reservations,
            mine,
            n_reservations,
            reservations_queries(d.member),
        ),
        *both(
            "ListReservations, an admin (everyone's)",
            R,
            list_reservations,
            all_of_them,
            n_reservations,
            reservations_queries(""),
            admin,
        ),
        *both(
            "ListNotifications",
            N,
            list_notifications,
            notifications_request,
            n_notifications,
            notifications_queries(d.member),
        ),
        *both("GetMyPage", M, get_my_page, mypage_request, n_entries, mypage_queries(d.member)),
    ]
    return calls, list(channels.values())


def one_backend(
    backend: str, folder: Path, pg_admin_url: str, member: str, calls: int, warmup: int
) -> list[Timing]:
    """`member`: the member's id in the system (the provider's id of THE_MEMBER)."""
    folder.mkdir(parents=True)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    d = Data(first_start=now - timedelta(days=365), member=member)
    print(f"== {backend}: filling the databases", flush=True)
    urls = databases(backend, folder, pg_admin_url, d)
    stack = Stack(
        folder,
        identity.auth(),
        KafkaSettings(bootstrap_servers=NO_BROKER),
        database_urls=urls,
        topics=False,
    )
    print(f"== {backend}: starting the services", flush=True)
    stack.start()
    channels: list[Any] = []
    try:
        measured, channels = list_calls(stack, d)
        found = []
        for call in measured:
            found.append(timed(call, urls[call.database], calls, warmup))
            t = found[-1]
            print(
                f"   {t.name}: p50 {t.p50_ms:.2f} ms, p99 {t.p99_ms:.2f} ms (health "
                f"{t.health_p50_ms:.2f} / {t.health_p99_ms:.2f}; queries "
                f"{t.queries_p50_ms:.2f} / {t.queries_p99_ms:.2f}); "
                f"load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
        return found
    finally:
        for channel in channels:
            channel.close()
        stack.stop()


def table(results: dict[str, list[Timing]], header: str) -> str:
    lines = [
        "# List calls at size",
        "",
        header,
        "",
        "Per list call: its latency through gRPC (p50 / p99, ms); its reference, a Health/Check",
        "of the same service made alternately with it (no database, no token check: what the",
        "machine, gRPC and Python cost without the list); and the statements the service sends",
        "for that page run alone in this process on the service's database (its share).",
    ]
    for backend, timings in results.items():
        lines += [
            "",
            f"## {backend}",
            "",
            "| list call | p50 | p99 | reference p50 | reference p99 | queries p50 | queries p99 "
            "| p99 under 10 ms |",
            "|---|---:|---:|---:|---:|---:|---:|---|",
        ]
        for t in timings:
            lines.append(
                f"| {t.name} | {t.p50_ms:.2f} | {t.p99_ms:.2f} | {t.health_p50_ms:.2f} "
                f"| {t.health_p99_ms:.2f} | {t.queries_p50_ms:.2f} | {t.queries_p99_ms:.2f} "
                f"| {'yes' if t.p99_ms < TARGET_P99_MS else 'NO'} |"
            )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--calls", type=int, default=500, help="timed calls per list call")
    parser.add_argument("--warmup", type=int, default=50)
    args = parser.parse_args()
    backends = args.backends.split(",")
    started = time.monotonic()
    results: dict[str, list[Timing]] = {}
    shared = [*(["postgres"] if "postgres" in backends else []), identity.PROVIDER]
    with (
        servers.all_running(shared),
        tempfile.TemporaryDirectory(prefix="yoga-lists-") as tmp,
    ):
        # Made at the provider on first use; its id is the member's in every database.
        member = identity.user_id(THE_MEMBER)
        print(f"== {THE_MEMBER}: the provider's id {member}", flush=True)
        for backend in backends:
            pg = servers.postgres("url", "postgres") if backend == "postgres" else ""
            results[backend] = one_backend(
                backend, Path(tmp) / backend, pg, member, args.calls, args.warmup
            )
    header = (
        f"`make bench-lists` on {platform.node()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"{CLASSES:,} classes, {MEMBER_RESERVATIONS + OTHER_RESERVATIONS:,} reservations "
        f"(the member's {MEMBER_RESERVATIONS:,}), as many notifications and my-page entries; "
        f"{args.calls} calls each, one at a time, after {args.warmup} to warm up; latency at "
        f"the Python gRPC client; took {(time.monotonic() - started) / 60:.1f} min; load "
        f"average at the end {os.getloadavg()[0]:.1f} (other work shares the machine)."
    )
    text = table(results, header)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "lists.md").write_text(text)
    print(f"\n{text}")
    return 0 if all(t.p99_ms < TARGET_P99_MS for r in results.values() for t in r) else 1


if __name__ == "__main__":
    sys.exit(main())
