"""Load generators. Throughput ceilings come from compiled clients that leave the cores to the
system: ghz for gRPC, hey for JSON over HTTP/1.1, both built from pinned Go modules by
scripts/tools.sh. Latency at a given rate for calls that need a client-side clock per call (the
event scenarios) comes from `paced`, an open-loop Python generator: calls start on schedule
whether or not earlier ones have answered."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import resource
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devtools import gateway_config as gateway

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Run:
    """One measured run of a load generator."""

    calls_per_s: float
    p50_ms: float
    p99_ms: float
    count: int
    errors: int
    # CPU seconds of each process during the run (the load generator's own under "client").
    cpu: dict[str, float] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)


def tools() -> Path:
    """The folder of the pinned Go tools, installed (once) by scripts/tools.sh."""
    done = subprocess.run(
        [str(ROOT / "scripts" / "tools.sh")], check=True, capture_output=True, text=True
    )
    folder = Path(done.stdout.strip().splitlines()[-1])
    for name in ("ghz", "hey"):
        if not (folder / name).exists():
            raise RuntimeError(f"{name} is missing from {folder}: see scripts/tools.sh")
    return folder


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(argv: list[str]) -> tuple[str, float]:
    """Runs a load generator to its end; returns its output and the CPU seconds it used."""
    before = _children_cpu()
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(
            f"{Path(argv[0]).name} failed ({done.returncode}): {done.stderr[-2000:]}"
        )
    return done.stdout, _children_cpu() - before


@dataclass(frozen=True)
class Ghz:
    """One ghz run. `data` and `metadata` are JSON; an array is used round-robin, one element
    per call, and ghz's templates (`{{newUUID}}`) are filled per call."""

    target: str
    call: str
    data: str
    metadata: str = "{}"
    concurrency: int = 32
    seconds: float = 0.0  # run for this long ...
    total: int = 0  # ... or make this many calls
    rps: int = 0  # 0: as fast as the server answers
    connections: int = 1

    def run(self, folder: Path) -> Run:
        with tempfile.TemporaryDirectory(prefix="ghz-") as tmp:
            data, metadata = Path(tmp) / "data.json", Path(tmp) / "metadata.json"
            data.write_text(self.data)
            metadata.write_text(self.metadata)
            return self._run(folder, data, metadata)

    def _run(self, folder: Path, data: Path, metadata: Path) -> Run:
        argv = [
            str(folder / "ghz"),
            "--insecure",
            "--protoset",
            str(gateway.DESCRIPTOR),
            "--call",
            self.call,
            "-D",
            str(data),
            "--metadata-file",
            str(metadata),
            "-c",
            str(self.concurrency),
            "--connections",
            str(self.connections),
            "--format",
            "json",
        ]
        if self.total:
            argv += ["-n", str(self.total)]
        else:
            argv += ["-z", f"{self.seconds}s", "--duration-stop", "wait"]
        if self.rps:
            argv += ["--rps", str(self.rps)]
        out, cpu = _run([*argv, self.target])
        report = json.loads(out)
        latency = {p["percentage"]: p["latency"] / 1e6 for p in report["latencyDistribution"]}
        statuses = {str(k): int(v) for k, v in report.get("statusCodeDistribution", {}).items()}
        ok = statuses.get("OK", 0)
        count = int(report["count"])
        return Run(
            float(report["rps"]),
            latency[50],
            latency[99],
            count,
            count - ok,
            {"client": cpu},
            statuses,
        )


@dataclass(frozen=True)
class Hey:
    """One hey run: GET `url` with keep-alive connections for `seconds`."""

    url: str
    token: str
    concurrency: int = 32
    seconds: float = 3.0

    def run(self, folder: Path) -> Run:
        out, cpu = _run(
            [
                str(folder / "hey"),
                "-z",
                f"{self.seconds}s",
                "-c",
                str(self.concurrency),
                "-H",
                f"authorization: Bearer {self.token}",
                "-o",
                "csv",
                self.url,
            ]
        )
        rows = list(csv.DictReader(io.StringIO(out)))
        if not rows:
            raise RuntimeError(f"hey made no call to {self.url}")
        times = sorted(float(r["response-time"]) * 1000 for r in rows)
        statuses: dict[str, int] = {}
        for r in rows:
            statuses[r["status-code"]] = statuses.get(r["status-code"], 0) + 1
        span = max(float(r["offset"]) + float(r["response-time"]) for r in rows)
        p50, p99 = percentiles(times)
        errors = len(rows) - statuses.get("200", 0)
        return Run(len(rows) / span, p50, p99, len(rows), errors, {"client": cpu}, statuses)


def percentiles(values: list[float]) -> tuple[float, float]:
    """p50 and p99 (inclusive method: a small sample's p99 lies within its range)."""
    if len(values) == 1:
        return values[0], values[0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[98]


async def paced(
    rate: float, seconds: float, call: Callable[[int], Awaitable[Any]]
) -> list[tuple[float, float, Any]]:
    """Starts `call(i)` at `rate` per second for `seconds`, on schedule (open loop); returns
    (start, end, result) per call, wall-clock seconds, in the order of i."""
    loop = asyncio.get_running_loop()
    total = round(rate * seconds)
    results: list[tuple[float, float, Any]] = [(0.0, 0.0, None)] * total
    start = loop.time()

    async def one(i: int) -> None:
        began = time.time()
        answer = await call(i)
        results[i] = (began, time.time(), answer)

    tasks = []
    for i in range(total):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(i)))
    await asyncio.gather(*tasks)
    return results
