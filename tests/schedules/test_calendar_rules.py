"""The village calendar in the pure rules: lunar market days, skip and extra dates, day types."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from lunar_python import Solar

from app.schedules.lunar import lunar_day, parse_lunar_days
from app.schedules.rules import Rule, RuleError, next_occurrences, occurrences, plays_on

SHANGHAI = ZoneInfo("Asia/Shanghai")
MARKET_369 = (3, 6, 9, 13, 16, 19, 23, 26, 29)


def local_days(rule: Rule, first: date, last: date) -> list[date]:
    """The local dates on which the rule plays in [first, last]."""
    start = datetime.combine(first, datetime.min.time(), SHANGHAI)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), SHANGHAI)
    return [t.astimezone(SHANGHAI).date() for t in occurrences(rule, start, end)]


def test_lunar_dates_around_two_spring_festivals_and_a_leap_month() -> None:
    assert str(lunar_day(date(2027, 2, 5))) == "2026-12-29"  # 腊月 has 29 days this winter
    assert str(lunar_day(date(2027, 2, 6))) == "2027-01-01"  # 春节 2027
    assert str(lunar_day(date(2028, 1, 25))) == "2027-12-29"
    assert str(lunar_day(date(2028, 1, 26))) == "2028-01-01"  # 春节 2028
    assert str(lunar_day(date(2028, 6, 22))) == "2028-05-30"
    assert str(lunar_day(date(2028, 6, 23))) == "2028-闰05-01"  # 闰五月
    assert str(lunar_day(date(2028, 7, 22))) == "2028-06-01"


def test_lunar_days_agree_with_the_librarys_own_day_by_day_conversion() -> None:
    day = date(2026, 11, 1)
    while day < date(2029, 3, 1):
        reference = Solar.fromYmd(day.year, day.month, day.day).getLunar()
        found = lunar_day(day)
        assert (found.year, found.month, found.day, found.leap) == (
            reference.getYear(), abs(reference.getMonth()), reference.getDay(),
            reference.getMonth() < 0), day
        day += timedelta(days=3)


@pytest.mark.parametrize(("phrase", "days"), [
    ("逢三六九", MARKET_369),
    ("逢五逢十", (5, 10, 15, 20, 25, 30)),
    ("逢一、四、七赶集", (1, 4, 7, 11, 14, 17, 21, 24, 27)),
    ([9, 3, 6], (3, 6, 9)),
])
def test_market_phrases_name_lunar_days(phrase: str | list[int], days: tuple[int, ...]) -> None:
    assert parse_lunar_days(phrase) == days


@pytest.mark.parametrize("bad", ["三六九", "逢", "every third day", [0, 3], [31], [3, 3]])
def test_bad_market_days_are_refused(bad: str | list[int]) -> None:
    with pytest.raises(ValueError):
        parse_lunar_days(bad)


def test_market_days_369_across_the_2027_spring_festival() -> None:
    rule = Rule(times=("07:00",), lunar_days=MARKET_369)

    found = local_days(rule, date(2027, 1, 25), date(2027, 2, 22))

    # 腊月 19, 23, 26, 29 (no 30th this month), then 正月 3, 6, 9, 13, 16.
    assert found == [date(2027, 1, 26), date(2027, 1, 30), date(2027, 2, 2), date(2027, 2, 5),
                     date(2027, 2, 8), date(2027, 2, 11), date(2027, 2, 14), date(2027, 2, 18),
                     date(2027, 2, 21)]


def test_market_days_5_and_10_skip_the_missing_30th_before_the_2028_new_year() -> None:
    rule = Rule(times=("07:00",), lunar_days=(5, 10, 15, 20, 25, 30))

    found = local_days(rule, date(2028, 1, 1), date(2028, 2, 10))

    assert found == [date(2028, 1, 1), date(2028, 1, 6), date(2028, 1, 11), date(2028, 1, 16),
                     date(2028, 1, 21), date(2028, 1, 30), date(2028, 2, 4), date(2028, 2, 9)]


def test_market_days_go_on_through_a_leap_month() -> None:
    rule = Rule(times=("07:00",), lunar_days=(1, 15))

    found = local_days(rule, date(2028, 6, 1), date(2028, 7, 31))

    # 五月十五, 闰五月初一, 闰五月十五, 六月初一
    assert found == [date(2028, 6, 7), date(2028, 6, 23), date(2028, 7, 7), date(2028, 7, 22)]


def test_market_days_and_weekdays_both_apply() -> None:
    rule = Rule(times=("07:00",), days=("sat", "sun"), lunar_days=MARKET_369)

    found = local_days(rule, date(2027, 1, 25), date(2027, 2, 22))

    assert found == [date(2027, 1, 30), date(2027, 2, 14), date(2027, 2, 21)]
    assert all(d.weekday() >= 5 for d in found)


def test_skip_dates_win_over_everything_and_extra_dates_over_weekdays() -> None:
    spring = frozenset(date(2027, 2, 6) + timedelta(days=i) for i in range(7))
    working_saturday = date(2027, 2, 20)  # 调休: a Saturday that is a working day
    rule = Rule(times=("07:00",), days=("mon", "tue", "wed", "thu", "fri"),
                skip_dates=spring, extra_dates=frozenset({working_saturday}))

    found = local_days(rule, date(2027, 2, 4), date(2027, 2, 22))

    assert found == [date(2027, 2, 4), date(2027, 2, 5), date(2027, 2, 15), date(2027, 2, 16),
                     date(2027, 2, 17), date(2027, 2, 18), date(2027, 2, 19), working_saturday,
                     date(2027, 2, 22)]
    assert not plays_on(rule, date(2027, 2, 8)) and plays_on(rule, working_saturday)


def test_day_types_limit_a_rule_to_their_dates() -> None:
    exam_days = frozenset({date(2027, 6, 7), date(2027, 6, 8), date(2027, 6, 12)})
    rule = Rule(times=("06:45",), days=("mon", "tue", "wed", "thu", "fri"),
                day_type_dates=exam_days)

    assert local_days(rule, date(2027, 6, 1), date(2027, 6, 30)) == [date(2027, 6, 7),
                                                                    date(2027, 6, 8)]
    never = Rule(times=("06:45",), day_type_dates=frozenset())
    assert local_days(never, date(2027, 6, 1), date(2027, 6, 30)) == []


def test_the_next_market_day_is_found_even_two_weeks_away() -> None:
    rule = Rule(times=("07:00",), lunar_days=(15,))
    now = datetime(2027, 2, 5, 12, tzinfo=UTC)

    upcoming = next_occurrences(rule, now, 3)

    assert [t.astimezone(SHANGHAI).date() for t in upcoming] == [
        date(2027, 2, 20), date(2027, 3, 22), date(2027, 4, 21)]


@pytest.mark.parametrize(("fields", "reason"), [
    ({"skip_dates": [date(2027, 2, 6)], "extra_dates": [date(2027, 2, 6)]},
     "both a skip date and an extra date"),
    ({"start_date": date(2027, 3, 1), "extra_dates": [date(2027, 2, 6)]},
     "outside start_date"),
    ({"lunar_days": (0,)}, "lunar_days"),
    ({"skip_dates": ["2027-02-06"]}, "list of dates"),
])
def test_invalid_calendars_are_refused(fields: dict[str, object], reason: str) -> None:
    with pytest.raises(RuleError, match=reason):
        Rule(times=("07:00",), **fields)  # type: ignore[arg-type]
