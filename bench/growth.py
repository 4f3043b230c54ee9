"""`make growth`: what N bookings leave on disk, and what the retention job takes back
(issue 12 §2; once, 10,000 bookings left 187 MB under var/, about 10 KB a booking).

    .venv/bin/python bench/growth.py [--bookings 10000] [--folder DIR]

It runs the system as `make run` does (SQLite files, the project's SMTP sink, Envoy) in a
folder of its own, books N seats through gRPC (20 at a time; N/100 classes of 100 seats, each
booked by the same 100 members, whose tokens come from the identity provider), waits until
every event is applied and every email sent, and measures the folder by kind of file. Then it
restarts the services with retention shortened to a minute (`YOGA_RETENTION_*`), lets their
own job run, and measures again. The table goes to bench/results/growth.md. A measurement, not
a test. It starts Kafka and Keycloak side by side unless they are running (scripts/kafka.sh,
keycloak.sh; KAFKA_PORT, KEYCLOAK_PORT and KEYCLOAK_DIR move them) and stops those it started."""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

import grpc

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import identity, scenarios  # noqa: E402
from bench.system import System, member  # noqa: E402
from devtools import servers  # noqa: E402
from yoga.reservation.v1 import reservation_pb2, reservation_pb2_grpc  # noqa: E402

RESULTS = ROOT / "bench" / "results"
# Members booking: each books a seat in every class (a new account at the provider, and each
# token a password grant, make a member per booking too dear).
MEMBERS = 100
# Seconds the bookings' tokens must stay valid (a member token lives 300 s unless the realm's
# yoga-cli client says an hour); one that runs out meanwhile is replaced on the way.
TOKENS_FOR = 240.0
COUNTED = {
    "yogaclass": ["classes", "seat_claims", "outbox"],
    "reservation": ["reservations", "outbox", "inbox"],
    "notification": ["notifications", "inbox"],
    "mypage": ["reservations", "inbox"],
}


def kind(path: Path) -> str:
    name = path.name
    if name.endswith((".db-wal", ".db-shm")):
        return "SQLite WAL"
    if name.endswith(".db"):
        return "SQLite databases"
    if ".log" in name:
        return "logs"
    if name.endswith(".eml"):
        return "sink mail"
    return "other"


def measure(folder: Path) -> dict[str, int]:
    sizes: dict[str, int] = defaultdict(int)
    for path in folder.rglob("*"):
        if path.is_file():
            sizes[kind(path)] += path.stat().st_size
    sizes["total"] = sum(sizes.values())
    return dict(sizes)


def rows(system: System) -> dict[str, int]:
    return {
        f"{service}.{table}": system.count(service, f"SELECT count(*) FROM {table}")
        for service, tables in COUNTED.items()
        for table in tables
    }


def classes_for(bookings: int) -> int:
    """Classes of MEMBERS seats enough for `bookings` by MEMBERS members."""
    return max(math.ceil(bookings / MEMBERS), 1)


async def book(system: System, classes: list[str], count: int) -> None:
    """Booking i is class i mod C by member i div C: each pair once, each class at most full."""
    gate = asyncio.Semaphore(20)
    per = len(classes)
    async with grpc.aio.insecure_channel(system.target("reservation")) as channel:
        stub = reservation_pb2_grpc.ReservationServiceStub(channel)

        async def one(i: int) -> None:
            async with gate:
                answer = await stub.CreateReservation(
                    reservation_pb2.CreateReservationRequest(
                        class_id=classes[i % per], request_id=str(uuid.uuid4())
                    ),
                    metadata=system.metadata(member(i // per)),
                    timeout=60,
                )
            if answer.reservation.status != reservation_pb2.RESERVATION_STATUS_CONFIRMED:
                raise RuntimeError(f"booking {i} ended {answer.reservation.status}")

        await asyncio.gather(*(one(i) for i in range(count)))


def megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def report(
    bookings: int, seconds: float, stages: dict[str, tuple[dict[str, int], dict[str, int]]]
) -> str:
    names = list(stages)
    kinds = [*sorted({k for sizes, _ in stages.values() for k in sizes} - {"total"}), "total"]
    lines = [
        f"# What {bookings:,} bookings leave on disk (bench/growth.py)",
        "",
        f"SQLite, as `make run`; {bookings:,} bookings in {seconds:.0f} s by "
        f"{min(bookings, MEMBERS)} members, each booking a seat in every class.",
        "",
        "| files | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for k in kinds:
        lines.append(
            f"| {k} | " + " | ".join(megabytes(stages[n][0].get(k, 0)) for n in names) + " |"
        )
    lines += ["", "| rows | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for table in stages[names[0]][1]:
        lines.append(f"| {table} | " + " | ".join(f"{stages[n][1][table]:,}" for n in names) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bookings", type=int, default=10_000)
    parser.add_argument("--folder", type=Path, default=None)
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="yoga-growth-"))
    with servers.all_running(["kafka", identity.PROVIDER]):
        system = System("sqlite", folder, servers.kafka("bootstrap"))
        system.start()
        try:
            classes = system.create_classes(classes_for(args.bookings), capacity=MEMBERS)
            count = len(classes)
            system.sign_in((member(i // count) for i in range(args.bookings)), TOKENS_FOR)
            started = time.monotonic()
            asyncio.run(book(system, classes, args.bookings))
            seconds = time.monotonic() - started
            scenarios.drained(system)
            scenarios.mailed(system, within=600)
            stages = {f"after {args.bookings:,} bookings": (measure(folder), rows(system))}
            shortened = {
                "YOGA_RETENTION_OUTBOX_HOURS": str(1 / 60),
                "YOGA_RETENTION_INBOX_HOURS": str(1 / 60),
                "YOGA_RETENTION_INTERVAL_SECONDS": "5",
            }
            time.sleep(60)  # every row is now older than the shortened retention
            for process in system.stack.services.values():
                process.stop()
                process.env.update(shortened)
                process.start()
                process.wait_healthy()
            time.sleep(30)  # a few passes of the job
            stages["after the retention job"] = (measure(folder), rows(system))
        finally:
            system.stop()
    text = report(args.bookings, seconds, stages)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "growth.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
