"""One chaos run: its own broker (behind a proxy), its own PostgreSQL cluster (on that
backend), the services through a runtime, the workload and the nemesis side by side for the
run's length, every fault healed, the wait until the system has recovered, then the checker."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from chaos import parts
from chaos.checker import Report, check, recover
from chaos.nemesis import Done, Nemesis
from chaos.runtime import ProcessRuntime, Runtime, RuntimeFactory, Wiring
from chaos.schedule import QUIET_END, describe, schedule
from chaos.toxiproxy import Toxiproxy
from chaos.workload import Settings, Token, Workload
from devtools.books import Books
from devtools.processes import free_port
from yoga_common.settings import AuthSettings, KafkaSettings

# Faster recovery than production's defaults, so a short run ends settled: PENDING bookings are
# looked at again after 2 s, twice a second.
TUNING = {
    "reservation": {
        "RESERVATION_PENDING_GRACE_SECONDS": "2",
        "RESERVATION_RECOVERY_INTERVAL_SECONDS": "0.5",
    },
}
RECOVERY = 180.0  # seconds the system has to settle once every fault is healed


@dataclass
class Result:
    backend: str
    seed: int
    seconds: float
    folder: Path
    done: list[Done] = field(default_factory=list)
    # Seconds the workload ran: the run's length, or longer when the schedule slipped.
    ran: float = 0.0
    report: Report = field(default_factory=Report)
    tally: dict[str, dict[str, int]] = field(default_factory=dict)
    recovered_in: float = 0.0
    # What the recovery waited for: seconds after the last heal until each last held it up.
    waited_for: dict[str, float] = field(default_factory=dict)
    took: float = 0.0
    error: str = ""

    @property
    def passed(self) -> bool:
        return not self.error and not self.report.failures

    def text(self) -> str:
        faults = "\n".join(
            f"  {d.fault} (began t={d.began}s, healed in {d.healed_in:.1f}s)"
            + (f" {d.error}" if d.error else "")
            for d in self.done
        )
        calls = ", ".join(
            f"{op} " + "/".join(f"{n} {o}" for o, n in sorted(outcomes.items()))
            for op, outcomes in sorted(self.tally.items())
        )
        return (
            f"{self.backend} seed {self.seed}, {self.seconds:.0f}s: "
            f"{'PASSED' if self.passed else 'FAILED'} (run took {self.took:.0f}s, "
            f"recovered {self.recovered_in:.1f}s after the last heal, waiting for "
            f"{self.waited_for or 'nothing'})\n"
            f" faults injected ({len(self.done)}; the workload ran {self.ran:.0f}s):\n"
            f"{faults or '  none'}\n"
            f" calls: {calls}\n"
            + (f" error: {self.error}\n" if self.error else "")
            + f" checker:\n{self.report.text()}\n"
        )


def run(
    backend: str,
    seed: int,
    seconds: float,
    folder: Path,
    auth: AuthSettings,
    token: Token,
    make_runtime: RuntimeFactory = ProcessRuntime,
    settings: Settings | None = None,
) -> Result:
    began = time.monotonic()
    result = Result(backend, seed, seconds, folder)
    faults = schedule(seed, seconds, backend)
    print(
        f"chaos: {backend}, seed {seed}, {seconds:.0f}s; the schedule:\n{describe(faults)}",
        flush=True,
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "schedule.txt").write_text(describe(faults) + "\n")
    proxies = Toxiproxy(folder / "toxiproxy")
    # PostgreSQL's socket path must be short, and its folder open to the postgres user.
    pg_folder = Path(tempfile.mkdtemp(prefix="yoga-chaos-"))
    pg_folder.chmod(0o755)
    postgres = parts.postgres(pg_folder) if backend == "postgres" else None
    kafka_port = free_port()
    broker = parts.broker(folder, kafka_port)
    runtime: Runtime | None = None
    try:
        proxies.start()
        proxies.link("kafka", parts.broker_port(broker), kafka_port)
        if postgres:
            postgres.start()
        broker.start()
        kafka = KafkaSettings(bootstrap_servers=f"127.0.0.1:{kafka_port}", prefix="chaos.")
        wiring = Wiring(
            link=lambda name, port: proxies.link(name, port).address,
            kafka=kafka,
            auth=auth,
            backend=backend,
            pg_admin_url=parts.postgres_admin_url(postgres) if postgres else "",
            env=TUNING,
        )
        runtime = make_runtime(folder / "system", wiring)
        runtime.start()
        workload = Workload(
            runtime.target("reservation"),
            runtime.target("yogaclass"),
            token,
            seed,
            settings or Settings(),
        )
        nemesis = Nemesis(runtime, broker, postgres, proxies)

        async def together() -> None:
            started = time.monotonic()

            def faulting() -> bool:
                """The workload goes on while faults remain, and a little after the last."""
                end = nemesis.finished
                return end is None or time.monotonic() < end + QUIET_END

            await asyncio.gather(workload.run(seconds, faulting), nemesis.run(faults, started))

        try:
            asyncio.run(together())
        finally:
            result.done = nemesis.done
            result.ran = workload.ran
            result.tally = workload.tally()
            workload.save(folder / "history.jsonl")
        nemesis.heal_all()
        books = Books(runtime.database_url)
        try:
            result.recovered_in, result.waited_for = recover(books, kafka, RECOVERY)
            result.report = check(books, kafka, workload.history)
        finally:
            books.close()
    except Exception as err:  # the run failed: said in its result, the parts stopped below
        result.error = f"{type(err).__name__}: {err}"
    finally:
        if runtime is not None:
            runtime.stop()
        for part in (broker, postgres):
            if part is not None:
                try:
                    part.stop()
                except RuntimeError as err:
                    result.error = result.error or str(err)
        proxies.stop()
        if result.passed or postgres is None:
            shutil.rmtree(pg_folder, ignore_errors=True)
        else:  # what the checker read, for a look afterwards (scripts/postgres.sh start)
            (folder / "postgres.txt").write_text(
                f"PGDATA_DIR={postgres.env['PGDATA_DIR']} PGPORT={postgres.env['PGPORT']}\n"
            )
        result.took = time.monotonic() - began
    (folder / "report.txt").write_text(result.text())
    return result
