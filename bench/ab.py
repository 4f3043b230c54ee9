"""`make bench-ab BEFORE=<git ref>`: this tree's booking throughput and GetClass rate next to an
earlier commit's, measured in one run.

    .venv/bin/python bench/ab.py --before <ref> [--backends sqlite,postgres] [--reps 5]
                                 [--workers N]

`--workers` runs this tree's services as N processes each (or `name=N,...`), the earlier
commit's as one: `--before HEAD --workers 2` measures 2 workers against 1 of the same code.

The earlier commit's files are exported with `git archive` and put first on its services'
PYTHONPATH; everything else is shared: the harness, the load generators (ghz), the broker, the
PostgreSQL server, the Envoy configuration. One system of each per backend runs side by side on
its own topic prefix and databases, and the runs alternate (the order rotated every
repetition), so a slow moment of the machine falls on both. The table (medians, min-max, the
ratio after/before) goes to bench/results/ab.md. A measurement, not a test.

Both systems trust the identity provider (Keycloak, scripts/keycloak.sh, started beside Kafka
and PostgreSQL where not running) and their callers' tokens come from it, so the earlier commit
must have the provider too (yoga_common/dev_accounts.py, issue 13); one from before that
verified the project's own development key, and the comparison stops at once with a message."""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import echo, identity  # noqa: E402
from bench.loadgen import Ghz, Run, tools  # noqa: E402
from bench.scenarios import (  # noqa: E402
    Bookings,
    alternate,
    check_books,
    drained,
    mailed,
    no_errors,
)
from bench.system import System, parse_workers, with_workers  # noqa: E402
from devtools import servers  # noqa: E402
from devtools.processes import cpu_seconds  # noqa: E402

RESULTS = ROOT / "bench" / "results"
# A tree whose services trust the identity provider has this file (issue 13).
PROVIDER_MARK = "yoga_common/dev_accounts.py"


def git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)


def comparable(ref: str) -> str:
    """Why `ref` cannot be compared with this tree ("" when it can): an unknown ref, or a
    tree from before the identity provider, whose services check tokens signed with the
    project's own key (which nothing makes any more) and not the provider's."""
    if git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode != 0:
        return f"{ref!r} is not a commit of this repository"
    if git("cat-file", "-e", f"{ref}:{PROVIDER_MARK}").returncode != 0:
        short = git("rev-parse", "--short", ref).stdout.strip()
        return (
            f"{ref} ({short}) predates the identity provider (it has no {PROVIDER_MARK}): its "
            "services verify tokens signed with the project's own development key, which "
            "this tree no longer makes, so none of the bench's calls would pass. Compare with "
            "a commit that has the provider (issue 13 onward)."
        )
    return ""


def export(ref: str, folder: Path) -> str:
    """The tree of `ref` in `folder`; returns its short commit id."""
    folder.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    done = subprocess.run(
        ["git", "rev-parse", "--short", ref], cwd=ROOT, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def cpu(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) for parent in pids for pid in with_workers(parent))


def services(system: System) -> list[int]:
    return [pid for name, pid in system.pids().items() if name != "envoy"]


def getclass(system: System, tool_dir: Path, seconds: float) -> Callable[[], Run]:
    class_id = system.create_classes(1, 10)[0]
    data = f'{{"class_id": "{class_id}"}}'
    pids = [system.pids()["yogaclass"]]

    def run() -> Run:
        # The reader's token as the provider holds it now: it expires within the repetitions.
        auth = f'{{"authorization": "Bearer {system.token("reader")}"}}'
        load = Ghz(
            system.target("yogaclass"),
            echo.GET_CLASS,
            data,
            auth,
            seconds=seconds,
            connections=system.connections,
        )
        before = cpu(pids)
        result = load.run(tool_dir)
        result.cpu["services"] = cpu(pids) - before
        return result

    return run


def booking(system: System, tool_dir: Path, seconds: float) -> Callable[[], Run]:
    bookings = Bookings(system)

    pids = services(system)

    def run() -> Run:
        load = bookings.request(int(seconds * 2000), concurrency=32, seconds=seconds)
        before = cpu(pids)
        result = load.run(tool_dir)
        bookings.used(result.count)
        # The events and emails of these bookings are handled before the next run starts, so
        # neither system's run shares the machine with the other's leftovers; their CPU time
        # (consumers, relay, mailer) counts for the booking.
        drained(system)
        mailed(system)
        result.cpu["services"] = cpu(pids) - before
        return result

    return run


