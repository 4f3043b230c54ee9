"""The studio's booking rules (its settings) and a member's standing (strikes and blocks).
Plain Python: no gRPC, no SQL. Each rule returns the new state and the event it raises;
studio_service.py stores them through the unit of work.

Settings: one record, the documented defaults until staff first change it. A change names
the fields it touches; every field is checked (whole seconds, in range) before anything is
written, and a change that changes nothing is no change (no new version, no event).

Standing: a late cancel or a no-show (reservation_svc decides them and publishes them) is one
strike, recorded once per reservation. Strikes count while they are younger than
`strike_period` and later than the member's last lift. When strikes are on
(`strike_limit > 0`) and a new strike brings the count to the limit, a member who is not
blocked already is blocked for `block_duration`. Staff lift a block: the block ends now and
every strike up to now stops counting. Lifting a member who is not blocked changes nothing
(a retried lift is a no-op; no event). A block that ran out does not forgive the strikes
still inside the period: the next strike blocks again; only a lift forgives them. Lowering the
limit blocks nobody at once: the rule is applied when a strike arrives."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from yoga_common.errors import Violations, permission_denied
from yoga_common.principal import Principal

MAX_LIMIT = 1000
# Waitlist cutoff and cancellation window: at most a week before a class.
MAX_BEFORE_CLASS = timedelta(days=7)
# Check-in opening and no-show grace: at most a day around a class.
MAX_AROUND_CLASS = timedelta(days=1)
# Strike period and block duration, when strikes are on.
MIN_STRIKE_SPAN = timedelta(days=1)
MAX_STRIKE_SPAN = timedelta(days=365)
# Reminders: at most a week before a class (0: none).
MAX_REMINDER_LEAD = timedelta(days=7)
# Series' rolling horizon: at least a day, at most 26 weeks of classes made ahead (each
# occurrence is a row, and a timetable further out is rarely certain).
MIN_HORIZON = timedelta(days=1)
MAX_HORIZON = timedelta(days=182)

DURATION_FIELDS = (
    "waitlist_cutoff",
    "cancellation_window",
    "check_in_opens",
    "no_show_grace",
    "strike_period",
    "block_duration",
    "reminder_lead",
    "series_horizon",
)
LIMIT_FIELDS = ("strike_limit", "booking_limit")
MUTABLE_SETTINGS = (
    "waitlist_cutoff",
    "cancellation_window",
    "check_in_opens",
    "no_show_grace",
    "strike_limit",
    "strike_period",
    "block_duration",
    "booking_limit",
    "reminder_lead",
    "series_horizon",
)
# Field names as a request names them (UpdateStudioSettingsRequest.settings).
FIELD_PREFIX = "settings."


@dataclass(frozen=True)
class StudioRules:
    """What staff decide about booking; the defaults are the studio's until they change them."""

    # No promotion from the waitlist later than this before a class.
    waitlist_cutoff: timedelta = timedelta(hours=2)
    # A member's cancel later than this before a class is a late cancel (a strike).
    cancellation_window: timedelta = timedelta(hours=12)
    # Check-in opens this long before a class.
    check_in_opens: timedelta = timedelta(minutes=30)
    # A booking not checked in is a no-show this long after the class ends.
    no_show_grace: timedelta = timedelta(minutes=15)
    # This many strikes within strike_period block online booking for block_duration; 0: off.
    strike_limit: int = 0
    strike_period: timedelta = timedelta(days=30)
    block_duration: timedelta = timedelta(days=7)
    # Upcoming bookings a member may hold; 0: no limit.
    booking_limit: int = 0
    # A reminder goes to each confirmed booking this long before its class; 0: none.
    reminder_lead: timedelta = timedelta(hours=24)
    # Series' occurrences exist as bookable classes this far ahead.
    series_horizon: timedelta = timedelta(days=56)

    @property
    def strikes_on(self) -> bool:
        return self.strike_limit > 0


DEFAULT_RULES = StudioRules()


@dataclass(frozen=True)
class StudioSettings:
    """The rules as stored: `version` 0 and no `update_time` while they are the defaults."""

    rules: StudioRules = DEFAULT_RULES
    update_time: datetime | None = None
    version: int = 0


def _check_duration(
    v: Violations, name: str, value: timedelta, upper: timedelta, lower: timedelta = timedelta()
) -> None:
    field = FIELD_PREFIX + name
    if value < timedelta():
        v.add(field, "must not be negative")
    elif value.microseconds:
        v.add(field, "must be whole seconds")
    elif not lower <= value <= upper:
        v.add(field, f"must be between {_human(lower)} and {_human(upper)}")


def _human(span: timedelta) -> str:
    if span.days and not span.seconds:
        return f"{span.days} days" if span.days != 1 else "1 day"
    return f"{int(span.total_seconds())} s"


