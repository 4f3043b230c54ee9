"""Background jobs of the services (waitlist cutoffs, series occurrences, no-shows, reminders,
retention): one pass every interval, forever. A failed pass is logged and the next one tries
again, so a database or a peer that is away for a while never stops a job for good."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def every(
    interval: float,
    one_pass: Callable[[], Awaitable[int]],
    done: str,
    what: str,
    quiet: tuple[type[Exception], ...] = (),
) -> None:
    """`one_pass` every `interval` seconds, logging `done` with how many (`what`) when it did
    something. Exceptions in `quiet` are expected outages (a peer away): a warning, not a
    stack trace."""
    while True:
        try:
            count = await one_pass()
            if count:
                log.info(done, extra={"job": done, what: count})
        except asyncio.CancelledError:
            raise
        except quiet as err:
            log.warning("%s: a pass skipped", done, extra={"error": str(err)})
        except Exception:
            log.exception("%s: a pass failed; trying again", done)
        await asyncio.sleep(interval)
