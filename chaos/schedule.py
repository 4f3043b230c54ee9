"""The nemesis's schedule: a pure function of the seed, the run's length and the database
(PostgreSQL restarts only where there is one), printed at the start of a run, so `--seed N`
replays the same faults at the same moments. One fault at a time, each healed before the next;
the last one ends with time left for the workload to go on without faults."""

from __future__ import annotations

import random
from dataclasses import dataclass

SERVICES = ("yogaclass", "reservation", "notification", "mypage")
# The proxied links (chaos/toxiproxy.py): reservation_svc -> yogaclass_svc, clients -> broker.
LINKS = ("yogaclass", "kafka")
KINDS = (
    "kill",
    "broker-stop",
    "broker-kill",
    "postgres-restart",
    "latency",
    "reset-peer",
    "partition",
)
# The first fault waits for the workload to be under way.
WARM_UP = 3.0
# Seconds without faults at the end of the workload.
QUIET_END = 3.0
# Seconds a part takes to serve again once healed, on a busy 2-core machine (a broker: its JVM,
# log recovery after a SIGKILL, the controller's election; measured 10-28 s), left free
# before the next fault so the schedule seldom slips.
COMING_BACK = {"broker-stop": 15.0, "broker-kill": 18.0, "postgres-restart": 2.0, "kill": 3.0}


@dataclass(frozen=True)
class Fault:
    at: float  # seconds after the workload started
    kind: str
    target: str  # a service, a link, "kafka" or "postgres"
    seconds: float  # how long it lasts before it is healed
    latency_ms: int = 0

    def __str__(self) -> str:
        extra = f" {self.latency_ms}ms" if self.latency_ms else ""
        return f"t={self.at:6.1f}s {self.kind:<16} {self.target:<12} {self.seconds:4.1f}s{extra}"


def schedule(seed: int, seconds: float, backend: str) -> list[Fault]:
    rng = random.Random(seed)
    kinds = [k for k in KINDS if k != "postgres-restart" or backend == "postgres"]
    faults: list[Fault] = []
    t = WARM_UP
    while True:
        kind = rng.choice(kinds)
        length = round(rng.uniform(1.0, 6.0), 1)
        if t + length > seconds - QUIET_END:
            break
        target, latency = _target(rng, kind)
        faults.append(Fault(round(t, 1), kind, target, length, latency))
        # Recovery between faults: a restarted service or broker needs a few seconds to serve.
        t += length + COMING_BACK.get(kind, 0.0) + rng.uniform(2.0, 6.0)
    return faults


def _target(rng: random.Random, kind: str) -> tuple[str, int]:
    if kind == "kill":
        return rng.choice(SERVICES), 0
    if kind in ("broker-stop", "broker-kill"):
        return "kafka", 0
    if kind == "postgres-restart":
        return "postgres", 0
    link = rng.choice(LINKS)
    return link, rng.choice((50, 200, 1000)) if kind == "latency" else 0


def describe(faults: list[Fault]) -> str:
    return "\n".join(str(f) for f in faults) or "(no faults: the run is too short)"
