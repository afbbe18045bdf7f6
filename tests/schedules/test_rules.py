"""Schedule rules: validation, occurrences across DST, quiet hours, overlaps, CronTriggers."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.schedules.rules import (
    DAY_NAMES,
    QuietHours,
    Rule,
    RuleError,
    cron_triggers,
    find_overlaps,
    in_quiet_hours,
    next_occurrences,
    occurrences,
    parse_quiet_hours,
    quiet_hours_end,
    quiet_time_violations,
    self_overlaps,
    slot_conflicts,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = date(2025, 1, 6)  # a Monday


def at(zone: ZoneInfo, y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=zone)


def local(moments: list[datetime], zone: ZoneInfo = SHANGHAI) -> list[str]:
    return [m.astimezone(zone).strftime("%a %m-%d %H:%M") for m in moments]


def fire_times(rule: Rule, start: datetime, end: datetime) -> list[datetime]:
    """Every instant the rule's CronTriggers fire in [start, end), as APScheduler would."""
    fired = []
    for trigger in cron_triggers(rule):
        previous, now = None, start
        while (fire := trigger.get_next_fire_time(previous, now)) is not None and fire < end:
            fired.append(fire)
            previous = now = fire
    return fired


def first_of_repeated(fires: list[datetime]) -> list[datetime]:
    """Drop the second firing of a local time that a fall-back night repeats."""
    kept = [f for f in fires if not (f.fold and f.utcoffset() != f.replace(fold=0).utcoffset())]
    return sorted({f.astimezone(UTC) for f in kept})


# --- validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"times": ("25:00",)}, "not a time of day"),
        ({"times": ("07:60",)}, "not a time of day"),
        ({"times": ("7h",)}, "HH:MM"),
        ({"times": ("",)}, "HH:MM"),
        ({"times": (700,)}, "HH:MM"),
        ({"times": ()}, "at least one time"),
        ({"times": ("07:00", "7:00")}, "duplicate time(s) 07:00"),
        ({"times": ("07:00",), "days": ("monday",)}, "unknown day name(s) 'monday'"),
        ({"times": ("07:00",), "days": ("mon", "Mon")}, "listed twice"),
        ({"times": ("07:00",), "days": ()}, "at least one day"),
        ({"times": ("07:00",), "days": "mon"}, "list of day names"),
        ({"every_minutes": 30, "window": ("20:00", "07:00")}, "must be after its start"),
        ({"every_minutes": 30, "window": ("07:00", "07:00")}, "must be after its start"),
        ({"every_minutes": 0, "window": ("07:00", "20:00")}, "from 1 to 1440"),
        ({"every_minutes": 1441, "window": ("07:00", "20:00")}, "from 1 to 1440"),
        ({"every_minutes": True, "window": ("07:00", "20:00")}, "from 1 to 1440"),
        ({"every_minutes": 30}, "needs a window"),
        ({"every_minutes": 30, "window": ("07:00", "24:00")}, "window end"),
        ({"times": ("07:00",), "every_minutes": 30, "window": ("07:00", "20:00")}, "not both"),
        ({"times": ("07:00",), "window": ("07:00", "20:00")}, "only allowed together"),
        ({"times": ("07:00",), "tz": "Mars/Olympus"}, "unknown time zone"),
        (
            {"times": ("07:00",), "start_date": date(2025, 2, 1), "end_date": date(2025, 1, 1)},
            "before start_date",
        ),
        ({"times": ("07:00",), "start_date": datetime(2025, 1, 1)}, "must be a date"),
    ],
)
def test_bad_rules_are_refused_with_a_clear_message(kwargs: dict, message: str) -> None:
    with pytest.raises(RuleError) as caught:
        Rule(**kwargs)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_rule_is_normalised_and_hashable() -> None:
    rule = Rule(times=["7:00", "18:30"], days=["SUN", "mon"])  # type: ignore[arg-type]
    assert rule.times == ("07:00", "18:30")
    assert rule.days == ("mon", "sun")
    assert rule == Rule(times=("07:00", "18:30"), days=("mon", "sun"))
    assert hash(rule) == hash(Rule(times=("07:00", "18:30"), days=("mon", "sun")))


def test_window_slots_include_the_window_end() -> None:
    assert Rule(every_minutes=60, window=("07:00", "20:00")).slots[-1] == "20:00"
    assert len(Rule(every_minutes=60, window=("07:00", "20:00")).slots) == 14


