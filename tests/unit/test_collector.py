"""The garbage collector of a service (yoga_common/server.py): what exists at start is frozen,
so a full collection no longer walks it (57-115 ms pauses before, BENCHMARKS.md)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from yoga_common import server


@pytest.fixture
def collector() -> Iterator[None]:
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("collector")
def test_what_exists_at_start_is_left_out_of_every_collection() -> None:
    loaded = len(gc.get_objects())
    server._settle_collector()
    assert gc.get_freeze_count() >= loaded * 0.9
    assert len(gc.get_objects()) < loaded * 0.1
