"""Online periods from outages and their split into local hours and days (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from app.maintenance.timeline import (
    SpeakerLife,
    merge,
    online_periods,
    period_edges,
    seconds_in_periods,
    subtract,
)

T = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(hours: float) -> datetime:
    return T + timedelta(hours=hours)


def test_merge_joins_overlapping_and_touching_intervals_and_drops_empty_ones() -> None:
    assert merge([(at(3), at(4)), (at(0), at(1)), (at(1), at(2)), (at(5), at(5)),
                  (at(3.5), at(6))]) == [(at(0), at(2)), (at(3), at(6))]


def test_subtract_leaves_the_parts_outside_every_hole() -> None:
    holes = [(at(-1), at(1)), (at(2), at(3)), (at(2.5), at(4)), (at(9), at(11))]
    assert subtract((at(0), at(10)), holes) == [(at(1), at(2)), (at(4), at(9))]
    assert subtract((at(0), at(1)), []) == [(at(0), at(1))]
    assert subtract((at(0), at(1)), [(at(0), at(1))]) == []


def test_a_speaker_is_online_from_its_first_heartbeat_to_retirement_less_its_outages() -> None:
    life = SpeakerLife(village="v1", registered=at(0), retired=at(10), first_heard=at(1),
                       outages=((at(3), at(4)), (at(8), at(12))))
    assert online_periods(life, at(20)) == [(at(1), at(3)), (at(4), at(8))]
    assert online_periods(life, at(2)) == [(at(1), at(2))]  # so far
    never = SpeakerLife(village="v1", registered=at(0), retired=None, first_heard=None)
    assert online_periods(never, at(20)) == []
    still_open = SpeakerLife(village="v1", registered=at(0), retired=None, first_heard=at(0),
                             outages=((at(5), at(20)),))
    assert online_periods(still_open, at(20)) == [(at(0), at(5))]


def test_days_begin_at_local_midnight_and_hours_at_the_local_hour() -> None:
    days = period_edges(at(1), at(49), "day", SHANGHAI)  # 09:00 on 2 March in Shanghai
    assert [d.astimezone(SHANGHAI).isoformat() for d in days] == [
        "2026-03-02T00:00:00+08:00", "2026-03-03T00:00:00+08:00",
        "2026-03-04T00:00:00+08:00", "2026-03-05T00:00:00+08:00"]
    hours = period_edges(at(1.5), at(3), "hour", SHANGHAI)
    assert [h.astimezone(UTC) for h in hours] == [at(1), at(2), at(3)]


def test_a_day_across_a_dst_change_is_23_hours_long() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 3, 28, 12, tzinfo=berlin)
    days = period_edges(start, start + timedelta(days=2), "day", berlin)
    assert [(b - a) / timedelta(hours=1) for a, b in zip(days, days[1:], strict=False)] == \
        [24, 23, 24]
    hours = period_edges(datetime(2026, 3, 29, 1, 30, tzinfo=berlin),
                         datetime(2026, 3, 29, 4, tzinfo=berlin), "hour", berlin)
    assert [h.astimezone(berlin).hour for h in hours] == [1, 3, 4]  # no 02:00 that night


def test_seconds_are_split_over_the_periods_they_overlap() -> None:
    edges = [at(0), at(1), at(2), at(3)]
    spans = [(at(-1), at(0.5)), (at(0.75), at(2.25)), (at(2.5), at(9))]
    assert seconds_in_periods(spans, edges) == [2700.0, 3600.0, 2700.0]
    assert seconds_in_periods([], edges) == [0.0, 0.0, 0.0]
    assert seconds_in_periods([(at(5), at(6))], edges) == [0.0, 0.0, 0.0]
