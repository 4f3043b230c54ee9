"""The rules of a weekly series (yogaclass_svc/series.py): local wall times across daylight-saving
changes, the gap and the overlap, UNTIL and COUNT, this-and-following splits, cancels, and each
refusal naming its field."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yoga_common.errors import Code, ServiceError
from yogaclass_svc import series
from yogaclass_svc.series import Draft, Series, SeriesStatus
from yogaclass_svc.studio import StudioRules, StudioSettings, change_settings, validate_rules

NOW = datetime(2027, 1, 1, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)


def draft(**changes: object) -> Draft:
    base = Draft(
        title="Vinyasa",
        instructor="Jiwoo",
        capacity=12,
        waitlist_capacity=3,
        cancellation_window=None,
        time_zone="America/New_York",
        start_date="2027-03-01",
        start_time="07:00",
        duration=HOUR,
        recurrence="RRULE:FREQ=WEEKLY;BYDAY=SU,MO;UNTIL=20271130",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def make(**changes: object) -> Series:
    return series.new_series("s-1", series.validate(draft(**changes), NOW), NOW)


def starts(s: Series) -> list[datetime]:
    return list(series.occurrences(s, NOW))


def by_date(s: Series) -> dict[date, datetime]:
    zone = ZoneInfo(s.pattern.time_zone)
    return {at.astimezone(zone).date(): at for at in starts(s)}


def utc_hour(found: dict[date, datetime], day: str) -> int:
    return found[date.fromisoformat(day)].hour


def test_new_york_keeps_seven_local_across_both_changes() -> None:
    found = by_date(make())
    # EST (UTC-5) before 14 March, EDT (UTC-4) until 7 November, EST again from that day
    # (07:00 is after the 02:00 fall-back).
    assert utc_hour(found, "2027-03-07") == 12
    assert utc_hour(found, "2027-03-14") == 11
    assert utc_hour(found, "2027-03-15") == 11
    assert utc_hour(found, "2027-10-31") == 11
    assert utc_hour(found, "2027-11-07") == 12
    zone = ZoneInfo("America/New_York")
    assert {at.astimezone(zone).time() for at in found.values()} == {time(7)}


def test_berlin_keeps_seven_local_across_both_changes() -> None:
    found = by_date(make(time_zone="Europe/Berlin", start_date="2027-03-21"))
    assert utc_hour(found, "2027-03-22") == 6  # CET
    assert utc_hour(found, "2027-03-28") == 5  # CEST from that night
    assert utc_hour(found, "2027-10-25") == 5
    assert utc_hour(found, "2027-10-31") == 6  # CET again
    assert utc_hour(found, "2027-11-01") == 6


def test_seoul_has_no_change() -> None:
    found = by_date(make(time_zone="Asia/Seoul"))
    assert {at.hour for at in found.values()} == {22}  # 07:00 KST is 22:00 UTC the day before


def test_until_is_an_inclusive_local_date_and_count_is_honoured() -> None:
    until = make(recurrence="FREQ=WEEKLY;BYDAY=MO;UNTIL=20270315")
    assert sorted(by_date(until)) == [date(2027, 3, 1), date(2027, 3, 8), date(2027, 3, 15)]
    assert until.end_date == date(2027, 3, 15)
    # A UTC date-time UNTIL is read by its date.
    utc = make(recurrence="FREQ=WEEKLY;BYDAY=MO;UNTIL=20270315T000000Z")
    assert sorted(by_date(utc)) == sorted(by_date(until))
    counted = make(recurrence="FREQ=WEEKLY;BYDAY=MO,WE;COUNT=5")
    assert len(starts(counted)) == 5
    assert counted.end_date == date(2027, 3, 15)


def test_a_time_in_the_spring_gap_is_the_same_wall_time_after_it() -> None:
    s = make(start_date="2027-03-07", start_time="02:30", recurrence="FREQ=WEEKLY;COUNT=3")
    found = by_date(s)
    local = found[date(2027, 3, 14)].astimezone(ZoneInfo("America/New_York"))
    assert (local.hour, local.minute) == (3, 30)  # 02:30 does not exist that night
    assert found[date(2027, 3, 14)] == datetime(2027, 3, 14, 7, 30, tzinfo=UTC)
    assert found[date(2027, 3, 7)] == datetime(2027, 3, 7, 7, 30, tzinfo=UTC)
    assert found[date(2027, 3, 21)] == datetime(2027, 3, 21, 6, 30, tzinfo=UTC)


def test_an_ambiguous_time_takes_the_first() -> None:
    s = make(start_date="2027-10-31", start_time="01:30", recurrence="FREQ=WEEKLY;COUNT=2")
    # 01:30 happens twice on 7 November: the first is still daylight time (UTC-4).
    assert by_date(s)[date(2027, 11, 7)] == datetime(2027, 11, 7, 5, 30, tzinfo=UTC)


def test_due_is_what_the_horizon_reaches_after_now() -> None:
    s = make(time_zone="Asia/Seoul", recurrence="FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20270630")
    now = datetime(2027, 3, 2, tzinfo=UTC)  # Tuesday, 09:00 in Seoul: Monday's has begun
    due = series.due(s, now, timedelta(days=14))
    assert [o.occurrence_date for o in due] == [
        date(2027, 3, 3),
        date(2027, 3, 8),
        date(2027, 3, 10),
        date(2027, 3, 15),
    ]
    assert all(o.end - o.start == HOUR for o in due)
    cancelled = replace(s, cancelled_from=date(2027, 3, 10))
    assert [o.occurrence_date for o in series.due(cancelled, now, timedelta(days=14))] == [
        date(2027, 3, 3),
        date(2027, 3, 8),
    ]
    assert series.due(replace(s, status=SeriesStatus.CANCELLED), now, timedelta(days=14)) == []


def test_next_due_follows_materialized_until() -> None:
    s = make(time_zone="Asia/Seoul", recurrence="FREQ=WEEKLY;BYDAY=MO;COUNT=2")
    assert s.next_due == datetime(2027, 2, 28, 22, tzinfo=UTC)
    assert replace(s, materialized_until=datetime(2027, 3, 1, tzinfo=UTC)).next_due == datetime(
        2027, 3, 7, 22, tzinfo=UTC
    )
    assert replace(s, materialized_until=datetime(2027, 3, 8, tzinfo=UTC)).next_due is None


DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
ZONES = ["America/New_York", "Europe/Berlin", "Asia/Seoul", "Australia/Sydney", "UTC"]


@settings(max_examples=60, deadline=None)
@given(
    days=st.sets(st.sampled_from(DAYS), min_size=1, max_size=7),
    interval=st.integers(1, 3),
    count=st.integers(1, 60),
    zone=st.sampled_from(ZONES),
    hour=st.sampled_from([0, 1, 3, 7, 12, 18, 23]),
    minute=st.sampled_from([0, 15, 30, 45]),
    offset=st.integers(0, 300),
)
def test_any_weekly_rule_keeps_its_local_time_and_days(
    days: set[str], interval: int, count: int, zone: str, hour: int, minute: int, offset: int
) -> None:
    start = date(2027, 1, 2) + timedelta(days=offset)
    rule = f"FREQ=WEEKLY;INTERVAL={interval};BYDAY={','.join(sorted(days))};COUNT={count}"
    s = make(
        time_zone=zone,
        start_date=start.isoformat(),
        start_time=f"{hour:02d}:{minute:02d}",
        recurrence=rule,
    )
    found = starts(s)
    assert len(found) == count
    assert found == sorted(found)
    for at in found:
        local = at.astimezone(ZoneInfo(zone))
        # None of these hours falls in a gap of these zones: the wall time is kept.
        assert (local.hour, local.minute) == (hour, minute)
        assert DAYS[local.weekday()] in days
        assert local.date() >= start
    assert s.end_date == found[-1].astimezone(ZoneInfo(zone)).date()


# --- refusals name their field ------------------------------------------------------------


def refused(**changes: object) -> list[str]:
    with pytest.raises(ServiceError) as err:
        series.validate(draft(**changes), NOW)
    assert err.value.code is Code.INVALID_ARGUMENT
    return [v.field for v in err.value.violations]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"time_zone": "Mars/Olympus"}, "series.time_zone"),
        ({"time_zone": ""}, "series.time_zone"),
        ({"start_date": "2027-3-1"}, "series.start_date"),
        ({"start_date": "2027-02-30"}, "series.start_date"),
        ({"start_date": "2026-12-01"}, "series.start_date"),
        ({"start_date": "9999-12-31"}, "series.start_date"),
        ({"start_date": "0001-01-01", "start_time": "00:00"}, "series.start_date"),
        ({"start_time": "7:00"}, "series.start_time"),
        ({"start_time": "24:00"}, "series.start_time"),
        ({"duration": timedelta()}, "series.duration"),
        ({"duration": None}, "series.duration"),
        ({"duration": timedelta(hours=13)}, "series.duration"),
        ({"capacity": 0}, "series.capacity"),
        ({"waitlist_capacity": -1}, "series.waitlist_capacity"),
        ({"title": " "}, "series.title"),
        ({"cancellation_window": timedelta(days=8)}, "series.cancellation_window"),
        ({"recurrence": "FREQ=WEEKLY;BYDAY=MO"}, "series.recurrence"),
        ({"recurrence": "FREQ=DAILY;COUNT=3"}, "series.recurrence"),
        ({"recurrence": "FREQ=WEEKLY;UNTIL=20261201"}, "series.recurrence"),
        ({"recurrence": "DTSTART:20270301T070000\nRRULE:FREQ=WEEKLY;COUNT=2"}, "series.recurrence"),
        ({"recurrence": "FREQ=WEEKLY;COUNT=501"}, "series.recurrence"),
        ({"recurrence": "FREQ=WEEKLY;COUNT=2;UNTIL=20270601"}, "series.recurrence"),
        ({"recurrence": "FREQ=WEEKLY;BYHOUR=9;COUNT=2"}, "series.recurrence"),
        ({"recurrence": "FREQ=WEEKLY;BYDAY=XX;COUNT=2"}, "series.recurrence"),
        ({"recurrence": "FREQ=WEEKLY;UNTIL=20400101"}, "series.recurrence"),
        ({"recurrence": "not a rule"}, "series.recurrence"),
        ({"recurrence": ""}, "series.recurrence"),
    ],
)
def test_each_refusal_names_its_field(changes: dict[str, object], field: str) -> None:
    assert refused(**changes) == [field]


def test_every_offending_field_at_once() -> None:
    fields = refused(time_zone="Nowhere", capacity=0, start_time="7am")
    assert sorted(fields) == ["series.capacity", "series.start_time", "series.time_zone"]


def test_the_rrule_prefix_is_optional() -> None:
    with_prefix = make(recurrence="RRULE:FREQ=WEEKLY;COUNT=3")
    without = make(recurrence="freq=weekly;count=3")
    assert with_prefix.pattern.recurrence == without.pattern.recurrence == "FREQ=WEEKLY;COUNT=3"


# --- this and following, and cancels -------------------------------------------------------


def test_an_edit_after_the_first_occurrence_splits_with_until() -> None:
    s = make(time_zone="Asia/Seoul", recurrence="FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20270630")
    split = series.edit(s, {"start_time": time(9)}, date(2027, 4, 6), "s-2", NOW)
    assert split.previous is not None
    assert split.previous.series_id == "s-1"
    assert split.previous.pattern.recurrence == "FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20270405"
    assert split.previous.end_date == date(2027, 4, 5)
    new = split.series
    assert (new.series_id, new.previous_series_id) == ("s-2", "s-1")
    assert new.pattern.start_date == date(2027, 4, 7)  # the first occurrence from the date
    assert new.pattern.start_time == time(9)
    assert new.pattern.recurrence == s.pattern.recurrence
    assert new.end_date == date(2027, 6, 30)
    assert split.changed == ("start_time",)
    old_dates = set(by_date(split.previous))
    new_dates = set(by_date(new))
    assert old_dates | new_dates == set(by_date(s))
    assert not old_dates & new_dates


def test_a_count_rule_splits_into_the_count_still_to_come() -> None:
    s = make(time_zone="Asia/Seoul", recurrence="FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10")
    split = series.edit(s, {"capacity": 20}, date(2027, 3, 10), "s-2", NOW)
    assert split.previous is not None
    assert split.previous.pattern.recurrence == "FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20270309"
    assert len(starts(split.previous)) == 3
    assert split.series.pattern.recurrence == "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=7"
    assert len(starts(split.series)) == 7
    assert split.series.end_date == s.end_date


def test_an_edit_from_the_first_occurrence_changes_the_series_in_place() -> None:
    s = make(time_zone="Asia/Seoul")
    split = series.edit(s, {"title": "Yin", "duration": 2 * HOUR}, date(2027, 3, 1), "s-2", NOW)
    assert split.previous is None
    assert split.series.series_id == "s-1"
    assert split.series.version == s.version + 1
    assert split.changed == ("title", "duration")


def test_edits_that_cannot_be_made() -> None:
    s = make(recurrence="FREQ=WEEKLY;BYDAY=MO;UNTIL=20270315")
    with pytest.raises(ServiceError) as err:
        series.edit(s, {"title": "Yin"}, date(2027, 3, 16), "s-2", NOW)
    assert [v.field for v in err.value.violations] == ["from_date"]
    with pytest.raises(ServiceError) as err:
        series.edit(s, {"capacity": 0}, date(2027, 3, 8), "s-2", NOW)
    assert [v.field for v in err.value.violations] == ["series.capacity"]
    cancelled = replace(s, status=SeriesStatus.CANCELLED)
    with pytest.raises(ServiceError) as err:
        series.edit(cancelled, {"title": "Yin"}, date(2027, 3, 8), "s-2", NOW)
    assert err.value.code is Code.FAILED_PRECONDITION


def test_from_date_is_today_by_default_and_never_in_the_past() -> None:
    s = make(time_zone="Asia/Seoul")
    late = datetime(2027, 3, 1, 16, tzinfo=UTC)  # already 2 March in Seoul
    assert series.from_date(s, "", late) == date(2027, 3, 2)
    for bad in ("2027-03-01", "tomorrow", "2027-13-01"):
        with pytest.raises(ServiceError) as err:
            series.from_date(s, bad, late)
        assert [v.field for v in err.value.violations] == ["from_date"]


def test_a_cancel_ends_the_series_once() -> None:
    s = make(time_zone="Asia/Seoul")
    later = series.cancel_from(s, date(2027, 4, 1), NOW)
    assert later is not None
    assert (later.status, later.cancelled_from) == (SeriesStatus.ACTIVE, date(2027, 4, 1))
    assert max(by_date(later)) < date(2027, 4, 1)
    assert series.cancel_from(later, date(2027, 4, 1), NOW) is None  # again: nothing
    assert series.cancel_from(later, date(2027, 5, 1), NOW) is None  # later: nothing more
    whole = series.cancel_from(later, date(2027, 3, 1), NOW)
    assert whole is not None
    assert whole.status is SeriesStatus.CANCELLED
    assert by_date(whole) == {}


# --- the studio's settings for the timetable ------------------------------------------------


def test_the_reminder_lead_and_the_horizon_have_defaults_and_limits() -> None:
    rules = StudioRules()
    assert (rules.reminder_lead, rules.series_horizon) == (timedelta(hours=24), timedelta(days=56))
    ok = [
        {"reminder_lead": timedelta(0)},
        {"reminder_lead": timedelta(days=7)},
        {"series_horizon": timedelta(days=1)},
        {"series_horizon": timedelta(days=182)},
    ]
    for changes in ok:
        validate_rules(replace(rules, **changes))  # type: ignore[arg-type]
    bad = [
        ({"reminder_lead": timedelta(days=7, seconds=1)}, "settings.reminder_lead"),
        ({"reminder_lead": -HOUR}, "settings.reminder_lead"),
        ({"series_horizon": timedelta(days=183)}, "settings.series_horizon"),
        ({"series_horizon": timedelta(hours=23)}, "settings.series_horizon"),
        ({"series_horizon": timedelta(0)}, "settings.series_horizon"),
    ]
    for changes, field in bad:
        with pytest.raises(ServiceError) as err:
            validate_rules(replace(rules, **changes))  # type: ignore[arg-type]
        assert [v.field for v in err.value.violations] == [field]


def test_a_settings_change_names_the_new_fields() -> None:
    changed, event = change_settings(StudioSettings(), {"series_horizon": timedelta(days=28)}, NOW)
    assert event is not None
    assert event.changed == ("series_horizon",)
    assert changed.rules.series_horizon == timedelta(days=28)
