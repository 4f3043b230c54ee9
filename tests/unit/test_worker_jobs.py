"""How a service's background jobs and wakes are shared among its worker processes
(yoga_common/workers.py): each job in exactly one worker, a commit's wake reaching every other
worker and never coming back to the one that sent it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yoga_common.db import Database
from yoga_common.workers import Worker


@given(st.integers(1, 6), st.lists(st.integers(), max_size=12))
def test_every_job_runs_in_exactly_one_worker(count: int, tasks: list[int]) -> None:
    shares = [Worker(index, count).jobs(tasks) for index in range(count)]
    assert sorted(job for share in shares for job in share) == sorted(tasks)
    assert shares[0] == tasks[::count]


def test_with_two_workers_the_consumer_and_the_mailer_are_apart() -> None:
    tasks = ["consumer", "mailer", "reminders", "retention"]  # notification_svc's order
    assert Worker(0, 2).jobs(tasks) == ["consumer", "reminders"]
    assert Worker(1, 2).jobs(tasks) == ["mailer", "retention"]
    assert Worker().jobs(tasks) == tasks


@pytest.fixture
def three() -> Iterator[list[Worker]]:
    pipes = [os.pipe() for _ in range(3)]
    for fd in (fd for pipe in pipes for fd in pipe):
        os.set_blocking(fd, False)
    reads, writes = tuple(r for r, _ in pipes), tuple(w for _, w in pipes)
    yield [Worker(i, 3, reads, writes) for i in range(3)]
    for fd in (*reads, *writes):
        os.close(fd)


def test_a_wake_reaches_every_other_worker_once(three: list[Worker]) -> None:
    three[1].tell_others()
    three[1].tell_others()  # two commits: one wake is enough
    assert [w.drain_wakes() for w in three] == [True, False, True]
    assert [w.drain_wakes() for w in three] == [False, False, False]


def test_a_wake_from_elsewhere_is_not_sent_on_again(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/x.db")
    try:
        local: list[str] = []
        db.on_events_committed(lambda: local.append("relay"))
        db.on_events_committed(lambda: local.append("tell others"), elsewhere_too=False)
        db.events_committed()
        assert local == ["relay", "tell others"]
        db.events_committed(elsewhere=True)
        assert local == ["relay", "tell others", "relay"]
    finally:
        db.close()
