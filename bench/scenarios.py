"""The scenarios of `make bench`, each next to its reference in the same run: repetitions
alternate system and reference (the order flips every repetition) so a slow moment of the
machine falls on both. Every scenario that books checks the books afterwards: no class holds
more than its capacity, every answer is in the database, every event reached its consumers
once; a broken check raises `Broken` and the scenario reports failure instead of a figure."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import grpc

from bench import echo, kafka_probe
from bench.loadgen import Ghz, Hey, Run, paced, percentiles
from bench.report import Broken, Figure, Target
from bench.system import System, epoch, member, shared_parts, with_workers
from devtools import books
from devtools.processes import cpu_seconds, free_port, wait_for_port
from yoga.reservation.v1 import reservation_pb2, reservation_pb2_grpc
from yoga.yogaclass.v1 import yogaclass_pb2, yogaclass_pb2_grpc

CONFIRMED = reservation_pb2.RESERVATION_STATUS_CONFIRMED
REJECTED = reservation_pb2.RESERVATION_STATUS_REJECTED
BOOKING_TARGETS = {"sqlite": 800.0, "postgres": 600.0}
# Seconds a burst's tokens must stay valid (a member token lives 300 s unless the realm's
# yoga-cli client says an hour).
BURST_TOKENS = 240.0


@dataclass
class Settings:
    reps: int = 3
    seconds: float = 3.0  # per throughput run
    concurrency: int = 32
    burst: int = 10_000
    # One burst per backend by default: 10,000 bookings take 75-110 s here, and three of
    # them (with the emails drained in between) would not fit the 15 minutes of `make bench`.
    burst_reps: int = 1
    slow_rate: float = 10.0
    slow_seconds: float = 6.0
    fast_rate: float = 300.0
    fast_seconds: float = 2.0
    profile_folder: Path | None = None


@dataclass
class Echo:
    """The reference server, answering with responses captured from `system`."""

    process: subprocess.Popen[bytes]
    target: str

    @classmethod
    def start(cls, folder: Path, responses: dict[str, Any]) -> Echo:
        path = folder / "echo-responses.json"
        echo.save(path, responses)
        port = free_port()
        process = subprocess.Popen(
            [
                sys.executable,
                str(Path(echo.__file__)),
                "--port",
                str(port),
                "--responses",
                str(path),
            ],
            stdout=(folder / "echo.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        wait_for_port(port, 30)
        return cls(process, f"127.0.0.1:{port}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


class Bookings:
    """Booking requests for ghz with no (member, class) pair twice: call r of a run books class
    (r + offset) mod 101 as member (r + offset) mod 100, unique while r + offset < 10,100;
    past that, a new set of classes. Every class has room for all its 100 pairs. The members'
    tokens are taken from the provider for each request, so a run never carries an expired
    one."""

    CLASSES, MEMBERS = 101, 100

    def __init__(self, system: System) -> None:
        self.system = system
        self.classes: list[str] = []
        self.offset = self.CLASSES * self.MEMBERS
        self.members = [member(i) for i in range(self.MEMBERS)]
        system.sign_in(self.members)

    def metadata(self, valid_for: float) -> str:
        """ghz's metadata template: call r's token is member (r + offset) mod 100's."""
        self.system.sign_in(self.members, valid_for)
        tokens = " ".join(f'"{self.system.token(m)}"' for m in self.members)
        pick = f"(mod (add .RequestNumber {self.offset}) {self.MEMBERS})"
        return (
            '{"authorization": "Bearer {{ $t := list ' + tokens + " }}{{ index $t " + pick + ' }}"}'
        )

    def request(self, at_most: int, valid_for: float = 0.0, **load: Any) -> Ghz:
        """A ghz run of CreateReservation making up to `at_most` bookings; `load` sets the
        other fields of `Ghz` (concurrency, seconds, rps, target). Its tokens are valid for
        at least a minute, or `valid_for` seconds (a longer run; at most what the provider
        issues)."""
        if not self.classes or self.offset + at_most > self.CLASSES * self.MEMBERS:
            self.classes = self.system.create_classes(self.CLASSES, self.MEMBERS, "Booking")
            self.offset = 0
        names = " ".join(f'"{c}"' for c in self.classes)
        pick = f"(mod (add .RequestNumber {self.offset}) {self.CLASSES})"
        data = (
            '{"class_id": "{{ $c := list ' + names + " }}{{ index $c " + pick + ' }}", '
            '"request_id": "{{newUUID}}"}'
        )
        return Ghz(
            self.system.target("reservation"),
            echo.CREATE_RESERVATION,
            data,
            self.metadata(valid_for),
            **{"connections": self.system.connections, **load},
        )

    def used(self, count: int) -> None:
        self.offset += count


