"""`make bench`: the seven scenarios of BENCHMARKS.md on SQLite and on PostgreSQL, each next
to its reference, and the table of figures in bench/results/latest.md.

    .venv/bin/python bench/run.py [--reps 3] [--backends sqlite,postgres] [--workers N]

`--workers 2` runs every service as two processes on its port (`reservation=2,yogaclass=2`:
those two only; yoga_common/workers.py), and ghz then opens that many connections per run.

It starts PostgreSQL, Kafka and Keycloak, the identity provider every token comes from, side by
side where they are not running (scripts/postgres.sh, kafka.sh, keycloak.sh; PGPORT,
KAFKA_PORT, KAFKA_DIR, KEYCLOAK_PORT and KEYCLOAK_DIR move them) and stops them at the end.
Cold start (scenario 7) runs `make run` three times from a stopped broker and a stopped
Keycloak, so it needs the registry's ports (yoga_common/system.py) free and stops a broker and
a Keycloak it finds running (both started again after it, for the other scenarios).
Exits 1 if a correctness check failed (the table says which)."""

from __future__ import annotations

import argparse
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import echo, identity, scenarios  # noqa: E402
from bench.loadgen import tools  # noqa: E402
from bench.report import Broken, Failure, Figure, Target, save  # noqa: E402
from bench.system import System, parse_workers  # noqa: E402
from devtools import servers  # noqa: E402
from devtools.processes import free_port, wait_for_port  # noqa: E402
from yoga_common.system import SERVICES  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def cold_start(reps: int) -> list[Figure]:
    """`make run` from nothing (broker and Keycloak stopped, fresh SQLite files; Keycloak keeps
    its realm and accounts) until every service and the gateway answer, next to a bare grpc.aio
    server process starting to listen. `make run` starts the broker and Keycloak side by side
    and stops them again at its end."""
    servers.kafka("stop")
    servers.script(servers.SCRIPTS[identity.PROVIDER], "stop")
    services: list[float] = []

    def make_run() -> float:
        with tempfile.TemporaryDirectory(prefix="yoga-cold-") as tmp:
            env = {
                **os.environ,
                **{
                    f"{s.env_prefix}DATABASE_URL": f"sqlite:///{tmp}/{s.name}.db"
                    for s in SERVICES.values()
                },
            }
            began = time.monotonic()
            proc = subprocess.Popen(
                ["make", "-s", "run"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
            assert proc.stdout is not None
            seen = ""
            for line in proc.stdout:
                seen += line
                # scripts/run.py's last line: "up in X s (tools T s, Kafka K s, services and
                # gateway G s after it; ...)"; Keycloak starts meanwhile, beside them.
                found = re.search(
                    r"up in ([\d.]+) s .*services and gateway ([\d.]+) s after it", line
                )
                if found:
                    took = time.monotonic() - began
                    services.append(float(found.group(2)))
                    break
                    break
            else:
                raise Broken(f"make run did not come up:\n{seen[-2000:]}")
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(60)
            return took

    def bare() -> float:
        port = free_port()
        began = time.monotonic()
        proc = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "bench" / "echo.py"),
                "--port",
                str(port),
                "--responses",
                str(RESULTS / "echo-responses.json"),
            ],
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(port, 30)
        took = time.monotonic() - began
        proc.terminate()
        proc.wait(10)
        return took

    totals, refs = scenarios.alternate(reps, make_run, bare)
    return [
        Figure(
            "7",
            "sqlite",
            "make run until every service and Envoy answer",
            "s",
            totals,
            refs,
            "bare grpc.aio process listening",
            Target("<=", 30),
            note="includes starting the Kafka broker and Keycloak (side by side)",
        ),
        Figure(
            "7",
            "sqlite",
            "of which the services and Envoy, once Kafka is up",
            "s",
            services,
        ),
    ]


