"""The studio's settings and a member's standing as plain rules (yogaclass_svc/studio.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from yoga_common.errors import Code, ServiceError
from yoga_common.principal import ADMIN, MEMBER, Principal
from yogaclass_svc import studio
from yogaclass_svc.studio import (
    DEFAULT_RULES,
    Standing,
    StudioRules,
    StudioSettings,
    StudioSettingsChanged,
)

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def violations(rules: StudioRules) -> list[str]:
    with pytest.raises(ServiceError) as err:
        studio.validate_rules(rules)
    assert err.value.code is Code.INVALID_ARGUMENT
    return [v.field for v in err.value.violations]


def test_the_defaults_are_the_documented_ones() -> None:
    assert (
        StudioRules(
            waitlist_cutoff=2 * HOUR,
            cancellation_window=12 * HOUR,
            check_in_opens=timedelta(minutes=30),
            no_show_grace=timedelta(minutes=15),
            strike_limit=0,
            strike_period=30 * DAY,
            block_duration=7 * DAY,
            booking_limit=0,
        )
        == DEFAULT_RULES
    )
    assert not DEFAULT_RULES.strikes_on
    studio.validate_rules(DEFAULT_RULES)
    assert StudioSettings() == StudioSettings(DEFAULT_RULES, None, 0)


@pytest.mark.parametrize("name", studio.DURATION_FIELDS)
def test_a_negative_duration_is_refused_naming_the_field(name: str) -> None:
    assert violations(replace(DEFAULT_RULES, **{name: -timedelta(seconds=1)})) == [
        f"settings.{name}"
    ]


@pytest.mark.parametrize("name", studio.DURATION_FIELDS)
def test_durations_are_whole_seconds(name: str) -> None:
    bad = replace(DEFAULT_RULES, **{name: timedelta(seconds=60, milliseconds=500)})
    assert violations(bad) == [f"settings.{name}"]


@pytest.mark.parametrize(
    ("name", "largest"),
    [
        ("waitlist_cutoff", 7 * DAY),
        ("cancellation_window", 7 * DAY),
        ("check_in_opens", DAY),
        ("no_show_grace", DAY),
        ("strike_period", 365 * DAY),
        ("block_duration", 365 * DAY),
    ],
)
def test_durations_have_an_upper_bound(name: str, largest: timedelta) -> None:
    studio.validate_rules(replace(DEFAULT_RULES, **{name: largest}))
    assert violations(replace(DEFAULT_RULES, **{name: largest + timedelta(seconds=1)})) == [
        f"settings.{name}"
    ]


def test_zero_durations_are_allowed_where_they_mean_something() -> None:
    studio.validate_rules(
        replace(
            DEFAULT_RULES,
            waitlist_cutoff=timedelta(),
            cancellation_window=timedelta(),
            check_in_opens=timedelta(),
            no_show_grace=timedelta(),
        )
    )


def test_with_strikes_on_period_and_block_are_at_least_a_day() -> None:
    on = replace(DEFAULT_RULES, strike_limit=3)
    studio.validate_rules(replace(on, strike_period=DAY, block_duration=DAY))
    assert violations(replace(on, strike_period=DAY - timedelta(seconds=1))) == [
        "settings.strike_period"
    ]
    assert violations(replace(on, block_duration=timedelta())) == ["settings.block_duration"]
    # Off, they are only kept for later.
    studio.validate_rules(replace(DEFAULT_RULES, strike_period=timedelta()))


@pytest.mark.parametrize("name", studio.LIMIT_FIELDS)
@pytest.mark.parametrize(("value", "ok"), [(0, True), (1000, True), (-1, False), (1001, False)])
def test_limits_are_0_to_1000(name: str, value: int, ok: bool) -> None:
    rules = replace(DEFAULT_RULES, **{name: value})
    if ok:
        studio.validate_rules(rules)
    else:
        assert violations(rules) == [f"settings.{name}"]


def test_every_violation_is_named_at_once() -> None:
    bad = replace(
        DEFAULT_RULES,
        waitlist_cutoff=-HOUR,
        booking_limit=-1,
        strike_limit=5000,
        no_show_grace=2 * DAY,
    )
    assert sorted(violations(bad)) == [
        "settings.booking_limit",
        "settings.no_show_grace",
        "settings.strike_limit",
        "settings.waitlist_cutoff",
    ]


def test_a_change_bumps_the_version_and_names_what_changed() -> None:
    target, event = studio.change_settings(
        StudioSettings(), {"strike_limit": 3, "cancellation_window": 12 * HOUR}, NOW
    )
    assert target == StudioSettings(replace(DEFAULT_RULES, strike_limit=3), NOW, 1)
    # The window was already 12 h: only the limit changed.
    assert event == StudioSettingsChanged(target, ("strike_limit",))


def test_a_change_to_the_same_values_is_no_change() -> None:
    current = StudioSettings(DEFAULT_RULES, NOW - DAY, 4)
    target, event = studio.change_settings(current, {"waitlist_cutoff": 2 * HOUR}, NOW)
    assert (target, event) == (current, None)


def test_a_bad_change_is_refused_whole() -> None:
    with pytest.raises(ServiceError) as err:
        studio.change_settings(StudioSettings(), {"strike_limit": 3, "booking_limit": -2}, NOW)
    assert [v.field for v in err.value.violations] == ["settings.booking_limit"]


def test_strikes_count_within_the_period_and_after_the_lift() -> None:
    rules = replace(DEFAULT_RULES, strike_limit=3)
    assert studio.counted_since(rules, Standing("u"), NOW) == NOW - 30 * DAY
    lifted = Standing("u", lifted_time=NOW - 2 * DAY)
    assert studio.counted_since(rules, lifted, NOW) == NOW - 2 * DAY
    long_ago = Standing("u", lifted_time=NOW - 60 * DAY)
    assert studio.counted_since(rules, long_ago, NOW) == NOW - 30 * DAY


def test_the_limit_blocks_a_member_not_blocked_already() -> None:
    rules = replace(DEFAULT_RULES, strike_limit=3, block_duration=7 * DAY)
    member = Standing("u", version=2)
    assert studio.block_due(rules, member, 2, NOW) is None
    blocked = studio.block_due(rules, member, 3, NOW)
    assert blocked == Standing("u", blocked_until=NOW + 7 * DAY, version=3)
    assert blocked is not None
    # Blocked already: a fourth strike does not move the block.
    assert studio.block_due(rules, blocked, 4, NOW + DAY) is None
    # Once the block ran out, strikes still inside the period block again.
    assert studio.block_due(rules, blocked, 4, NOW + 8 * DAY) is not None


def test_strikes_off_never_block() -> None:
    assert studio.block_due(DEFAULT_RULES, Standing("u"), 50, NOW) is None


def test_a_lift_ends_the_block_and_forgives_the_strikes_so_far() -> None:
    blocked = Standing("u", blocked_until=NOW + DAY, version=1)
    lifted = studio.lift_block(blocked, NOW)
    assert lifted == Standing("u", blocked_until=None, lifted_time=NOW, version=2)
    assert lifted is not None
    # Lifting again, or lifting one whose block ran out, changes nothing.
    assert studio.lift_block(lifted, NOW + HOUR) is None
    assert studio.lift_block(blocked, NOW + 2 * DAY) is None
    assert studio.lift_block(Standing("u"), NOW) is None


def test_the_view_shows_a_block_only_while_it_lasts() -> None:
    rules = replace(DEFAULT_RULES, booking_limit=4)
    blocked = Standing("u", blocked_until=NOW + HOUR, lifted_time=NOW - DAY, version=3)
    shown = studio.view(rules, blocked, 2, 1, NOW)
    assert (shown.strikes, shown.blocked_until, shown.lifted_time) == (2, NOW + HOUR, NOW - DAY)
    assert (shown.held_bookings, shown.booking_limit) == (1, 4)
    assert studio.view(rules, blocked, 2, 1, NOW + 2 * HOUR).blocked_until is None


def test_a_member_reads_only_their_own_standing() -> None:
    assert studio.standing_owner(Principal("a", MEMBER), "a") == "a"
    assert studio.standing_owner(Principal("staff", ADMIN), "a") == "a"
    with pytest.raises(ServiceError) as err:
        studio.standing_owner(Principal("b", MEMBER), "a")
    assert err.value.code is Code.PERMISSION_DENIED
