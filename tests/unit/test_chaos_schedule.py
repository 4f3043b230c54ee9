"""The chaos schedule is a pure function of seed, length and database: a seed replays it."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from chaos.schedule import KINDS, QUIET_END, WARM_UP, schedule
from chaos.toxiproxy import Link, Toxiproxy


def test_the_same_seed_gives_the_same_schedule_and_another_seed_another() -> None:
    assert schedule(7, 180, "postgres") == schedule(7, 180, "postgres")
    assert schedule(7, 180, "postgres") != schedule(8, 180, "postgres")


def test_faults_are_one_at_a_time_inside_the_run() -> None:
    faults = schedule(3, 180, "postgres")
    assert faults[0].at >= WARM_UP
    for before, after in itertools.pairwise(faults):
        assert after.at >= before.at + before.seconds
    assert faults[-1].at + faults[-1].seconds <= 180 - QUIET_END
    assert {f.kind for f in faults} <= set(KINDS)
    assert len({f.kind for f in faults}) >= 4


def test_sqlite_runs_restart_no_postgres() -> None:
    assert all(f.kind != "postgres-restart" for f in schedule(3, 180, "sqlite"))


def test_a_fault_on_a_link_reaches_the_proxy_of_every_replica(tmp_path: Path) -> None:
    proxies = Toxiproxy(tmp_path)
    for name, port in (("kafka", 1), ("yogaclass-1", 2), ("yogaclass-2", 3), ("yogaclassic", 4)):
        proxies.links[name] = Link(name, 10 + port, port)
    assert proxies.group("yogaclass") == ["yogaclass-1", "yogaclass-2"]
    assert proxies.group("kafka") == ["kafka"]
    with pytest.raises(KeyError):
        proxies.group("mypage")
