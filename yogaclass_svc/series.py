"""Rules of a weekly class series (issue 15). Plain Python: no gRPC, no SQL.

A series is a pattern in the studio's local time: a start date, a start time ("07:00"), a
duration and a weekly RFC 5545 RRULE that ends (UNTIL or COUNT). Its occurrences are computed
by dateutil.rrule over naive local datetimes and only then turned into UTC instants with the
zone, so 07:00 stays 07:00 on the wall clock across daylight-saving changes while the UTC
instant moves.

- A local time that does not exist (02:30 on a spring-forward day) is read with the offset in
  force before the gap (PEP 495, fold=0): the class starts at the same instant a clock that
  was not moved forward would show, i.e. 03:30 on that day, and keeps its duration.
- An ambiguous local time (01:30 on a fall-back day) is its first occurrence (fold=0, still
  summer time).
- UNTIL is a local date, inclusive; a date-time UNTIL is read by its date ("…T235959Z" is the
  same as the date). COUNT counts occurrences from start_date.

Occurrences become real classes (service layer) as the studio's rolling horizon reaches them;
each is named by (series_id, occurrence_date) once."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from itertools import takewhile
from typing import TypeVar
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

from yoga_common.errors import Violations, failed_precondition, invalid_field
from yogaclass_svc.domain import (
    MAX_CAPACITY,
    MAX_LENGTH,
    MAX_TITLE,
    MAX_WINDOW,
    ClassDetails,
    valid_zone,
)
from yogaclass_svc.waitlist import MAX_WAITLIST

# A pattern ends within this long after its start date: the timetable of a studio, not of
# a century (and every occurrence stays far inside what a class may be).
MAX_SPAN = timedelta(days=5 * 366)
MAX_COUNT = 500
# A series may start this far ahead of today.
MAX_START_AHEAD = timedelta(days=2 * 366)
# The RRULE parts a weekly pattern may use. BYHOUR/BYMINUTE/BYSECOND would fight start_time;
# BYSETPOS, BYMONTHDAY and the like are not a weekly timetable.
RULE_PARTS = ("FREQ", "INTERVAL", "BYDAY", "WKST", "UNTIL", "COUNT")
MAX_INTERVAL = 52
# Fields an edit (this and following) may change.
EDITABLE = (
    "title",
    "instructor",
    "capacity",
    "waitlist_capacity",
    "cancellation_window",
    "start_time",
    "duration",
)
PREFIX = "series."
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{2}:\d{2}")


class SeriesStatus(StrEnum):
    ACTIVE = "ACTIVE"
    CANCELLED = "CANCELLED"


@dataclass(frozen=True)
class Pattern:
    """What staff decide about a series."""

    title: str
    instructor: str
    capacity: int
    waitlist_capacity: int
    cancellation_window: timedelta | None
    time_zone: str
    start_date: date
    start_time: time
    duration: timedelta
    # Normalised: no "RRULE:" prefix, parts in the order given.
    recurrence: str


@dataclass(frozen=True)
class Series:
    series_id: str
    pattern: Pattern
    status: SeriesStatus
    # The first local date without occurrences, once cancelled from a date.
    cancelled_from: date | None
    previous_series_id: str
    # Occurrences exist as classes up to this instant.
    materialized_until: datetime
    # The last local date the pattern falls on (before any cancel).
    end_date: date
    create_time: datetime
    update_time: datetime
    version: int

    @property
    def next_due(self) -> datetime | None:
        """The start of the first occurrence not yet made (None: none is left to make): the
        materializer's due scan reads it."""
        return next(occurrences(self, self.materialized_until), None)


@dataclass(frozen=True)
class Draft:
    """A series as a request states it: dates, times and the rule still text."""

    title: str
    instructor: str
    capacity: int
    waitlist_capacity: int
    cancellation_window: timedelta | None
    time_zone: str
    start_date: str
    start_time: str
    duration: timedelta | None
    recurrence: str