def test_window_step_that_does_not_divide_an_hour_restarts_each_day() -> None:
    rule = Rule(every_minutes=45, window=("07:00", "10:00"))
    assert rule.slots == ("07:00", "07:45", "08:30", "09:15", "10:00")
    starts = occurrences(rule, at(SHANGHAI, 2025, 1, 6), at(SHANGHAI, 2025, 1, 8))
    assert local(starts)[5] == "Tue 01-07 07:00"


# --- occurrences --------------------------------------------------------------------------


def test_weekday_times_in_shanghai() -> None:
    rule = Rule(times=("18:30", "07:00", "12:00"), days=("mon", "wed"))
    starts = occurrences(rule, at(SHANGHAI, 2025, 1, 6), at(SHANGHAI, 2025, 1, 13))
    assert local(starts) == [
        "Mon 01-06 07:00", "Mon 01-06 12:00", "Mon 01-06 18:30",
        "Wed 01-08 07:00", "Wed 01-08 12:00", "Wed 01-08 18:30",
    ]
    assert starts[0] == datetime(2025, 1, 5, 23, 0, tzinfo=UTC)
    assert all(s.tzinfo is UTC for s in starts)


def test_range_is_half_open() -> None:
    rule = Rule(times=("07:00",))
    seven = at(SHANGHAI, 2025, 1, 6, 7)
    assert occurrences(rule, seven, seven + timedelta(minutes=1)) == [seven.astimezone(UTC)]
    assert occurrences(rule, seven - timedelta(hours=1), seven) == []
    assert occurrences(rule, seven, seven) == []
    assert occurrences(rule, seven, seven - timedelta(days=1)) == []


def test_start_and_end_dates_are_inclusive_local_dates() -> None:
    rule = Rule(times=("07:00", "23:30"), start_date=date(2025, 1, 7), end_date=date(2025, 1, 8))
    starts = occurrences(rule, at(SHANGHAI, 2025, 1, 1), at(SHANGHAI, 2025, 2, 1))
    # 07:00 in Shanghai on the 7th is still the 6th in UTC: the local date counts.
    assert local(starts) == ["Tue 01-07 07:00", "Tue 01-07 23:30", "Wed 01-08 07:00",
                             "Wed 01-08 23:30"]
    assert starts[0] == datetime(2025, 1, 6, 23, 0, tzinfo=UTC)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        occurrences(Rule(times=("07:00",)), datetime(2025, 1, 1), datetime(2025, 1, 2))


def test_berlin_keeps_local_time_across_both_dst_changes() -> None:
    rule = Rule(times=("07:00",), tz="Europe/Berlin")
    spring = occurrences(rule, at(BERLIN, 2025, 3, 29), at(BERLIN, 2025, 3, 31))
    autumn = occurrences(rule, at(BERLIN, 2025, 10, 25), at(BERLIN, 2025, 10, 27))
    assert [s.hour for s in spring] == [6, 5]  # 07:00 CET, then 07:00 CEST
    assert [s.hour for s in autumn] == [5, 6]
    assert local(spring + autumn, BERLIN) == [
        "Sat 03-29 07:00", "Sun 03-30 07:00", "Sat 10-25 07:00", "Sun 10-26 07:00"]


def test_time_missing_on_spring_forward_day_plays_after_the_jump() -> None:
    rule = Rule(times=("02:30",), tz="Europe/Berlin")
    starts = occurrences(rule, at(BERLIN, 2025, 3, 29), at(BERLIN, 2025, 3, 31))
    assert local(starts, BERLIN) == ["Sat 03-29 02:30", "Sun 03-30 03:30"]


def test_time_repeated_on_fall_back_night_plays_once() -> None:
    rule = Rule(times=("02:30",), tz="Europe/Berlin")
    starts = occurrences(rule, at(BERLIN, 2025, 10, 25), at(BERLIN, 2025, 10, 28))
    assert starts == [datetime(2025, 10, 25, 0, 30, tzinfo=UTC),
                      datetime(2025, 10, 26, 0, 30, tzinfo=UTC),  # the first 02:30 (CEST)
                      datetime(2025, 10, 27, 1, 30, tzinfo=UTC)]


