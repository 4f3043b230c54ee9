"""Where the booking path spends its time: py-spy's raw samples (one line per distinct stack,
`frame;frame;... count`) of each service during a booking run, summed by the layer of the
innermost Python frame. Only the thread holding the GIL is sampled (`--gil`), so the figures
are the Python interpreter's own work, which is what a single service process cannot spread
over cores; time in C code that releases the GIL (SQLite executing a statement, libpq
waiting, grpc's core threads, librdkafka) is outside them, and the CPU time per request of
each process (bench/results/latest.md) tells how much that adds. Time in C code that keeps
the GIL is counted on the Python frame that called it: "database driver" is the frame that
hands a statement to the driver, and "event loop callbacks" is mostly grpc's aio machinery
(Cython, invisible to py-spy) running from asyncio's Handle._run."""

from __future__ import annotations

import collections
from pathlib import Path

# (layer, what the innermost frame's text contains), first match wins. py-spy does not always
# tell a thread waiting in C (for the database server, the broker, a queue) from one holding
# the GIL: such frames are counted apart, as waiting.
LAYERS = [
    (
        "waiting",
        (
            "EpollSelector.select",
            "concurrent/futures/thread.py:8",
            "Condition.wait",
            "Event.wait",
            "Connection.wait (psycopg",
            "SocketIO.readinto",
            "EventConsumer._commit",
        ),
    ),
    ("database driver (C)", ("do_execute", "do_commit", "do_rollback", "psycopg/", "sqlite3")),
    ("SQLAlchemy", ("sqlalchemy/",)),
    ("OpenTelemetry", ("opentelemetry/",)),
    ("gRPC", ("grpc/", "grpc_status", "grpc_health")),
    ("protobuf", ("google/protobuf", "_pb2")),
    ("Kafka client", ("confluent_kafka",)),
    ("JWT and crypto", ("jwt/", "cryptography")),
    ("logging", ("logging/", "yoga_common/logs.py", "json/")),
    ("metrics", ("prometheus_client",)),
    (
        "event loop and threads",
        ("asyncio/", "selectors", "threading", "concurrent/futures", "queue"),
    ),
    ("email", ("smtplib", "email/")),
    (
        "project code",
        ("yoga_common/", "yogaclass_svc/", "reservation_svc/", "notification_svc/", "mypage_svc/"),
    ),
]


def layer(frame: str) -> str:
    for name, marks in LAYERS:
        if any(mark in frame for mark in marks):
            return name
    return "other"


def read(path: Path) -> tuple[collections.Counter[str], collections.Counter[str], int]:
    by_layer: collections.Counter[str] = collections.Counter()
    by_frame: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        leaf = stack.rsplit(";", 1)[-1]
        by_layer[layer(leaf)] += n
        by_frame[leaf] += n
        total += n
    return by_layer, by_frame, total


def summary(folder: Path) -> str:
    lines = ["# Where the booking path spends its time (py-spy --gil, 100 samples/s)", ""]
    for path in sorted(folder.glob("*.txt")):
        by_layer, by_frame, total = read(path)
        if not total:
            continue
        lines.append(f"## {path.stem}: {total} samples")
        lines.append("")
        waiting = by_layer.pop("waiting", 0)
        busy = total - waiting
        lines.append(
            f"Waiting (in C, GIL released): {waiting / total:.0%} of the samples. "
            "The rest by layer: "
            + ", ".join(f"{name} {n / busy:.0%}" for name, n in by_layer.most_common())
        )
        lines.append("")
        lines.append("Busiest frames:")
        lines += [
            f"- {n / busy:5.1%} {frame}"
            for frame, n in by_frame.most_common()
            if layer(frame) != "waiting"
        ][:8]
        lines.append("")
    return "\n".join(lines)
