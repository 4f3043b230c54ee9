"""A local SMTP sink for development: accepts every message and stores it as an `.eml` file.

    python -m devtools.smtp_sink [--port PORT] [--dir var/mail]

Listens on 127.0.0.1 only (aiosmtpd), by default on the registry's SMTP_SINK_PORT; the development
stack (`make run`, the bench) points notification_svc at it."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
import uuid
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from yoga_common import logs, system

log = logging.getLogger(__name__)


class MailDir:
    """aiosmtpd handler: one `.eml` file per accepted message, written atomically; the newest
    `keep` stay (a burst of 10,000 bookings once left 10,000 files)."""

    def __init__(self, folder: Path, keep: int = 1000) -> None:
        self.folder = folder
        self.keep = keep
        self._since_pruned = 0
        folder.mkdir(parents=True, exist_ok=True)

    def prune(self) -> int:
        """Deletes all but the newest `keep` messages (names start with the time received)."""
        stored = sorted(self.folder.glob("*.eml"))
        old = stored[: max(len(stored) - self.keep, 0)]
        for path in old:
            path.unlink(missing_ok=True)
        return len(old)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode()
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.eml"
        partial = self.folder / f".{name}.part"
        partial.write_bytes(content)
        partial.rename(self.folder / name)
        # Debug only: a line per message made the sink's log the largest file of a burst.
        log.debug("message stored", extra={"file": name, "to": list(envelope.rcpt_tos)})
        self._since_pruned += 1
        if self._since_pruned >= max(self.keep // 10, 1):
            self._since_pruned = 0
            self.prune()
        return "250 Message accepted for delivery"


def start(folder: Path, port: int, host: str = "127.0.0.1", keep: int = 1000) -> Controller:
    controller = Controller(MailDir(folder, keep), hostname=host, port=port)
    controller.start()
    return controller


def arguments(port: int, folder: Path) -> tuple[str, ...]:
    """What `python -m devtools.smtp_sink` needs to listen on `port` and store in `folder`."""
    return ("--port", str(port), "--dir", str(folder))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="SMTP sink: stores each message as .eml")
    parser.add_argument("--port", type=int, default=system.SMTP_SINK_PORT)
    parser.add_argument("--dir", type=Path, default=Path("var/mail"))
    parser.add_argument("--keep", type=int, default=1000, help="newest messages kept")
    args = parser.parse_args(argv)
    logs.configure("smtp_sink")
    # aiosmtpd logs five lines at info for every connection: 10 MB for 10,000 emails.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    controller = start(args.dir, args.port, keep=args.keep)
    log.info("listening", extra={"address": f"127.0.0.1:{args.port}", "folder": str(args.dir)})
    try:
        while not stop.wait(0.5):
            pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