def test_slot_pushed_past_midnight_by_a_dst_gap_is_found_on_the_next_day() -> None:
    nuuk = ZoneInfo("America/Nuuk")  # on 2025-03-29 clocks jump from 23:00 to 00:00
    rule = Rule(times=("23:30",), days=("sat",), tz="America/Nuuk")
    starts = occurrences(rule, at(nuuk, 2025, 3, 30), at(nuuk, 2025, 3, 30, 2))
    assert local(starts, nuuk) == ["Sun 03-30 00:30"]
    assert first_of_repeated(fire_times(rule, at(nuuk, 2025, 3, 29), at(nuuk, 2025, 3, 31))) == (
        starts)
    assert next_occurrences(rule, at(nuuk, 2025, 3, 29, 22), n=1) == starts


def test_window_through_dst_changes_never_repeats_an_instant() -> None:
    rule = Rule(every_minutes=30, window=("01:00", "04:00"), tz="Europe/Berlin")
    spring = occurrences(rule, at(BERLIN, 2025, 3, 30), at(BERLIN, 2025, 3, 31))
    autumn = occurrences(rule, at(BERLIN, 2025, 10, 26), at(BERLIN, 2025, 10, 27))
    # Spring: 02:00 and 02:30 do not exist and land on 03:00 and 03:30.
    assert local(spring, BERLIN) == ["Sun 03-30 01:00", "Sun 03-30 01:30", "Sun 03-30 03:00",
                                     "Sun 03-30 03:30", "Sun 03-30 04:00"]
    assert len(autumn) == 7


@pytest.mark.parametrize(
    "rule",
    [
        Rule(times=("07:00", "02:30", "23:59"), days=("sat", "sun", "mon"), tz="Europe/Berlin"),
        Rule(every_minutes=45, window=("00:15", "23:59"), days=("sun",), tz="Europe/Berlin"),
        Rule(every_minutes=7, window=("06:00", "21:00"), days=("mon", "fri"),
             start_date=date(2025, 3, 10), end_date=date(2025, 3, 28)),
    ],
)
def test_occurrences_are_what_the_cron_triggers_fire(rule: Rule) -> None:
    seen = 0
    for start, end in [(at(BERLIN, 2025, 3, 1), at(BERLIN, 2025, 4, 6)),
                       (at(BERLIN, 2025, 10, 19), at(BERLIN, 2025, 11, 3))]:
        expected = first_of_repeated(fire_times(rule, start, end))
        assert occurrences(rule, start, end) == expected
        seen += len(expected)
    assert seen > 10


def test_cron_triggers_use_day_names_and_one_trigger_per_time() -> None:
    triggers = cron_triggers(Rule(times=("07:00", "18:30"), days=("mon", "sun")))
    assert len(triggers) == 2
    assert "day_of_week='mon,sun'" in repr(triggers[0])
    assert "hour='7'" in repr(triggers[0]) and "minute='0'" in repr(triggers[0])
    first = triggers[0].get_next_fire_time(None, at(SHANGHAI, 2025, 1, 7))
    assert first == at(SHANGHAI, 2025, 1, 12, 7)  # Sunday, not Monday: 0 is not Sunday here


def test_cron_triggers_honour_another_zone() -> None:
    (trigger,) = cron_triggers(Rule(times=("07:00",)), "Europe/Berlin")
    fire = trigger.get_next_fire_time(None, at(BERLIN, 2025, 1, 6))
    assert fire is not None and fire.utcoffset() == timedelta(hours=1) and fire.hour == 7


def test_next_occurrences_skips_to_listed_days() -> None:
    rule = Rule(times=("07:00",), days=("fri",))
    now = at(SHANGHAI, 2025, 1, 6, 9)  # Monday morning
    assert local(next_occurrences(rule, now)) == [
        "Fri 01-10 07:00", "Fri 01-17 07:00", "Fri 01-24 07:00"]
    assert next_occurrences(rule, now, n=0) == []


def test_next_occurrences_includes_now_and_waits_for_start_date() -> None:
    rule = Rule(times=("07:00", "12:00"), start_date=date(2027, 5, 1))
    now = at(SHANGHAI, 2025, 1, 6, 7)
    assert local(next_occurrences(rule, now, n=3)) == [
        "Sat 05-01 07:00", "Sat 05-01 12:00", "Sun 05-02 07:00"]
    daily = Rule(times=("07:00",))
    assert next_occurrences(daily, now, n=1) == [now.astimezone(UTC)]


def test_next_occurrences_stop_at_end_date() -> None:
    rule = Rule(times=("07:00",), end_date=date(2025, 1, 7))
    assert len(next_occurrences(rule, at(SHANGHAI, 2025, 1, 6, 6), n=5)) == 2
    assert next_occurrences(rule, at(SHANGHAI, 2025, 2, 1), n=5) == []