@dataclass
class Context:
    system: System
    tools: Path
    settings: Settings
    echo: Echo
    bookings: Bookings
    figures: list[Figure] = field(default_factory=list)
    _probe: kafka_probe.Probe | None = None

    def probe(self) -> kafka_probe.Probe:
        if self._probe is None:
            self._probe = kafka_probe.Probe(self.system.kafka)
        return self._probe

    def close(self) -> None:
        if self._probe is not None:
            self._probe.close()

    @property
    def backend(self) -> str:
        return self.system.backend

    def measured(
        self, run: Callable[[], Run], processes: dict[str, int], shared: bool = True
    ) -> Run:
        """Runs a load and adds the CPU seconds each process used meanwhile (with `shared`,
        the broker's and PostgreSQL's too)."""
        groups = {name: with_workers(pid) for name, pid in processes.items()}
        if shared:
            groups |= {name: pids for name, pids in shared_parts().items() if pids}
        before = {pid: _cpu(pid) for pids in groups.values() for pid in pids}
        result = run()
        for name, pids in groups.items():
            spent = [_cpu(pid) - before[pid] for pid in pids]
            result.cpu[name] = sum(x for x in spent if x >= 0)
        return result


def _cpu(pid: int) -> float:
    """A process's CPU seconds; -inf once it has exited (its share is then left out)."""
    try:
        return cpu_seconds(pid)
    except (FileNotFoundError, ProcessLookupError):
        return float("-inf")


def alternate(reps: int, *runs: Callable[[], Any]) -> list[list[Any]]:
    """Runs each of `runs` once per repetition, the order rotated every repetition (system
    first, then its reference first, ...); returns each one's results."""
    got: list[list[Any]] = [[] for _ in runs]
    for rep in range(reps):
        for i in range(len(runs)):
            k = (i + rep) % len(runs)
            got[k].append(runs[k]())
    return got


def cpu_per_call(runs: list[Run]) -> dict[str, float]:
    names = runs[0].cpu.keys()
    return {n: statistics.median(r.cpu[n] / max(r.count, 1) * 1000 for r in runs) for n in names}


def no_errors(runs: list[Run], what: str) -> None:
    for run in runs:
        if run.errors:
            raise Broken(f"{what}: {run.errors} of {run.count} calls failed: {run.statuses}")


# --- the books ---------------------------------------------------------------------------


def drained(system: System, within: float = 300.0) -> float:
    """Waits until every consumer has committed everything and both outboxes are empty;
    returns the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < within:
        if books.unsent(system.query) == 0 and not any(system.lag().values()):
            return time.monotonic() - start
        time.sleep(0.1)
    raise Broken(f"events not drained after {within:.0f}s: lag {system.lag()}")


def mailed(system: System, within: float = 60.0) -> float:
    """Waits until no email is pending; returns the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < within:
        pending = system.count(
            "notification", "SELECT count(*) FROM notifications WHERE email_state = 'PENDING'"
        )
        if not pending:
            return time.monotonic() - start
        time.sleep(0.1)
    raise Broken(f"emails still pending {within:.0f}s after the events were applied")


def check_books(system: System) -> dict[str, int]:
    """The invariants after a load, once drained (devtools/books.py, shared with `make
    chaos`); returns the reservation counts by status."""
    rows = system.query
    mismatches = books.seat_mismatches(rows)
    if mismatches:
        raise Broken(mismatches[0])
    oversold = books.oversold(rows)
    if oversold:
        raise Broken(f"{oversold} classes hold more seats than they have")
    statuses = books.statuses(rows)
    if statuses.get("PENDING"):
        raise Broken(f"{statuses['PENDING']} reservations left PENDING")
    page = books.statuses(rows, "mypage")
    if page != statuses:
        raise Broken(f"my page shows {page}, reservations are {statuses}")
    # The bench only books (every booking is CONFIRMED or REJECTED): one notification each.
    kinds = dict(
        system.rows("notification", "SELECT kind, count(*) FROM notifications GROUP BY kind")
    )
    expected = {"BOOKED": statuses.get("CONFIRMED", 0), "REJECTED": statuses.get("REJECTED", 0)}
    expected = {k: v for k, v in expected.items() if v}
    if kinds != expected:
        raise Broken(f"notifications {kinds}, expected {expected}")
    return statuses