# --- parsing -----------------------------------------------------------------------------


T = TypeVar("T")


def _strict(text: str, form: re.Pattern[str], parse: Callable[[str], T]) -> T | None:
    """`parse(text)` if the text has exactly the form (fromisoformat alone also takes
    "20270301" or "07"), else None."""
    if not form.fullmatch(text):
        return None
    try:
        return parse(text)
    except ValueError:
        return None


def parse_date(text: str) -> date | None:
    return _strict(text, _DATE, date.fromisoformat)


def parse_time(text: str) -> time | None:
    return _strict(text, _TIME, time.fromisoformat)


def _parts(text: str) -> list[tuple[str, str]]:
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[len("RRULE:") :]
    found = []
    for part in body.split(";"):
        key, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"{part!r} is not NAME=VALUE")
        found.append((key.strip().upper(), value.strip().upper()))
    return found


def _text(parts: list[tuple[str, str]]) -> str:
    return ";".join(f"{k}={v}" for k, v in parts)


def _until(value: str) -> date:
    """UNTIL as a local date: its date part (a time and a Z are read as that day)."""
    found = parse_date(f"{value[:4]}-{value[4:6]}-{value[6:8]}") if len(value) >= 8 else None
    if found is None or not value[:8].isdigit():
        raise ValueError(f"UNTIL={value} is not a date")
    return found


@dataclass(frozen=True)
class Rule:
    """A parsed recurrence: the RRULE over local naive datetimes from dtstart."""

    rule: rrule
    until: date | None
    count: int | None


def parse_rule(recurrence: str, dtstart: datetime) -> Rule:
    """The rule, or ValueError saying why not (FREQ, an end, the parts allowed)."""
    if "DTSTART" in recurrence.upper() or "\n" in recurrence:
        raise ValueError("must be one RRULE without DTSTART (start_date and start_time say it)")
    parts = dict(_parts(recurrence))
    unknown = sorted(set(parts) - set(RULE_PARTS))
    if unknown:
        raise ValueError(f"may only use {', '.join(RULE_PARTS)}, not {', '.join(unknown)}")
    if parts.get("FREQ") != "WEEKLY":
        raise ValueError("must be FREQ=WEEKLY")
    if "UNTIL" not in parts and "COUNT" not in parts:
        raise ValueError("must end: give UNTIL or COUNT")
    if "UNTIL" in parts and "COUNT" in parts:
        raise ValueError("must not give both UNTIL and COUNT")
    until = _until(parts.pop("UNTIL")) if "UNTIL" in parts else None
    # dateutil would read a date UNTIL as midnight (excluding the day's class) and refuses a
    # UTC one against a naive start: the rule is built without it, and the end set below.
    parsed = rrulestr(_text(list(parts.items())), dtstart=dtstart)
    if not isinstance(parsed, rrule):
        raise ValueError("must be a single RRULE")
    count = int(parts["COUNT"]) if "COUNT" in parts else None
    if count is not None and not 1 <= count <= MAX_COUNT:
        raise ValueError(f"COUNT must be between 1 and {MAX_COUNT}")
    if not 1 <= int(parts.get("INTERVAL", "1")) <= MAX_INTERVAL:
        raise ValueError(f"INTERVAL must be between 1 and {MAX_INTERVAL}")
    if until is not None:
        parsed = parsed.replace(until=datetime.combine(until, time.max))
    return Rule(parsed, until, count)


def _dtstart(p: Pattern) -> datetime:
    return datetime.combine(p.start_date, p.start_time)


def rule_of(p: Pattern) -> Rule:
    return parse_rule(p.recurrence, _dtstart(p))


# --- validation --------------------------------------------------------------------------