def one_backend(
    backend: str,
    settings: scenarios.Settings,
    folder: Path,
    tool_dir: Path,
    workers: dict[str, int],
) -> tuple[list[Figure], list[Failure]]:
    pg = servers.postgres("url", "postgres") if backend == "postgres" else ""
    system = System(backend, folder / backend, servers.kafka("bootstrap"), pg, workers=workers)
    (folder / backend).mkdir(parents=True)
    failures: list[Failure] = []
    print(f"\n== {backend}: starting the system", flush=True)
    system.start()
    reference = None
    try:
        class_id = system.create_classes(30, 100, "Catalog")[0]
        responses = scenarios.capture(system, class_id)
        reference = scenarios.Echo.start(folder / backend, responses)
        echo.save(RESULTS / "echo-responses.json", responses)
        ctx = scenarios.Context(system, tool_dir, settings, reference, scenarios.Bookings(system))
        steps: list[tuple[str, str, Callable[[], None]]] = [
            ("1-2", "catalog reads", lambda: scenarios.catalog(ctx, class_id)),
            ("3", "booking throughput", lambda: scenarios.booking(ctx)),
            ("4", "last-seat contention", lambda: scenarios.contention(ctx)),
            ("5", "event latency", lambda: scenarios.event_latency(ctx)),
            ("6", "burst", lambda: scenarios.burst(ctx)),
        ]
        for number, name, step in steps:
            began = time.monotonic()
            print(f"== {backend}: {number} {name} ...", flush=True)
            try:
                step()
            except Broken as err:
                print(f"   FAILED: {err}", flush=True)
                failures.append(Failure(number, backend, str(err)))
            print(f"   {time.monotonic() - began:.0f} s", flush=True)
        ctx.close()
        return ctx.figures, failures
    finally:
        if reference:
            reference.stop()
        system.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--seconds", type=float, default=3.0, help="per throughput run")
    parser.add_argument("--burst", type=int, default=10_000)
    parser.add_argument(
        "--burst-reps",
        type=int,
        default=1,
        help="bursts per backend (each waits for the emails of the one before)",
    )
    parser.add_argument("--no-cold-start", action="store_true")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument(
        "--workers",
        type=parse_workers,
        default={},
        help="processes per service: N for all, or name=N,... (default 1)",
    )
    args = parser.parse_args()
    started = time.monotonic()
    RESULTS.mkdir(parents=True, exist_ok=True)
    tool_dir = tools()
    figures: list[Figure] = []
    failures: list[Failure] = []
    settings = scenarios.Settings(
        reps=args.reps,
        seconds=args.seconds,
        burst=args.burst,
        burst_reps=args.burst_reps,
        profile_folder=None if args.no_profile else RESULTS / "profiles",
    )
    backends = args.backends.split(",")
    if not args.no_cold_start:
        # First: it stops the broker and Keycloak, and `make run` starts and stops them.
        print("== 7 cold start (make run) ...", flush=True)
        if not (RESULTS / "echo-responses.json").exists():
            echo.save(RESULTS / "echo-responses.json", {})
        try:
            figures += cold_start(args.reps)
        except Broken as err:
            failures.append(Failure("7", "sqlite", str(err)))
    shared = [*(["postgres"] if "postgres" in backends else []), "kafka", identity.PROVIDER]
    print(f"== {', '.join(shared)}: started side by side where not running", flush=True)
    # What the bench starts it stops, also when it fails or is interrupted.
    with (
        servers.all_running(shared),
        tempfile.TemporaryDirectory(prefix="yoga-bench-") as tmp,
    ):
        for backend in backends:
            got, failed = one_backend(backend, settings, Path(tmp), tool_dir, args.workers)
            figures += got
            failures += failed
    figures.sort(key=lambda f: (f.scenario, f.backend))
    header = (
        f"`make bench` on {platform.node()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"{args.reps} repetitions; workers per service {args.workers or 1}; "
        f"took {(time.monotonic() - started) / 60:.1f} min."
    )
    path = save(RESULTS, header, figures, failures)
    print(f"\n{path.read_text()}")
    if settings.profile_folder and settings.profile_folder.exists():
        print(script_profile(settings.profile_folder))
    return 1 if failures else 0


def script_profile(folder: Path) -> str:
    from bench.profile import summary

    text = summary(folder)
    (folder.parent / "profile.md").write_text(text)
    return text


if __name__ == "__main__":
    sys.exit(main())
