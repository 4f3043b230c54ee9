"""Whatever starts a shared server stops it again, also when it fails (issue 12 §5: `make
bench` left its PostgreSQL running, and the next `make test` of another clone failed on the
port). `devtools.servers.running` is what `make bench`, `make bench-ab` and `make run` use."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools import servers
from devtools.processes import free_port


@pytest.fixture
def open_folder() -> Iterator[Path]:
    """A folder the postgres user can reach (pytest's own are private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="yoga-servers-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_server_started_for_a_block_is_stopped_even_when_it_fails(
    open_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGPORT", str(free_port()))
    monkeypatch.setenv("PGDATA_DIR", str(open_folder / "pg"))
    assert not servers.is_running("postgres")
    with (
        pytest.raises(RuntimeError, match="the block failed"),
        servers.running("postgres") as started,
    ):
        assert started
        assert servers.is_running("postgres")
        raise RuntimeError("the block failed")
    assert not servers.is_running("postgres")


def test_a_server_that_was_running_is_left_running() -> None:
    """`make test` runs the tests on its own PostgreSQL: a block inside leaves it alone."""
    assert servers.is_running("postgres")
    with servers.running("postgres") as started:
        assert not started
    assert servers.is_running("postgres")