def validate_rules(rules: StudioRules, v: Violations | None = None) -> None:
    """Every violation at once (added to `v`'s, if given), each naming `settings.<field>`."""
    v = v if v is not None else Violations()
    _check_duration(v, "waitlist_cutoff", rules.waitlist_cutoff, MAX_BEFORE_CLASS)
    _check_duration(v, "cancellation_window", rules.cancellation_window, MAX_BEFORE_CLASS)
    _check_duration(v, "check_in_opens", rules.check_in_opens, MAX_AROUND_CLASS)
    _check_duration(v, "no_show_grace", rules.no_show_grace, MAX_AROUND_CLASS)
    # With strikes off the period and the block are kept for later, but still sane.
    lower = MIN_STRIKE_SPAN if rules.strikes_on else timedelta()
    _check_duration(v, "strike_period", rules.strike_period, MAX_STRIKE_SPAN, lower)
    _check_duration(v, "block_duration", rules.block_duration, MAX_STRIKE_SPAN, lower)
    _check_duration(v, "reminder_lead", rules.reminder_lead, MAX_REMINDER_LEAD)
    _check_duration(v, "series_horizon", rules.series_horizon, MAX_HORIZON, MIN_HORIZON)
    for name in LIMIT_FIELDS:
        v.check(
            0 <= getattr(rules, name) <= MAX_LIMIT,
            FIELD_PREFIX + name,
            f"must be between 0 and {MAX_LIMIT}",
        )
    v.raise_if_any()


@dataclass(frozen=True)
class StudioSettingsChanged:
    settings: StudioSettings
    changed: tuple[str, ...]


def change_settings(
    current: StudioSettings, changes: dict[str, Any], now: datetime
) -> tuple[StudioSettings, StudioSettingsChanged | None]:
    """The settings after staff change the given fields (names of StudioRules). Nothing is
    changed, and no event raised, when every value is the one the studio has already."""
    unknown = set(changes) - set(MUTABLE_SETTINGS)
    if unknown:
        raise ValueError(f"not a studio setting: {sorted(unknown)}")
    rules = replace(current.rules, **changes)
    validate_rules(rules)
    before = current.rules
    changed = tuple(
        f.name for f in fields(StudioRules) if getattr(rules, f.name) != getattr(before, f.name)
    )
    if not changed:
        return current, None
    target = StudioSettings(rules, now, current.version + 1)
    return target, StudioSettingsChanged(target, changed)


# --- standing ---------------------------------------------------------------------------


class StrikeKind(StrEnum):
    LATE_CANCEL = "LATE_CANCEL"
    NO_SHOW = "NO_SHOW"


@dataclass(frozen=True)
class Standing:
    """What is kept of a member's standing; `version` 0 before anything happened to it."""

    user_id: str
    blocked_until: datetime | None = None
    lifted_time: datetime | None = None
    version: int = 0

    def blocked_at(self, now: datetime) -> datetime | None:
        """The end of the member's block, if they are blocked at `now`."""
        if self.blocked_until is not None and self.blocked_until > now:
            return self.blocked_until
        return None


@dataclass(frozen=True)
class MemberStanding:
    """A member's standing as shown (and carried by the events)."""

    user_id: str
    strikes: int
    blocked_until: datetime | None
    lifted_time: datetime | None
    held_bookings: int
    booking_limit: int


def standing_owner(principal: Principal, user_id: str) -> str:
    """Whose standing the caller may read: staff anyone's, a member only their own."""
    if principal.is_admin or principal.subject == user_id:
        return user_id
    raise permission_denied("members can only read their own standing")


def counted_since(rules: StudioRules, standing: Standing, now: datetime) -> datetime:
    """Strikes later than this count now: inside the period, and after the last lift."""
    start = now - rules.strike_period
    if standing.lifted_time is not None and standing.lifted_time > start:
        return standing.lifted_time
    return start


def view(
    rules: StudioRules, standing: Standing, strikes: int, held_bookings: int, now: datetime
) -> MemberStanding:
    return MemberStanding(
        user_id=standing.user_id,
        strikes=strikes,
        blocked_until=standing.blocked_at(now),
        lifted_time=standing.lifted_time,
        held_bookings=held_bookings,
        booking_limit=rules.booking_limit,
    )


def block_due(
    rules: StudioRules, standing: Standing, strikes: int, now: datetime
) -> Standing | None:
    """After a strike was recorded (`strikes` count now): the member blocked until
    now + block_duration, or None when strikes are off, below the limit, or they are blocked."""
    if not rules.strikes_on or strikes < rules.strike_limit:
        return None
    if standing.blocked_at(now) is not None:
        return None
    return replace(standing, blocked_until=now + rules.block_duration, version=standing.version + 1)


def lift_block(standing: Standing, now: datetime) -> Standing | None:
    """Staff lift a block: it ends now and the strikes so far stop counting. None when the
    member is not blocked (nothing changes)."""
    if standing.blocked_at(now) is None:
        return None
    return replace(standing, blocked_until=None, lifted_time=now, version=standing.version + 1)


@dataclass(frozen=True)
class MemberBlocked:
    standing: MemberStanding


@dataclass(frozen=True)
class BlockLifted:
    standing: MemberStanding


StudioEvent = StudioSettingsChanged | MemberBlocked | BlockLifted