def confirmed_total(system: System) -> int:
    return system.count("reservation", "SELECT count(*) FROM reservations WHERE status='CONFIRMED'")


# --- 1 and 2: catalog reads --------------------------------------------------------------


def catalog(ctx: Context, class_id: str) -> None:
    s, reps, secs, conc = (
        ctx.system,
        ctx.settings.reps,
        ctx.settings.seconds,
        ctx.settings.concurrency,
    )
    envoy = s.envoy
    assert envoy is not None
    reads = {
        "GetClass": (echo.GET_CLASS, f'{{"class_id": "{class_id}"}}', f"/v1/classes/{class_id}"),
        "ListClasses": (echo.LIST_CLASSES, "{}", "/v1/classes"),
    }
    service = {"yogaclass": s.pids()["yogaclass"]}
    envoy_pids = {**service, "envoy": s.pids()["envoy"]}

    def ghz(target: str, call: str, data: str, seconds: float) -> Ghz:
        """A run with the reader's token as the provider holds it now (it expires)."""
        auth = f'{{"authorization": "Bearer {s.token("reader")}"}}'
        return Ghz(target, call, data, auth, conc, seconds, connections=s.connections)

    def hey(url: str, seconds: float) -> Hey:
        return Hey(url, s.token("reader"), conc, seconds)

    def measured(
        load: Callable[[], Ghz | Hey], processes: dict[str, int], shared: bool = True
    ) -> Callable[[], Run]:
        # The load (and its token) is made before the CPU times are read.
        return lambda: ctx.measured(partial(load().run, ctx.tools), processes, shared)

    for name, (call, data, path) in reads.items():
        url = f"{envoy.url}{path}"
        for target in (s.target("yogaclass"), ctx.echo.target):
            ghz(target, call, data, 1).run(ctx.tools)
        hey(url, 1).run(ctx.tools)
        echo_pid = {"echo": ctx.echo.process.pid}
        grpc_runs, echo_runs, json_runs = alternate(
            reps,
            measured(partial(ghz, s.target("yogaclass"), call, data, secs), service),
            measured(partial(ghz, ctx.echo.target, call, data, secs), echo_pid, False),
            measured(partial(hey, url, secs), envoy_pids),
        )
        no_errors(grpc_runs + echo_runs + json_runs, name)
        ctx.figures += throughput_figures(
            "1", ctx.backend, f"{name} over gRPC", grpc_runs, echo_runs, "bare grpc.aio echo", 0.6
        )
        ctx.figures += throughput_figures(
            "2", ctx.backend, f"{name} as JSON via Envoy", json_runs, grpc_runs, "direct gRPC", 0.75
        )


def throughput_figures(
    scenario: str,
    backend: str,
    what: str,
    runs: list[Run],
    refs: list[Run],
    ref_name: str,
    of_reference: float,
) -> list[Figure]:
    """Calls/s against the reference's (target: at least `of_reference` of it), and p99."""
    return [
        Figure(
            scenario,
            backend,
            what,
            "calls/s",
            [r.calls_per_s for r in runs],
            [r.calls_per_s for r in refs],
            ref_name,
            Target(">=", of_reference, of_reference=True),
            cpu_per_call(runs),
        ),
        latency_figure(scenario, backend, what, runs, refs, ref_name),
    ]


def latency_figure(
    scenario: str,
    backend: str,
    what: str,
    runs: list[Run],
    refs: list[Run],
    ref_name: str,
    target: Target | None = None,
) -> Figure:
    return Figure(
        scenario,
        backend,
        f"{what} p99 (p50 {statistics.median(r.p50_ms for r in runs):.1f})",
        "ms",
        [r.p99_ms for r in runs],
        [r.p99_ms for r in refs],
        f"{ref_name} p99 (p50 {statistics.median(r.p50_ms for r in refs):.1f})",
        target,
    )


# --- 3: booking throughput ---------------------------------------------------------------