def _check_fields(d: Draft, v: Violations) -> None:
    v.text(PREFIX + "title", d.title, MAX_TITLE, required=True)
    v.text(PREFIX + "instructor", d.instructor, MAX_TITLE)
    v.check(
        1 <= d.capacity <= MAX_CAPACITY,
        PREFIX + "capacity",
        f"must be between 1 and {MAX_CAPACITY}",
    )
    v.check(
        0 <= d.waitlist_capacity <= MAX_WAITLIST,
        PREFIX + "waitlist_capacity",
        f"must be between 0 and {MAX_WAITLIST}",
    )
    window = d.cancellation_window
    v.check(
        window is None or timedelta(0) <= window <= MAX_WINDOW,
        PREFIX + "cancellation_window",
        "must be between 0 and 7 days",
    )
    # A series' occurrences are classes: a class lasts at most 12 hours.
    v.check(
        d.duration is not None and timedelta(0) < d.duration <= MAX_LENGTH,
        PREFIX + "duration",
        "must be more than 0 and at most 12 hours",
    )


def _zone_today(zone: str, now: datetime) -> date | None:
    return now.astimezone(ZoneInfo(zone)).date() if valid_zone(zone) else None


def validate(d: Draft, now: datetime, v: Violations | None = None) -> Pattern:
    """The pattern a request describes, or INVALID_ARGUMENT naming every offending field."""
    v = v if v is not None else Violations()
    _check_fields(d, v)
    today = _zone_today(d.time_zone, now)
    v.check(today is not None, PREFIX + "time_zone", "must be an IANA time zone")
    start_date, start_time = parse_date(d.start_date), parse_time(d.start_time)
    v.check(start_date is not None, PREFIX + "start_date", "must be a date like 2027-03-01")
    v.check(start_time is not None, PREFIX + "start_time", "must be a 24-hour time like 07:00")
    in_range = False
    if start_date is not None and today is not None:
        v.check(start_date >= today, PREFIX + "start_date", "must not be in the past")
        v.check(
            start_date <= today + MAX_START_AHEAD,
            PREFIX + "start_date",
            "must be within 2 years from today",
        )
        in_range = today <= start_date <= today + MAX_START_AHEAD
    # The rule is only read from a start in range: near year 9999 its end would not fit a date.
    if in_range and start_date is not None and start_time is not None and today is not None:
        _check_rule(d.recurrence, datetime.combine(start_date, start_time), today, v)
    v.raise_if_any()
    assert start_date is not None and start_time is not None and d.duration is not None
    return Pattern(
        title=d.title,
        instructor=d.instructor,
        capacity=d.capacity,
        waitlist_capacity=d.waitlist_capacity,
        cancellation_window=d.cancellation_window,
        time_zone=d.time_zone,
        start_date=start_date,
        start_time=start_time,
        duration=d.duration,
        recurrence=_text(_parts(d.recurrence)),
    )


def _check_rule(recurrence: str, dtstart: datetime, today: date, v: Violations) -> None:
    field = PREFIX + "recurrence"
    try:
        parsed = parse_rule(recurrence, dtstart)
    except (ValueError, OverflowError) as bad:
        v.add(field, f"is not a usable weekly RRULE: {bad}")
        return
    if parsed.until is not None and parsed.until < today:
        v.add(field, "UNTIL is in the past")
        return
    limit = datetime.combine(dtstart.date() + MAX_SPAN, time.max)
    if parsed.rule.after(dtstart, inc=True) is None:
        v.add(field, "has no occurrence on or after start_date")
    elif parsed.rule.after(limit) is not None:
        v.add(field, "must end within 5 years of start_date")


# --- occurrences -------------------------------------------------------------------------


def to_utc(local: datetime, zone: str) -> datetime:
    """A naive local wall time as a UTC instant: fold=0 (see the module's docstring)."""
    return local.replace(tzinfo=ZoneInfo(zone), fold=0).astimezone(UTC)


@dataclass(frozen=True)
class Occurrence:
    occurrence_date: date
    start: datetime
    end: datetime


