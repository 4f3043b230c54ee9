"""Times as a person reads them: in the class's IANA zone, with the zone's abbreviation for
that date ("Mon 2 Mar 07:00 KST", "Sun 29 Mar 07:00 CEST"). The API keeps UTC timestamps and
the zone's name; only text for people (emails, notifications, my page) goes through here."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, available_timezones


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def known_zone(name: str) -> bool:
    """An IANA zone's name the zone database has. Asked of the database's list, not of
    ZoneInfo(name): that opens a file by the name, and a caller's "Asia" (a folder), a path or
    5,000 characters raise OS errors of every kind instead of "unknown zone"."""
    return name in _zones()


def zone_or_utc(name: str) -> ZoneInfo:
    """The zone named, or UTC for "" and for a name this machine's database lacks (an event
    from a newer producer must still be readable)."""
    return ZoneInfo(name if known_zone(name) else "UTC")


def in_zone(at: datetime, time_zone: str) -> datetime:
    """`at` (naive means UTC, as stored) in the zone."""
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.astimezone(zone_or_utc(time_zone))


def local_label(at: datetime | None, time_zone: str) -> str:
    """`Mon 2 Mar 07:00 KST`: weekday, day, month, 24-hour time and the zone's abbreviation
    at that instant (so CET in winter, CEST in summer). "" for no time."""
    if at is None:
        return ""
    local = in_zone(at, time_zone)
    return f"{local:%a} {local.day} {local:%b %H:%M} {_abbreviation(local)}"


def local_clock(at: datetime | None, time_zone: str) -> str:
    """`18:02 KST`: a time of the class's day, in its zone."""
    if at is None:
        return ""
    local = in_zone(at, time_zone)
    return f"{local:%H:%M} {_abbreviation(local)}"


def _abbreviation(local: datetime) -> str:
    # Zones without a letter abbreviation have tzname() like "-03"; it is what tz prints too.
    return local.tzname() or f"{local:%z}"