def booking(ctx: Context) -> None:
    s, reps, secs = ctx.system, ctx.settings.reps, ctx.settings.seconds
    processes = {n: p for n, p in s.pids().items() if n != "envoy"}
    before = confirmed_total(s)
    booked = 0

    def system_run(rps: int = 0) -> Run:
        nonlocal booked
        most = int(secs * rps * 1.2) + 10 if rps else int(secs * 2000)
        load = ctx.bookings.request(most, concurrency=64 if rps else 32, seconds=secs, rps=rps)
        run = ctx.measured(lambda: load.run(ctx.tools), processes)
        ctx.bookings.used(run.count)
        booked += run.count - run.errors
        return run

    def echo_run(rps: int = 0) -> Run:
        load = replace(
            ctx.bookings.request(0, concurrency=64 if rps else 32, seconds=secs, rps=rps),
            target=ctx.echo.target,
        )
        return ctx.measured(lambda: load.run(ctx.tools), {"echo": ctx.echo.process.pid}, False)

    echo_run()  # warm-up of the reference; the system warmed up in the catalog scenario
    top, top_echo = alternate(reps, system_run, echo_run)
    half = int(statistics.median(r.calls_per_s for r in top) / 2)
    at_half, echo_half = alternate(reps, lambda: system_run(half), lambda: echo_run(half))
    no_errors(top + top_echo + at_half + echo_half, "CreateReservation")
    drained(s)
    check_books(s)
    confirmed = confirmed_total(s) - before
    if confirmed != booked:
        raise Broken(f"{booked} bookings answered OK but {confirmed} reservations are CONFIRMED")
    if ctx.settings.profile_folder:
        profile(ctx, processes)
    ctx.figures += [
        Figure(
            "3",
            ctx.backend,
            "CreateReservation to CONFIRMED, 32 callers",
            "confirmed/s",
            [r.calls_per_s for r in top],
            [r.calls_per_s for r in top_echo],
            "bare grpc.aio echo",
            Target(">=", BOOKING_TARGETS[ctx.backend]),
            cpu_per_call(top),
        ),
        latency_figure(
            "3",
            ctx.backend,
            f"CreateReservation at half load ({half}/s)",
            at_half,
            echo_half,
            f"echo at {half}/s",
            Target("<=", 100),
        ),
    ]


