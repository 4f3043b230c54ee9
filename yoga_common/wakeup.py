"""A pause of a background loop (the outbox relay, the mailer) that another thread can cut
short: the thread that committed new work wakes the loop instead of leaving it to its next
poll."""

from __future__ import annotations

import asyncio
import contextlib


class Wakeup:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event = asyncio.Event()

    def set(self) -> None:
        """Safe from any thread; a wake before the loop's first pause is not needed (the
        loop's first pass finds the work)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._event.set)

    async def wait(self, seconds: float) -> None:
        """Until `set` or `seconds`. A `set` while the loop works is kept for its next wait."""
        self._loop = asyncio.get_running_loop()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), seconds)
        self._event.clear()
