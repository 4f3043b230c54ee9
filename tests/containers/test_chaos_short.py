"""`make chaos` in short (issue 18 §2), inside `make test`: one seed per database, a short
workload against the services as containers of the image (chaos/containers.py: two replicas
each on PostgreSQL, one on SQLite) under the seeded nemesis (service SIGKILLs, the broker
stopped, PostgreSQL restarted, latency, resets and partitions through Toxiproxy), then the real
checker over every database and topic. `make chaos` runs 5 seeds per database for 3 minutes
each."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

from chaos.containers import ContainerRuntime
from chaos.harness import run
from chaos.workload import Settings
from tests.integration.conftest import BACKENDS, accounts, provider_auth

# One seed and length per database (its schedule is printed): each schedule kills
# reservation_svc, SIGKILLs the broker once and slows or cuts a link (and restarts PostgreSQL,
# on PostgreSQL). YOGA_TEST_CHAOS_SECONDS sets another length (another schedule).
RUNS = {"sqlite": (83, 25.0), "postgres": (1038, 30.0)}
LENGTH = os.environ.get("YOGA_TEST_CHAOS_SECONDS", "")


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_short_chaos_run_loses_nothing_and_counts_nothing_twice(
    backend: str, image: str, tmp_path: Path
) -> None:
    seed, seconds = RUNS[backend]
    result = run(
        backend,
        seed,
        float(LENGTH or seconds),
        tmp_path / "chaos",
        provider_auth(),
        accounts().token,
        functools.partial(ContainerRuntime, image=image),
        settings=Settings(workers=4, member_prefix="chaos-short-"),
    )
    print("\n" + result.text())
    assert not result.error, result.text()
    assert result.done, "the nemesis injected nothing"
    assert all(not d.error for d in result.done), result.text()
    assert result.report.failures == [], result.text()
    booked = result.tally.get("book", {}).get("ok", 0)
    assert booked > 20, f"too few acknowledged bookings to prove anything: {result.tally}"