def profile(ctx: Context, processes: dict[str, int]) -> None:
    """py-spy on the booking path during one more (unmeasured) run: where the time goes."""
    folder = ctx.settings.profile_folder
    assert folder is not None
    folder.mkdir(parents=True, exist_ok=True)
    # Made first: taking the members' tokens may wait for the provider.
    load = ctx.bookings.request(int(ctx.settings.seconds * 2000), seconds=ctx.settings.seconds)
    spies = [
        subprocess.Popen(
            [
                str(Path(".venv/bin/py-spy").resolve()),
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(int(ctx.settings.seconds) + 2),
                "--rate",
                "100",
                "--format",
                "raw",
                "--nonblocking",
                "--output",
                str(folder / f"{ctx.backend}-{name}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in processes.items()
    ]
    time.sleep(0.5)
    ctx.bookings.used(load.run(ctx.tools).count)
    for spy in spies:
        spy.wait(60)


# --- 4: last-seat contention ---------------------------------------------------------------


async def _rush(system: System, class_id: str, bookers: int) -> list[tuple[float, int]]:
    """`bookers` members book the class at once; returns (ms, status) per answer."""
    async with grpc.aio.insecure_channel(system.target("reservation")) as channel:
        stub = reservation_pb2_grpc.ReservationServiceStub(channel)
        await channel.channel_ready()
        go = asyncio.Event()

        async def one(i: int) -> tuple[float, int]:
            await go.wait()
            began = time.perf_counter()
            answer = await stub.CreateReservation(
                reservation_pb2.CreateReservationRequest(
                    class_id=class_id, request_id=str(uuid.uuid4())
                ),
                metadata=system.metadata(member(i)),
                timeout=60,
            )
            return (time.perf_counter() - began) * 1000, answer.reservation.status

        tasks = [asyncio.ensure_future(one(i)) for i in range(bookers)]
        await asyncio.sleep(0.2)
        go.set()
        return list(await asyncio.gather(*tasks))


def contention(ctx: Context, bookers: int = 200, seats: int = 10) -> None:
    s = ctx.system

    def rush(capacity: int) -> list[tuple[float, int]]:
        class_id = s.create_classes(1, capacity, "Rush")[0]
        s.sign_in(member(i) for i in range(bookers))  # tokens held before the clock starts
        answers = asyncio.run(_rush(s, class_id, bookers))
        won = sum(1 for _, status in answers if status == CONFIRMED)
        lost = sum(1 for _, status in answers if status == REJECTED)
        if won != min(capacity, bookers) or won + lost != bookers:
            raise Broken(f"{bookers} bookers, {capacity} seats: {won} CONFIRMED, {lost} REJECTED")
        return answers

    contended, free = alternate(ctx.settings.reps, lambda: rush(seats), lambda: rush(bookers))
    drained(s)
    check_books(s)

    def p(answers: list[tuple[float, int]], q: int) -> float:
        ms = sorted(a for a, _ in answers)
        return percentiles(ms)[q]

    ctx.figures += [
        Figure(
            "4",
            ctx.backend,
            f"{bookers} bookers for {seats} seats, answer {name}",
            "ms",
            [p(a, q) for a in contended],
            [p(a, q) for a in free],
            f"{bookers} bookers for {bookers} seats",
            note=f"exactly {seats} CONFIRMED in every repetition" if q == 0 else "",
        )
        for q, name in ((0, "p50"), (1, "p99"))
    ]


# --- 5: event latency --------------------------------------------------------------------


async def _paced_bookings(
    system: System, classes: list[str], rate: float, seconds: float
) -> list[tuple[float, str]]:
    """Books at `rate`/s, call i class i mod C as member i div C (C classes, each pair once;
    the classes are new, so the members are the bench's usual ones); returns (answer time,
    reservation id)."""
    async with grpc.aio.insecure_channel(system.target("reservation")) as channel:
        stub = reservation_pb2_grpc.ReservationServiceStub(channel)
        count = len(classes)

        async def one(i: int) -> tuple[str, int]:
            answer = await stub.CreateReservation(
                reservation_pb2.CreateReservationRequest(
                    class_id=classes[i % count], request_id=str(uuid.uuid4())
                ),
                metadata=system.metadata(member(i // count)),
                timeout=60,
            )
            return answer.reservation.reservation_id, answer.reservation.status

        # Tokens held before the clock starts.
        system.sign_in(member(i // count) for i in range(round(rate * seconds)))
        results = await paced(rate, seconds, one)
    out = []
    for _, end, (reservation_id, status) in results:
        if status != CONFIRMED:
            raise Broken(f"reservation {reservation_id} ended {status}, not CONFIRMED")
        out.append((end, reservation_id))
    return out


def _seen_at(system: System, answers: list[tuple[float, str]]) -> dict[str, list[float]]:
    """Milliseconds from each CONFIRMED answer to its row in my page and in notifications,
    and to its email leaving for the SMTP server (each is the time the consumer's or the
    mailer's transaction stamped, just before its commit)."""
    answered = dict((rid, at) for at, rid in answers)
    events = dict(
        system.rows(
            "reservation",
            "SELECT event_id, event_key FROM outbox WHERE event_type LIKE '%Confirmed'",
        )
    )
    page = {
        events[e]: epoch(t)
        for e, t in system.rows("mypage", "SELECT event_id, applied_at FROM inbox")
        if events.get(e) in answered
    }
    notes = {
        rid: (epoch(created), epoch(sent) if sent else None)
        for rid, created, sent in system.rows(
            "notification",
            "SELECT reservation_id, create_time, sent_time FROM notifications WHERE kind='BOOKED'",
        )
        if rid in answered
    }
    missing = [
        rid for rid in answered if rid not in page or rid not in notes or notes[rid][1] is None
    ]
    if missing:
        raise Broken(f"{len(missing)} confirmed reservations never reached my page or email")
    return {
        "my page row": [(page[r] - answered[r]) * 1000 for r in answered],
        "notification row": [(notes[r][0] - answered[r]) * 1000 for r in answered],
        "email sent": [(notes[r][1] - answered[r]) * 1000 for r in answered],  # type: ignore[operator]
    }


def event_latency(ctx: Context) -> None:
    mailed(ctx.system, within=300)  # the emails of earlier scenarios are not in the way
    for rate, seconds in (
        (ctx.settings.slow_rate, ctx.settings.slow_seconds),
        (ctx.settings.fast_rate, ctx.settings.fast_seconds),
    ):
        _event_latency_at(ctx, rate, seconds)
    check_books(ctx.system)


def _event_latency_at(ctx: Context, rate: float, seconds: float) -> None:
    s = ctx.system

    def system_run() -> dict[str, list[float]]:
        # At most 100 bookings a class, and as many members (see _paced_bookings).
        classes = s.create_classes(max(1, round(rate * seconds) // 50), 100, "Events")
        answers = asyncio.run(_paced_bookings(s, classes, rate, seconds))
        drained(s)
        mailed(s)
        return _seen_at(s, answers)

    def kafka_run() -> list[float]:
        return ctx.probe().latencies(rate, seconds)

    runs, refs = alternate(ctx.settings.reps, system_run, kafka_run)
    ref_p99 = [percentiles(sorted(r))[1] for r in refs]
    for what in ("my page row", "notification row", "email sent"):
        p50 = statistics.median(percentiles(sorted(r[what]))[0] for r in runs)
        ctx.figures.append(
            Figure(
                "5",
                ctx.backend,
                f"CONFIRMED answer to {what} at {rate:g}/s, p99 (p50 {p50:.0f})",
                "ms",
                [percentiles(sorted(r[what]))[1] for r in runs],
                ref_p99,
                "bare Kafka produce-to-consume p99",
                Target("<=", 250) if rate <= 10 and what != "email sent" else None,
            )
        )


# --- 6: burst ------------------------------------------------------------------------------


@dataclass
class Burst:
    answered_s: float
    bookings_per_s: float
    drain_s: float
    emails_per_s: float
    emails_sent: int


def _burst(ctx: Context) -> Burst:
    """`settings.burst` bookings as fast as they are answered, then the wait until every
    consumer's lag is 0. Emails go on after that: their figure is their rate meanwhile."""
    s, count = ctx.system, ctx.settings.burst
    mailed(s, within=900)  # a previous burst's emails are not in the way
    # Tokens as long-lived as the provider issues them: a burst takes minutes.
    load = ctx.bookings.request(count, valid_for=BURST_TOKENS, concurrency=64, total=count)
    before = confirmed_total(s)
    started, wall_start = time.monotonic(), time.time()
    run = load.run(ctx.tools)
    ctx.bookings.used(run.count)
    answered = time.monotonic() - started
    no_errors([run], "burst")
    drain = drained(s, within=600)
    sent = [
        t
        for t in (
            epoch(value)
            for (value,) in s.rows(
                "notification", "SELECT sent_time FROM notifications WHERE sent_time IS NOT NULL"
            )
        )
        if t >= wall_start
    ]
    if confirmed_total(s) - before != count:
        raise Broken(f"{count} bookings answered OK, {confirmed_total(s) - before} confirmed")
    check_books(s)
    rate = len(sent) / (max(sent) - min(sent)) if len(sent) > 1 else 0.0
    return Burst(answered, run.calls_per_s, drain, rate, len(sent))


def burst(ctx: Context) -> None:
    count = ctx.settings.burst
    runs, reference = alternate(
        ctx.settings.burst_reps, partial(_burst, ctx), partial(ctx.probe().drain_seconds, count)
    )
    if len(reference) < ctx.settings.reps:  # the reference is cheap: at least `reps` of it
        reference += [ctx.probe().drain_seconds(count) for _ in range(ctx.settings.reps - 1)]
    rates = ", ".join(f"{r.bookings_per_s:.0f}" for r in runs)
    sent = ", ".join(f"{r.emails_sent:,}" for r in runs)
    ctx.figures += [
        Figure(
            "6",
            ctx.backend,
            f"{count:,} bookings answered (64 callers)",
            "s",
            [r.answered_s for r in runs],
            note=f"bookings/s: {rates}",
        ),
        Figure(
            "6",
            ctx.backend,
            "after the last answer: every consumer's lag back to 0",
            "s",
            [r.drain_s for r in runs],
            reference,
            f"bare consumer reads {count:,} (from its first)",
        ),
        Figure(
            "6",
            ctx.backend,
            "emails sent per second during the burst",
            "emails/s",
            [r.emails_per_s for r in runs],
            note=f"sent of {count:,} when the lag reached 0: {sent}",
        ),
    ]


def capture(system: System, class_id: str) -> dict[str, Any]:
    """The real responses the echo server will give, byte for byte the same size."""
    with grpc.insecure_channel(system.target("yogaclass")) as channel:
        stub = yogaclass_pb2_grpc.YogaClassServiceStub(channel)
        got = stub.GetClass(
            yogaclass_pb2.GetClassRequest(class_id=class_id), metadata=system.metadata("reader")
        )
        listed = stub.ListClasses(
            yogaclass_pb2.ListClassesRequest(), metadata=system.metadata("reader")
        )
    with grpc.insecure_channel(system.target("reservation")) as channel:
        booked = reservation_pb2_grpc.ReservationServiceStub(channel).CreateReservation(
            reservation_pb2.CreateReservationRequest(
                class_id=class_id, request_id=str(uuid.uuid4())
            ),
            metadata=system.metadata("m-capture"),
        )
    return {echo.GET_CLASS: got, echo.LIST_CLASSES: listed, echo.CREATE_RESERVATION: booked}