rules = st.builds(
    Rule,
    times=st.lists(st.integers(0, 1439), min_size=1, max_size=4, unique=True).map(
        lambda ms: tuple(f"{m // 60:02d}:{m % 60:02d}" for m in ms)),
    days=st.lists(st.sampled_from(DAY_NAMES), min_size=1, unique=True).map(tuple),
    tz=st.sampled_from(["Asia/Shanghai", "Europe/Berlin", "America/New_York"]),
)
moments = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2026, 12, 31),
                       timezones=st.just(UTC))


@settings(max_examples=150, deadline=None)
@given(rule=rules, a=moments, span_b=st.integers(0, 4 * 86400), span_c=st.integers(0, 4 * 86400))
def test_occurrences_split_cleanly_at_any_instant(
    rule: Rule, a: datetime, span_b: int, span_c: int
) -> None:
    b = a + timedelta(seconds=span_b)
    c = b + timedelta(seconds=span_c)
    whole = occurrences(rule, a, c)
    assert whole == occurrences(rule, a, b) + occurrences(rule, b, c)
    assert whole == sorted(set(whole))
    assert all(a <= s < c for s in whole)


@settings(max_examples=150, deadline=None)
@given(rule=rules.filter(lambda r: r.tz == "Asia/Shanghai"), a=moments)
def test_every_occurrence_is_a_listed_time_on_a_listed_day(rule: Rule, a: datetime) -> None:
    starts = occurrences(rule, a, a + timedelta(days=7))
    for start in starts:
        moment = start.astimezone(SHANGHAI)
        assert moment.strftime("%H:%M") in rule.times
        assert DAY_NAMES[moment.weekday()] in rule.days
    assert len(starts) == len(rule.times) * len(rule.days)  # a week holds each weekday once
    assert next_occurrences(rule, a, n=len(starts)) == starts


# --- quiet hours ----------------------------------------------------------------------------


def test_quiet_hours_wrap_over_midnight() -> None:
    quiet = parse_quiet_hours("22:00-06:00")
    assert quiet == QuietHours(time(22), time(6)) and str(quiet) == "22:00-06:00"
    inside = [time(22), time(23, 59), time(0), time(5, 59)]
    outside = [time(6), time(21, 59), time(12)]
    assert all(in_quiet_hours(t, quiet) for t in inside)
    assert not any(in_quiet_hours(t, quiet) for t in outside)


def test_quiet_hours_within_one_day_and_disabled() -> None:
    lunch = parse_quiet_hours(" 12:00 - 13:30 ")
    assert in_quiet_hours(time(12), lunch) and in_quiet_hours(time(13, 29), lunch)
    assert not in_quiet_hours(time(13, 30), lunch) and not in_quiet_hours(time(11, 59), lunch)
    assert parse_quiet_hours("off") is None and parse_quiet_hours("") is None
    assert not in_quiet_hours(time(3), None)
    assert not in_quiet_hours(time(3), parse_quiet_hours("00:00-00:00"))
    # The plain (start, end) tuple from Settings.quiet works as well.
    assert in_quiet_hours(time(23), (time(22), time(6)))


@pytest.mark.parametrize("text", ["22:00", "22-06", "25:00-06:00", "22:00-06:61", "soon"])
def test_bad_quiet_hours_are_refused(text: str) -> None:
    with pytest.raises(RuleError, match="quiet hours"):
        parse_quiet_hours(text)


def test_quiet_time_violations_list_times_and_window_slots() -> None:
    quiet = parse_quiet_hours("22:00-06:00")
    assert quiet_time_violations(Rule(times=("06:00", "21:59", "22:00", "05:30")), quiet) == [
        "05:30", "22:00"]
    window = Rule(every_minutes=30, window=("05:00", "07:00"))
    assert quiet_time_violations(window, quiet) == ["05:00", "05:30"]
    assert quiet_time_violations(window, None) == []


def test_quiet_hours_end_is_the_next_morning_or_none() -> None:
    quiet = parse_quiet_hours("22:00-06:00")
    evening = at(SHANGHAI, 2025, 1, 6, 23, 10)
    night = at(SHANGHAI, 2025, 1, 7, 3)
    assert quiet_hours_end(evening, quiet) == at(SHANGHAI, 2025, 1, 7, 6).astimezone(UTC)
    assert quiet_hours_end(night, quiet) == at(SHANGHAI, 2025, 1, 7, 6).astimezone(UTC)
    assert quiet_hours_end(at(SHANGHAI, 2025, 1, 7, 6), quiet) is None
    assert quiet_hours_end(at(BERLIN, 2025, 1, 7, 23), quiet, "Europe/Berlin") == at(
        BERLIN, 2025, 1, 8, 6)