def row(what: str, after: list[Run], before: list[Run]) -> list[str]:
    """Calls/s (higher is better) and CPU ms per call of the services (lower is better)."""
    lines = []
    measures: list[tuple[str, Callable[[Run], float], int]] = [
        ("calls/s", lambda r: r.calls_per_s, 0),
        ("CPU ms per call", lambda r: r.cpu["services"] * 1000 / max(r.count, 1), 2),
    ]
    for unit, value, digits in measures:
        a, b = [value(r) for r in after], [value(r) for r in before]
        ratio = statistics.median(a) / statistics.median(b)
        lines.append(
            f"| {what} | {unit} | {statistics.median(a):.{digits}f} "
            f"({min(a):.{digits}f}-{max(a):.{digits}f}) | {statistics.median(b):.{digits}f} "
            f"({min(b):.{digits}f}-{max(b):.{digits}f}) | {ratio:.2f} |"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="the git ref to compare with")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--seconds", type=float, default=3.0, help="per run")
    parser.add_argument(
        "--workers",
        type=parse_workers,
        default={},
        help="this tree's processes per service: N for all, or name=N,... (default 1)",
    )
    args = parser.parse_args()
    refused = comparable(args.before)
    if refused:
        print(f"bench/ab.py: {refused}", file=sys.stderr)
        return 2
    started = time.monotonic()
    tool_dir = tools()
    backends = args.backends.split(",")
    lines: list[str] = []
    shared = [*(["postgres"] if "postgres" in backends else []), "kafka", identity.PROVIDER]
    with (
        servers.all_running(shared),
        tempfile.TemporaryDirectory(prefix="yoga-ab-") as tmp,
    ):
        old = Path(tmp) / "before"
        commit = export(args.before, old)
        for backend in backends:
            pg = servers.postgres("url", "postgres") if backend == "postgres" else ""
            bootstrap = servers.kafka("bootstrap")
            after = System(
                backend, Path(tmp) / f"after-{backend}", bootstrap, pg, workers=args.workers
            )
            # The same connections for both, so only the workers differ.
            before = System(
                backend,
                Path(tmp) / f"before-{backend}",
                bootstrap,
                pg,
                load_connections=after.connections,
            )
            before.stack.common_env["PYTHONPATH"] = f"{old}:{old / 'gen'}"
            # `python -m` puts the working directory (this tree) ahead of PYTHONPATH: without
            # this the "before" services would import this tree's packages, not the commit's.
            before.stack.common_env["PYTHONSAFEPATH"] = "1"
            try:
                after.start()
                before.start()
                print(f"== {backend}: GetClass", flush=True)
                runs = [getclass(s, tool_dir, args.seconds) for s in (after, before)]
                for warm in runs:
                    warm()
                reads = alternate(args.reps, *runs)
                print(f"== {backend}: CreateReservation", flush=True)
                runs = [booking(s, tool_dir, args.seconds) for s in (after, before)]
                books = alternate(args.reps, *runs)
                for got in (*reads, *books):
                    no_errors(got, backend)
                for s in (after, before):
                    check_books(s)
                lines += row(f"GetClass over gRPC, {backend}", *reads)
                lines += row(f"CreateReservation to CONFIRMED, {backend}", *books)
            finally:
                after.stop()
                before.stop()
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    table = "\n".join(
        [
            f"`bench/ab.py`: this tree ({head}, with uncommitted changes if any"
            f"{f'; workers {args.workers}' if args.workers else ''}) next to {commit}, "
            f"{args.reps} alternating runs of {args.seconds:g} s each, 32 callers (ghz), "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
            f"took {(time.monotonic() - started) / 60:.1f} min.",
            "",
            f"| median (min-max) | unit | this tree | {commit} | ratio |",
            "|---|---|---|---|---|",
            *lines,
        ]
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ab.md").write_text(table + "\n")
    print(f"\n{table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
