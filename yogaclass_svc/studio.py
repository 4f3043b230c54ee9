"""PLACEHOLDER (replaced by the i14-studio branch): the studio's rules with their defaults."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class StudioRules:
    waitlist_cutoff: timedelta = timedelta(hours=2)
    cancellation_window: timedelta = timedelta(hours=12)
    check_in_opens: timedelta = timedelta(minutes=30)
    no_show_grace: timedelta = timedelta(minutes=15)
    strike_limit: int = 0
    strike_period: timedelta = timedelta(days=30)
    block_duration: timedelta = timedelta(days=7)
    booking_limit: int = 0