def occurrence_on(p: Pattern, day: date) -> Occurrence:
    """The occurrence of the pattern's time on `day`, in UTC."""
    start = to_utc(datetime.combine(day, p.start_time), p.time_zone)
    # The duration is elapsed time: a class over a DST change still lasts its duration.
    return Occurrence(day, start, start + p.duration)


def local_dates(s: Series, first: date, last: date) -> list[date]:
    """The pattern's local dates in [first, last], cancelled ones left out."""
    rule = rule_of(s.pattern).rule
    lo = datetime.combine(first, time.min)
    hi = datetime.combine(last, time.max)
    days = [d.date() for d in rule.between(lo, hi, inc=True)]
    return [d for d in days if s.cancelled_from is None or d < s.cancelled_from]


def occurrences(s: Series, after: datetime, until: datetime | None = None) -> Iterator[datetime]:
    """Start instants (UTC) of the occurrences starting after `after` and at or before
    `until` (None: to the end), cancelled dates left out."""
    p = s.pattern
    zone = ZoneInfo(p.time_zone)
    # A day either side: local dates and UTC instants differ by up to a day.
    first = max(p.start_date, after.astimezone(zone).date() - timedelta(days=1))
    last = s.end_date if until is None else min(s.end_date, until.astimezone(zone).date())
    for day in local_dates(s, first, last + timedelta(days=1)):
        start = occurrence_on(p, day).start
        if start > after and (until is None or start <= until):
            yield start


def due(s: Series, now: datetime, horizon: timedelta) -> list[Occurrence]:
    """The occurrences that should exist as classes now: starting after now, within the
    horizon."""
    if s.status is SeriesStatus.CANCELLED:
        return []
    zone = ZoneInfo(s.pattern.time_zone)
    bound = now + horizon
    first = now.astimezone(zone).date() - timedelta(days=1)
    last = bound.astimezone(zone).date() + timedelta(days=1)
    found = (occurrence_on(s.pattern, d) for d in local_dates(s, first, last))
    return [o for o in found if now < o.start <= bound]


def end_date(p: Pattern) -> date:
    last = rule_of(p).rule.before(datetime.combine(p.start_date + MAX_SPAN, time.max), inc=True)
    assert last is not None, "validated: a pattern has an occurrence"
    return last.date()


def class_details(p: Pattern, o: Occurrence) -> ClassDetails:
    return ClassDetails(
        title=p.title,
        instructor=p.instructor,
        start_time=o.start,
        end_time=o.end,
        time_zone=p.time_zone,
        capacity=p.capacity,
        waitlist_capacity=p.waitlist_capacity,
        cancellation_window=p.cancellation_window,
    )


# --- use-case rules ----------------------------------------------------------------------


def new_series(series_id: str, p: Pattern, now: datetime) -> Series:
    return Series(
        series_id=series_id,
        pattern=p,
        status=SeriesStatus.ACTIVE,
        cancelled_from=None,
        previous_series_id="",
        materialized_until=now,
        end_date=end_date(p),
        create_time=now,
        update_time=now,
        version=1,
    )


def today_in(s: Series, now: datetime) -> date:
    return now.astimezone(ZoneInfo(s.pattern.time_zone)).date()


def from_date(s: Series, text: str, now: datetime, field: str = "from_date") -> date:
    """The date an edit or a cancel applies from: today in the series' zone when empty; not
    in the past."""
    today = today_in(s, now)
    if not text:
        return today
    found = parse_date(text)
    if found is None:
        raise invalid_field(field, "must be a date like 2027-03-01")
    if found < today:
        raise invalid_field(field, f"must not be before today ({today.isoformat()})")
    return found


def _remaining_dates(s: Series, start: date) -> list[date]:
    return local_dates(s, start, s.end_date)


@dataclass(frozen=True)
class Split:
    """An edit of this-and-following. `previous` is the old series as it now ends (None: the
    whole series changed in place); `series` carries the new pattern from the edit's date."""

    series: Series
    previous: Series | None
    changed: tuple[str, ...]


