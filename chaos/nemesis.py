"""Carries out the schedule against a runtime, the harness's broker and PostgreSQL, and the
proxies; logs when each fault began and how long its heal took. `heal_all` at the end puts
everything back, whatever was interrupted."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from chaos.parts import Part, broker_pid_file
from chaos.runtime import Runtime
from chaos.schedule import Fault
from chaos.toxiproxy import Toxiproxy

log = logging.getLogger("chaos.nemesis")


@dataclass
class Done:
    fault: Fault
    began: float  # seconds after the workload started
    healed_in: float  # seconds from the heal's start to the part serving again
    error: str = ""


@dataclass
class Nemesis:
    runtime: Runtime
    broker: Part
    postgres: Part | None
    proxies: Toxiproxy
    done: list[Done] = field(default_factory=list)
    # When the last fault was healed (monotonic); None while the schedule runs.
    finished: float | None = None

    async def run(self, faults: list[Fault], started: float) -> None:
        """Each fault at its time, or as soon as the one before is healed: a broker takes
        many seconds to start again, so the schedule may slip, but every fault of it is
        injected, in its order (the workload goes on until the last is healed)."""
        try:
            await self._run(faults, started)
        finally:
            self.finished = time.monotonic()

    async def _run(self, faults: list[Fault], started: float) -> None:
        for fault in faults:
            await asyncio.sleep(max(0.0, started + fault.at - time.monotonic()))
            began = time.monotonic() - started
            print(f"nemesis: {fault}", flush=True)
            error = ""
            try:
                await asyncio.to_thread(self._inject, fault)
            except Exception as err:  # a fault that could not be injected is reported
                error = f"inject: {err}"
            await asyncio.sleep(fault.seconds)
            healing = time.monotonic()
            try:
                await asyncio.to_thread(self._heal, fault)
            except Exception as err:
                error += f" heal: {err}"
            self.done.append(Done(fault, round(began, 1), time.monotonic() - healing, error))

    def _inject(self, fault: Fault) -> None:
        match fault.kind:
            case "kill":
                self.runtime.kill(fault.target)
            case "broker-stop":
                self.broker.stop()
            case "broker-kill":
                self.broker.kill(broker_pid_file(self.broker))
            case "postgres-restart":
                assert self.postgres is not None
                self.postgres.stop()
            case "latency":
                self.proxies.latency(fault.target, fault.latency_ms, fault.latency_ms // 4)
            case "reset-peer":
                self.proxies.reset_peer(fault.target)
            case "partition":
                self.proxies.partition(fault.target)
            case _:
                raise ValueError(fault.kind)

    def _heal(self, fault: Fault) -> None:
        match fault.kind:
            case "kill":
                self.runtime.revive(fault.target)
            case "broker-stop" | "broker-kill":
                self.broker.start()
            case "postgres-restart":
                assert self.postgres is not None
                self.postgres.start()
            case _:
                self.proxies.heal()

    def heal_all(self) -> None:
        """Everything up and every link whole, whatever the schedule left behind."""
        self.proxies.heal()
        if self.postgres is not None:
            self.postgres.start()
        self.broker.start()
        for name in self.runtime.names():
            if not self.runtime.running(name):
                self.runtime.revive(name)

    def injected(self) -> Counter[str]:
        return Counter(d.fault.kind for d in self.done if not d.error.startswith("inject"))
