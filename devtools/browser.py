"""Debian's Chromium, as the browser tests and the CSP test start it. Playwright's own browser
downloads do not work on these machines and are never made."""

from __future__ import annotations

import os
from pathlib import Path

CHROMIUM = Path(os.environ.get("YOGA_CHROMIUM", "/usr/bin/chromium"))
# Headless as root; without the background-networking flags Chromium keeps trying hosts this
# machine's closed network refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
