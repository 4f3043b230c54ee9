"""The development stack's own files stay bounded (issue 12 §2): the SMTP sink keeps the newest
messages, and a log past its size is rotated before a process appends to it again."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from devtools import processes
from devtools.processes import rotate
from devtools.smtp_sink import MailDir


def test_the_sink_keeps_the_newest_messages(tmp_path: Path) -> None:
    mail = MailDir(tmp_path, keep=5)

    async def deliver(n: int) -> None:
        envelope = SimpleNamespace(original_content=f"Subject: {n}\n\n{n}".encode(), rcpt_tos=[])
        await mail.handle_DATA(None, None, envelope)  # type: ignore[arg-type]

    async def deliver_all() -> None:
        for n in range(23):
            await deliver(n)

    asyncio.run(deliver_all())
    mail.prune()
    kept = sorted(tmp_path.glob("*.eml"))
    assert [p.read_bytes().rsplit(b"\n", 1)[1] for p in kept] == [
        str(n).encode() for n in range(18, 23)
    ]


def test_a_large_log_is_rotated_and_only_a_few_are_kept(tmp_path: Path) -> None:
    log = tmp_path / "reservation.log"
    for generation in range(5):
        log.write_text(f"generation {generation}\n" * 10)
        rotate(log, max_bytes=50, keep=3)
    assert not log.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "reservation.log.1",
        "reservation.log.2",
        "reservation.log.3",
    ]
    assert (tmp_path / "reservation.log.1").read_text().startswith("generation 4")
    small = tmp_path / "small.log"
    small.write_text("short\n")
    rotate(small, max_bytes=50)
    assert small.read_text() == "short\n"


def test_a_running_process_log_is_rotated_as_it_grows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not only when the process starts: a `make run` left up for weeks writes on and on."""
    monkeypatch.setattr(processes, "LOG_MAX_BYTES", 10_000)
    log = tmp_path / "sink.log"
    child = processes.ChildProcess(
        module="this.module.does.not.matter", env={}, log_path=log, args=()
    )
    child.process = subprocess.Popen(
        [sys.executable, "-c", "for n in range(5000): print(f'line {n:05d} ' + 'x' * 40)"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    processes.log_to(log, child.process.stdout)
    assert child.process.wait(30) == 0
    deadline = time.monotonic() + 10
    while "line 04999" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["sink.log", "sink.log.1", "sink.log.2", "sink.log.3"]
    assert all(p.stat().st_size <= 10_000 + 65536 for p in tmp_path.iterdir())
    assert log.read_text().rstrip().endswith("line 04999 " + "x" * 40)