# --- overlaps -------------------------------------------------------------------------------


def span(h1: int, m1: int, h2: int, m2: int) -> tuple[datetime, datetime]:
    return at(SHANGHAI, 2025, 1, 6, h1, m1), at(SHANGHAI, 2025, 1, 6, h2, m2)


def test_back_to_back_slots_do_not_overlap() -> None:
    assert find_overlaps([span(7, 0, 7, 10)], [span(7, 10, 7, 20)]) == []
    assert find_overlaps([span(7, 10, 7, 20)], [span(7, 0, 7, 10)]) == []
    assert find_overlaps([span(7, 0, 7, 10)], [span(7, 9, 7, 20)]) == [span(7, 0, 7, 10)]


def test_long_slot_overlaps_everything_it_covers() -> None:
    a = [span(7, 0, 7, 5), span(8, 0, 8, 5), span(12, 0, 12, 5)]
    b = [span(6, 0, 9, 0), span(6, 30, 6, 45)]
    assert find_overlaps(a, b) == a[:2]
    assert find_overlaps(a, [span(7, 2, 7, 2)]) == []  # an empty slot overlaps nothing


minute_spans = st.tuples(st.integers(0, 200), st.integers(0, 40)).map(
    lambda p: (at(SHANGHAI, 2025, 1, 6) + timedelta(minutes=p[0]),
               at(SHANGHAI, 2025, 1, 6) + timedelta(minutes=p[0] + p[1])))


@settings(max_examples=300, deadline=None)
@given(a=st.lists(minute_spans, max_size=15), b=st.lists(minute_spans, max_size=15))
def test_find_overlaps_agrees_with_checking_every_pair(a: list, b: list) -> None:
    expected = sorted(x for x in a if any(x[0] < y[1] and y[0] < x[1]
                                          and x[0] < x[1] and y[0] < y[1] for y in b))
    assert find_overlaps(a, b) == expected


def test_slot_conflicts_between_two_schedules() -> None:
    morning = Rule(times=("07:00", "12:00"))
    day = at(SHANGHAI, 2025, 1, 6), at(SHANGHAI, 2025, 1, 7)
    assert slot_conflicts(morning, 600, Rule(times=("07:10",)), 300, *day) == []
    assert slot_conflicts(morning, 600, Rule(times=("07:05",)), 300, *day) == [
        at(SHANGHAI, 2025, 1, 6, 7).astimezone(UTC)]
    assert slot_conflicts(morning, 600, Rule(times=("11:55",)), 300, *day) == []
    assert slot_conflicts(morning, 600, Rule(times=("11:55",)), 301, *day) == [
        at(SHANGHAI, 2025, 1, 6, 12).astimezone(UTC)]


def test_slot_conflicts_see_a_slot_begun_before_the_period() -> None:
    evening = Rule(times=("23:50",))
    early = Rule(times=("00:05",))
    period = at(SHANGHAI, 2025, 1, 7), at(SHANGHAI, 2025, 1, 8)
    assert slot_conflicts(early, 60, evening, 30 * 60, *period) == [
        at(SHANGHAI, 2025, 1, 7, 0, 5).astimezone(UTC)]
    assert slot_conflicts(early, 60, evening, 15 * 60, *period) == []


def test_slot_conflicts_with_different_days_do_not_clash() -> None:
    weekdays = Rule(times=("07:00",), days=("mon", "tue", "wed", "thu", "fri"))
    weekend = Rule(times=("07:00",), days=("sat", "sun"))
    week = at(SHANGHAI, 2025, 1, 6), at(SHANGHAI, 2025, 1, 13)
    assert slot_conflicts(weekdays, 600, weekend, 600, *week) == []
    assert len(slot_conflicts(weekdays, 600, weekdays, 600, *week)) == 5


def test_self_overlaps_when_a_slot_outlasts_the_step() -> None:
    rule = Rule(every_minutes=5, window=("07:00", "07:20"))
    day = at(SHANGHAI, 2025, 1, 6), at(SHANGHAI, 2025, 1, 7)
    assert self_overlaps(rule, 300, *day) == []
    assert local(self_overlaps(rule, 301, *day)) == [
        "Mon 01-06 07:05", "Mon 01-06 07:10", "Mon 01-06 07:15", "Mon 01-06 07:20"]