def edit(s: Series, changes: dict[str, object], start: date, new_id: str, now: datetime) -> Split:
    """The series after staff change `changes` (EDITABLE names) from the local date `start`."""
    if s.status is SeriesStatus.CANCELLED:
        raise failed_precondition(
            "SERIES_CANCELLED", "a cancelled series cannot be changed", series_id=s.series_id
        )
    tail = _remaining_dates(s, start)
    if not tail:
        raise invalid_field("from_date", "the series has no occurrence on or after it")
    p = s.pattern
    target = replace(p, **changes)  # type: ignore[arg-type]
    draft = Draft(
        target.title,
        target.instructor,
        target.capacity,
        target.waitlist_capacity,
        target.cancellation_window,
        target.time_zone,
        target.start_date.isoformat(),
        target.start_time.isoformat("minutes"),
        target.duration,
        target.recurrence,
    )
    v = Violations()
    _check_fields(draft, v)
    v.raise_if_any()
    changed = tuple(name for name in EDITABLE if getattr(target, name) != getattr(p, name))
    before = rule_of(p).rule.before(datetime.combine(start, time.min))
    if before is None:
        # Nothing before the date: the whole series takes the new values, in place.
        whole = replace(s, pattern=target, update_time=now, version=s.version + 1)
        return Split(replace(whole, end_date=end_date(target)), None, changed)
    head, rest = _cut(p, start, tail)
    old = replace(s, pattern=head, end_date=before.date(), update_time=now, version=s.version + 1)
    new = replace(
        s,
        series_id=new_id,
        pattern=replace(target, start_date=tail[0], recurrence=rest),
        previous_series_id=s.series_id,
        create_time=now,
        update_time=now,
        version=1,
    )
    return Split(replace(new, end_date=end_date(new.pattern)), old, changed)


def _cut(p: Pattern, start: date, tail: list[date]) -> tuple[Pattern, str]:
    """The old pattern ending the day before `start` (UNTIL), and the new one's rule: the
    same UNTIL, or the COUNT still to come."""
    parts = _parts(p.recurrence)
    head = [(k, v) for k, v in parts if k not in ("UNTIL", "COUNT")]
    until = (start - timedelta(days=1)).strftime("%Y%m%d")
    parsed = rule_of(p)
    if parsed.count is not None:
        done = sum(1 for _ in takewhile(lambda d: d.date() < start, parsed.rule))
        rest = [*head, ("COUNT", str(parsed.count - done))]
    else:
        rest = parts
    return replace(p, recurrence=_text([*head, ("UNTIL", until)])), _text(rest)


def cancel_from(s: Series, start: date, now: datetime) -> Series | None:
    """The series cancelled from the local date `start`: None when it is already (nothing
    changes). CANCELLED when no occurrence remains before the date."""
    if s.cancelled_from is not None and s.cancelled_from <= start:
        return None
    remaining = rule_of(s.pattern).rule.before(datetime.combine(start, time.min))
    status = SeriesStatus.ACTIVE if remaining is not None else SeriesStatus.CANCELLED
    return replace(s, cancelled_from=start, status=status, update_time=now, version=s.version + 1)


def retried(stored: Series, stored_hash: str, request_hash: str) -> Series:
    if stored_hash != request_hash:
        raise invalid_field("request_id", "was already used for a different series")
    return stored


# The events of a series (messages.py turns them into yoga.yogaclass.v1 events).
@dataclass(frozen=True)
class SeriesCreated:
    series: Series


@dataclass(frozen=True)
class SeriesUpdated:
    series: Series
    previous: Series | None
    changed: tuple[str, ...]
    from_date: date


@dataclass(frozen=True)
class SeriesCancelled:
    series: Series
    from_date: date


SeriesEvent = SeriesCreated | SeriesUpdated | SeriesCancelled
