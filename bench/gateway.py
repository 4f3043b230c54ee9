"""What the Envoy gateway costs: GetClass throughput and latency, side by side in one run,
(a) gRPC straight to yogaclass_svc, (b) JSON through Envoy, (c) gRPC through Envoy.

A measurement, not a test: `.venv/bin/python bench/gateway.py [--seconds 10 --concurrency 1,32]`.
It starts yogaclass_svc (SQLite in a temporary folder, its own development keys) and Envoy
(`--concurrency 1`), creates one class, then runs the three modes in turn for a few rounds,
rotating their order, with compiled load generators built from pinned Go modules by
scripts/tools.sh: ghz (gRPC) and hey (HTTP/1.1 keep-alive JSON). Only GetClass is measured, so
only yogaclass_svc runs; the gateway's other clusters point at closed ports. The service's
outbox relay wants Kafka: start it (`scripts/kafka.sh start`) or the relay keeps retrying in
the background while the benchmark runs. Load generator, Envoy and the service share the
machine's cores: read the figures as relative, not as a capacity."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import grpc

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from yoga.yogaclass.v1 import yogaclass_pb2, yogaclass_pb2_grpc  # noqa: E402
from yoga_common import gateway  # noqa: E402
from yoga_common.auth import ADMIN, MEMBER, ensure_dev_keys, issue_token  # noqa: E402
from yoga_common.devstack import ServiceProcess, free_port  # noqa: E402
from yoga_common.settings import AuthSettings, KafkaSettings  # noqa: E402
from yoga_common.topics import ensure_topics  # noqa: E402

GET_CLASS = "yoga.yogaclass.v1.YogaClassService/GetClass"
MODES = ("grpc direct", "json via envoy", "grpc via envoy")


@dataclass
class Run:
    mode: str
    calls_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int


def tools() -> Path:
    """The folder of the pinned Go tools (ghz, hey), installed by scripts/tools.sh."""
    done = subprocess.run(
        [str(ROOT / "scripts" / "tools.sh")], check=True, capture_output=True, text=True
    )
    folder = Path(done.stdout.strip().splitlines()[-1])
    for name in ("ghz", "hey"):
        if not (folder / name).exists() and not shutil.which(name):
            sys.exit(f"{name} is missing: add it to scripts/tools.sh (see bench/README.md)")
    return folder


def tool(folder: Path, name: str) -> str:
    found = folder / name
    return str(found) if found.exists() else str(shutil.which(name))


@dataclass(frozen=True)
class Load:
    concurrency: int
    seconds: int
    connections: int = 1


def ghz(folder: Path, target: str, class_id: str, token: str, load: Load) -> Run:
    done = subprocess.run(
        [
            tool(folder, "ghz"),
            "--insecure",
            "--protoset",
            str(gateway.DESCRIPTOR),
            "--call",
            GET_CLASS,
            "-d",
            json.dumps({"class_id": class_id}),
            "-m",
            json.dumps({"authorization": f"Bearer {token}"}),
            "-c",
            str(load.concurrency),
            "--connections",
            str(load.connections),
            "-z",
            f"{load.seconds}s",
            "--duration-stop",
            "ignore",
            "--format",
            "json",
            target,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    report = json.loads(done.stdout)
    latency = {p["percentage"]: p["latency"] / 1e6 for p in report["latencyDistribution"]}
    ok = report.get("statusCodeDistribution", {}).get("OK", 0)
    return Run("", float(report["rps"]), latency[50], latency[99], int(report["count"]) - ok)


def hey(folder: Path, url: str, token: str, load: Load) -> Run:
    done = subprocess.run(
        [
            tool(folder, "hey"),
            "-z",
            f"{load.seconds}s",
            "-c",
            str(load.concurrency),
            "-H",
            f"authorization: Bearer {token}",
            "-o",
            "csv",
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    times = sorted(float(r["response-time"]) * 1000 for r in rows)
    errors = sum(1 for r in rows if r["status-code"] != "200")
    span = max(float(r["offset"]) + float(r["response-time"]) for r in rows)
    cuts = statistics.quantiles(times, n=100)
    return Run("", len(rows) / span, cuts[49], cuts[98], errors)


def create_class(target: str, auth: AuthSettings) -> str:
    start = int(time.time()) + 86400
    yoga_class = yogaclass_pb2.YogaClass(
        title="Bench", instructor="Jiwoo", time_zone="Asia/Seoul", capacity=10
    )
    yoga_class.start_time.FromSeconds(start)
    yoga_class.end_time.FromSeconds(start + 3600)
    with grpc.insecure_channel(target) as channel:
        stub = yogaclass_pb2_grpc.YogaClassServiceStub(channel)
        answer = stub.CreateClass(
            yogaclass_pb2.CreateClassRequest(yoga_class=yoga_class),
            metadata=(("authorization", f"Bearer {issue_token(auth, 'staff-1', ADMIN)}"),),
            timeout=10,
        )
    return str(answer.yoga_class.class_id)


def table(runs: list[Run]) -> str:
    by_mode = {mode: [r for r in runs if r.mode == mode] for mode in MODES}
    base = by_mode[MODES[0]]
    base_rate = statistics.median(r.calls_per_s for r in base)
    base_p50 = statistics.median(r.p50_ms for r in base)
    lines = [
        f"{'mode':<16} {'calls/s median':>14} {'min':>7} {'max':>7} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'x direct':>8} {'+p50 ms':>8} {'errors':>6}"
    ]
    for mode, mine in by_mode.items():
        rates = [r.calls_per_s for r in mine]
        rate, p50 = statistics.median(rates), statistics.median(r.p50_ms for r in mine)
        lines.append(
            f"{mode:<16} {rate:>14.0f} {min(rates):>7.0f} {max(rates):>7.0f} {p50:>7.2f} "
            f"{statistics.median(r.p99_ms for r in mine):>7.2f} {rate / base_rate:>8.2f} "
            f"{p50 - base_p50:>+8.2f} {sum(r.errors for r in mine):>6}"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="per mode and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--concurrency",
        default="1,32",
        help="concurrent callers, a table per value: 1 shows the added latency alone, "
        "32 the throughput at saturation",
    )
    parser.add_argument("--connections", type=int, default=1, help="ghz HTTP/2 connections")
    parser.add_argument("--kafka", default=KafkaSettings().bootstrap_servers)
    args = parser.parse_args()
    folder_tools = tools()
    kafka = KafkaSettings(bootstrap_servers=args.kafka, prefix=f"bench{uuid.uuid4().hex[:8]}.")
    try:
        ensure_topics(kafka, timeout=5)
    except Exception as err:  # the measurement does not need the broker, only a quiet relay
        print(f"no Kafka at {args.kafka} ({err}); the relay will retry in the background")

    with tempfile.TemporaryDirectory(prefix="yoga-bench-") as tmp:
        folder = Path(tmp)
        auth = AuthSettings(
            public_key_file=folder / "jwt-public.pem", private_key_file=folder / "jwt-private.pem"
        )
        ensure_dev_keys(auth)
        port = free_port()
        env = {
            "YOGA_JWT_PUBLIC_KEY_FILE": str(auth.public_key_file),
            "YOGA_JWT_PRIVATE_KEY_FILE": str(auth.private_key_file),
            "YOGACLASS_PORT": str(port),
            "YOGACLASS_DATABASE_URL": f"sqlite:///{folder}/yogaclass.db",
            "YOGACLASS_LOG_LEVEL": "WARNING",
            "YOGA_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "YOGA_KAFKA_PREFIX": kafka.prefix,
        }
        service = ServiceProcess("yogaclass_svc", port, env, folder / "yogaclass.log")
        envoy = None
        try:
            service.start()
            service.wait_healthy()
            closed = {name: f"127.0.0.1:{free_port()}" for name in gateway.SERVICES}
            targets = {**closed, "yogaclass": service.target}
            envoy = gateway.start_gateway(
                folder / "envoy",
                free_port(),
                targets,
                gateway.jwks_file(auth),
                opts=gateway.GatewayOptions(access_log=False),
            )
            class_id = create_class(service.target, auth)
            token = issue_token(auth, "11", MEMBER)
            url = f"{envoy.url}/v1/classes/{class_id}"

            def measure(mode: str, load: Load) -> Run:
                assert envoy is not None
                if mode == "grpc direct":
                    run = ghz(folder_tools, service.target, class_id, token, load)
                elif mode == "json via envoy":
                    run = hey(folder_tools, url, token, load)
                else:
                    run = ghz(folder_tools, envoy.target, class_id, token, load)
                run.mode = mode
                return run

            for concurrency in (int(c) for c in args.concurrency.split(",")):
                print(
                    f"\nGetClass, {concurrency} concurrent callers, {args.seconds}s per mode, "
                    f"{args.rounds} rounds, {os.cpu_count()} cores; warming up ...",
                    flush=True,
                )
                for mode in MODES:
                    measure(mode, Load(concurrency, 2, args.connections))
                runs: list[Run] = []
                for round_no in range(args.rounds):
                    order = MODES[round_no % 3 :] + MODES[: round_no % 3]
                    for mode in order:
                        run = measure(mode, Load(concurrency, args.seconds, args.connections))
                        runs.append(run)
                        print(
                            f"  round {round_no + 1} {mode:<15} {run.calls_per_s:8.0f} calls/s "
                            f"p50 {run.p50_ms:6.2f} ms  p99 {run.p99_ms:6.2f} ms  "
                            f"errors {run.errors}",
                            flush=True,
                        )
                print()
                print(table(runs))
        finally:
            if envoy:
                envoy.stop()
            service.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
