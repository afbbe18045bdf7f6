"""The playout rule: who sounds when, cuts and resumes, outcomes, and the terminal's machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.playout.priority import (
    FINISHED,
    Cue,
    OrderView,
    Playout,
    PlayoutError,
    Segment,
    current_play,
    first_come_key,
    outcomes,
    playing_at,
    priority,
    simulate,
)

BASE = datetime(2025, 1, 6, 7, 0, tzinfo=UTC)


def m(minutes: float) -> datetime:
    """BASE + minutes: 07:00 UTC on a Monday, plus a few minutes."""
    return BASE + timedelta(minutes=minutes)


def routine(order_id: str, start: float, items: tuple[float, ...], *, loop: int = 1,
            slack: float = 15, **extra: object) -> OrderView:
    """A routine order whose not_after is start + duration + ``slack`` minutes, as SPEC §6 says."""
    duration = loop * sum(items) / 60
    return OrderView(order_id, m(start), m(start + duration + slack), items, loop=loop,
                     **extra)  # type: ignore[arg-type]


def urgent(order_id: str, level: int, start: float, items: tuple[float, ...], *,
           expires: float = 60, **extra: object) -> OrderView:
    """An urgent order expiring ``expires`` minutes after its start."""
    return OrderView(order_id, m(start), m(start + expires), items, kind="urgent", level=level,
                     **extra)  # type: ignore[arg-type]


def timeline(segments: list[Segment]) -> list[tuple[str, str, str, int, int]]:
    """Segments as (order, from, to, loop, item) with wall-clock HH:MM:SS."""
    return [(s.order_id, f"{s.start:%H:%M:%S}", f"{s.end:%H:%M:%S}", s.loop_index, s.item_index)
            for s in segments]


# --- the rule on examples -------------------------------------------------------------


def test_urgent_cuts_routine_which_resumes_from_the_start_of_the_cut_item() -> None:
    notice = routine("notice", 0, (60, 120, 60))
    alert = urgent("alert", 2, 2, (90,))
    segments = simulate([notice, alert], m(0), m(60))
    assert timeline(segments) == [
        ("notice", "07:00:00", "07:01:00", 0, 0),
        ("notice", "07:01:00", "07:02:00", 0, 1),  # cut one minute into item 1
        ("alert", "07:02:00", "07:03:30", 0, 0),
        ("notice", "07:03:30", "07:05:30", 0, 1),  # item 1 again, whole
        ("notice", "07:05:30", "07:06:30", 0, 2),
    ]
    assert outcomes([notice, alert]) == {"notice": "finished", "alert": "finished"}


def test_cut_routine_whose_not_after_passes_ends_preempted() -> None:
    notice = routine("notice", 0, (600,), slack=10)  # not_after 07:20
    alert = urgent("alert", 1, 5, (1800,))
    assert timeline(simulate([notice, alert], m(0), m(60))) == [
        ("notice", "07:00:00", "07:05:00", 0, 0),
        ("alert", "07:05:00", "07:35:00", 0, 0),
    ]
    assert outcomes([notice, alert]) == {"notice": "preempted", "alert": "finished"}


def test_resumed_order_stops_hard_at_its_not_after() -> None:
    notice = routine("notice", 0, (600,), slack=10)  # not_after 07:20
    alert = urgent("alert", 3, 5, (540,))  # 07:05 to 07:14
    assert timeline(simulate([notice, alert], m(0), m(60)))[-1] == (
        "notice", "07:14:00", "07:20:00", 0, 0)
    assert outcomes([notice, alert])["notice"] == "preempted"


def test_higher_urgent_cuts_lower_urgent_which_resumes() -> None:
    flood = urgent("flood", 3, 0, (60, 60), loop=2)
    quake = urgent("quake", 1, 1.5, (30,))
    assert timeline(simulate([flood, quake], m(0), m(30))) == [
        ("flood", "07:00:00", "07:01:00", 0, 0),
        ("flood", "07:01:00", "07:01:30", 0, 1),
        ("quake", "07:01:30", "07:02:00", 0, 0),
        ("flood", "07:02:00", "07:03:00", 0, 1),
        ("flood", "07:03:00", "07:04:00", 1, 0),
        ("flood", "07:04:00", "07:05:00", 1, 1),
    ]


def test_equal_priority_waits_first_come_first_played() -> None:
    later = routine("later", 0, (300,), issued_at=m(-50))
    first = routine("first", 0, (300,), issued_at=m(-60))
    late_start = routine("late-start", 1, (60,))
    assert timeline(simulate([later, late_start, first], m(0), m(60))) == [
        ("first", "07:00:00", "07:05:00", 0, 0),
        ("later", "07:05:00", "07:10:00", 0, 0),
        ("late-start", "07:10:00", "07:11:00", 0, 0),
    ]


def test_equal_urgent_does_not_cut_the_one_sounding() -> None:
    storm = urgent("storm", 3, 0, (300,))
    fire = urgent("fire", 3, 1, (60,))
    assert [s.order_id for s in simulate([storm, fire], m(0), m(60))] == ["storm", "fire"]


def test_waiting_order_whose_not_after_passes_is_missed_and_one_that_started_late_expires() -> None:
    long = routine("long", 0, (1200,))
    short_window = routine("short", 0, (60,), slack=5, issued_at=m(1))  # must start by 07:05
    tight = routine("tight", 0, (600,), issued_at=m(2))  # starts 07:20, its not_after is 07:25
    states = outcomes([long, short_window, tight])
    assert states == {"long": "finished", "short": "missed", "tight": "expired"}
    assert timeline(simulate([long, short_window, tight], m(0), m(60)))[-1] == (
        "tight", "07:20:00", "07:25:00", 0, 0)


def test_test_mode_is_silent_and_cuts_nothing() -> None:
    notice = routine("notice", 0, (600,))
    drill = urgent("drill", 1, 2, (60,), mode="test")
    assert timeline(simulate([notice, drill], m(0), m(60))) == [
        ("notice", "07:00:00", "07:10:00", 0, 0)]
    assert outcomes([notice, drill]) == {"notice": "finished", "drill": "silent"}


def test_exercise_mode_plays_like_an_actual_one() -> None:
    notice = routine("notice", 0, (600,))
    drill = urgent("drill", 4, 2, (60,), mode="exercise")
    assert [s.order_id for s in simulate([notice, drill], m(0), m(60))] == [
        "notice", "drill", "notice"]


def test_cancelled_order_stops_at_once() -> None:
    alert = urgent("alert", 2, 0, (600,), cancelled_at=m(3))
    notice = routine("notice", 1, (60,))
    assert timeline(simulate([alert, notice], m(0), m(60))) == [
        ("alert", "07:00:00", "07:03:00", 0, 0),
        ("notice", "07:03:00", "07:04:00", 0, 0),
    ]
    assert outcomes([alert, notice])["alert"] == "cancelled"


def test_order_without_air_time_finishes_at_its_start() -> None:
    empty = routine("empty", 0, (0.0, 0.0))
    assert simulate([empty], m(0), m(10)) == []
    assert outcomes([empty]) == {"empty": "finished"}


def test_simulate_clips_to_the_period_and_says_the_offset() -> None:
    notice = routine("notice", 0, (120, 120))
    first, second = simulate([notice], m(1.5), m(2.5))
    assert (first.item_index, first.offset_s, first.start, first.end) == (0, 90.0, m(1.5), m(2))
    assert (second.item_index, second.offset_s, second.start, second.end) == (1, 0.0, m(2), m(2.5))
    assert simulate([notice], m(10), m(20)) == []


def test_playing_at_names_the_order_item_and_offset() -> None:
    notice = routine("notice", 0, (60, 120, 60))
    alert = urgent("alert", 2, 2, (90,))
    assert playing_at([notice, alert], m(1.5)) == Cue("notice", 0, 1, 30.0)
    assert playing_at([notice, alert], m(2.5)) == Cue("alert", 0, 0, 30.0)
    assert playing_at([notice, alert], m(4)) == Cue("notice", 0, 1, 30.0)
    assert playing_at([notice, alert], m(30)) is None
    assert playing_at([], m(0)) is None


def test_priority_ranks_levels_above_routine() -> None:
    ranks = [priority(urgent(str(level), level, 0, (1,))) for level in (1, 2, 3, 4)]
    assert ranks == sorted(ranks, reverse=True)
    assert ranks[-1] > priority(routine("r", 0, (1,))) == 0
    early = routine("b", 0, (1,), issued_at=m(-2))
    assert first_come_key(early) < first_come_key(routine("a", 0, (1,), issued_at=m(-1)))
    assert first_come_key(routine("z", 0, (1,))) < first_come_key(routine("a", 0.5, (1,)))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"kind": "loud"}, "kind must be"),
        ({"kind": "urgent"}, "needs level 1–4"),
        ({"kind": "urgent", "level": 5}, "needs level 1–4"),
        ({"kind": "urgent", "level": True}, "needs level 1–4"),
        ({"level": 2}, "routine order has no level"),
        ({"mode": "drill"}, "mode must be"),
        ({"loop": 0}, "loop must be"),
        ({"items": (10, -1)}, "seconds ≥ 0"),
        ({"items": (float("nan"),)}, "seconds ≥ 0"),
        ({"start_at": datetime(2025, 1, 6, 7)}, "timezone-aware"),
    ],
)
def test_bad_orders_are_refused(extra: dict, message: str) -> None:
    fields = {"id": "o1", "start_at": m(0), "not_after": m(10), "items": (10.0,), **extra}
    with pytest.raises(PlayoutError, match=message):
        OrderView(**fields)


def test_order_from_the_terminal_program() -> None:
    order = OrderView.from_program({
        "id": "ord_1", "kind": "urgent", "mode": "exercise", "level": 2, "priority": 3,
        "start_at": "2025-01-06T15:00:00+08:00", "not_after": "2025-01-06T16:00:00+08:00",
        "loop": 2, "volume": 80,
        "media": [{"url": "/media/a", "sha256": "a", "duration_ms": 1500},
                  {"url": "/media/b", "sha256": "b", "duration_ms": 30250}],
    })
    assert order.items == (1.5, 30.25) and order.loop == 2 and order.duration_s == 63.5
    assert order.start_at == BASE and priority(order) == 3
    with pytest.raises(PlayoutError, match="not a program order"):
        OrderView.from_program({"id": "x", "start_at": "soon"})


# --- the terminal's machine -------------------------------------------------------------


def events_of(machine: Playout, orders: list[OrderView], at: datetime) -> list[tuple[str, str]]:
    return [(e.order_id, e.event) for e in machine.advance(orders, at)]


def test_terminal_machine_reports_what_happens_tick_by_tick() -> None:
    notice = routine("notice", 0, (60, 60))
    alert = urgent("alert", 1, 1.5, (30,))
    program = [notice, alert]
    machine = Playout()
    assert events_of(machine, program, m(-1)) == []
    assert machine.cue is None
    assert events_of(machine, program, m(0)) == [("notice", "started")]
    assert events_of(machine, program, m(1.25)) == []
    assert machine.cue == Cue("notice", 0, 1, 15.0)
    assert events_of(machine, program, m(1.75)) == [("notice", "cut"), ("alert", "started")]
    assert machine.cue == Cue("alert", 0, 0, 15.0)
    assert events_of(machine, program, m(2.5)) == [("alert", "finished"), ("notice", "resumed")]
    assert machine.cue == Cue("notice", 0, 1, 30.0)  # item 1 from its start at 02:00
    assert events_of(machine, program, m(5)) == [("notice", "finished")]
    assert machine.states == {"notice": "finished", "alert": "finished"}


def test_order_leaving_the_program_is_withdrawn_and_stops() -> None:
    notice = routine("notice", 0, (600,))
    machine = Playout()
    machine.advance([notice], m(1))
    assert events_of(machine, [], m(2)) == [("notice", "withdrawn")]
    assert machine.cue is None and machine.states == {}


def test_terminal_starting_mid_order_plays_it_from_the_first_item() -> None:
    notice = routine("notice", 0, (60, 60))
    machine = Playout()
    assert events_of(machine, [notice], m(1.5)) == [("notice", "started")]
    assert machine.cue == Cue("notice", 0, 0, 0.0)


def test_order_arriving_late_starts_from_its_first_item_not_retroactively() -> None:
    machine = Playout()
    machine.advance([], m(0))
    alert = urgent("alert", 2, -10, (60, 60))  # started ten minutes ago on the server
    assert events_of(machine, [alert], m(3)) == [("alert", "started")]
    assert machine.cue == Cue("alert", 0, 0, 0.0)
    assert current_play([alert], m(3.5), machine) == Cue("alert", 0, 0, 30.0)


def test_equal_order_appearing_with_an_earlier_start_does_not_cut() -> None:
    first = routine("first", 0, (600,))
    reissued = routine("reissued", -1, (60,))
    machine = Playout()
    machine.advance([first], m(1))
    assert events_of(machine, [first, reissued], m(2)) == []
    assert machine.cue is not None and machine.cue.order_id == "first"


def test_snapshot_survives_a_restart_and_resumes_the_cut_item() -> None:
    notice = routine("notice", 0, (60, 60, 60))
    machine = Playout()
    machine.advance([notice], m(0))
    machine.advance([notice], m(1.5))
    restored = Playout.from_dict(machine.to_dict())
    assert [(e.order_id, e.event) for e in restored.resync(m(4))] == [("notice", "cut")]
    assert events_of(restored, [notice], m(4)) == [("notice", "resumed")]
    assert restored.cue == Cue("notice", 0, 1, 0.0)  # item 0 was done; item 1 again


def test_clock_going_back_lets_no_time_pass() -> None:
    notice = routine("notice", 0, (600,))
    machine = Playout(m(0))
    machine.advance([notice], m(2))
    assert machine.advance([notice], m(1)) == []
    assert machine.clock == m(2) and machine.cue == Cue("notice", 0, 0, 120.0)


def test_duplicate_ids_in_a_program_are_refused() -> None:
    with pytest.raises(PlayoutError, match="twice"):
        Playout().advance([routine("a", 0, (1,)), routine("a", 1, (1,))], m(0))


# --- properties ---------------------------------------------------------------------------


@st.composite
def programs(draw: st.DrawFn, least: int = 0, most: int = 7) -> list[OrderView]:
    """Up to seven orders in the same hour: any kind, level, mode, timing and cancellation."""
    orders = []
    for n in range(draw(st.integers(least, most))):
        kind = draw(st.sampled_from(["routine", "urgent"]))
        start = BASE + timedelta(seconds=draw(st.integers(0, 1800)))
        cancel = draw(st.none() | st.integers(-300, 3600))
        orders.append(OrderView(
            id=f"o{n}",
            start_at=start,
            not_after=start + timedelta(seconds=draw(st.integers(0, 3600))),
            items=tuple(ms / 1000 for ms in draw(st.lists(st.integers(1, 240_000),
                                                          min_size=1, max_size=3))),
            loop=draw(st.integers(1, 3)),
            kind=kind,
            level=draw(st.integers(1, 4)) if kind == "urgent" else None,
            mode=draw(st.sampled_from(["actual", "actual", "exercise", "test"])),
            issued_at=BASE - timedelta(seconds=draw(st.integers(0, 60))),
            sequence=draw(st.integers(0, 3)),
            cancelled_at=None if cancel is None else start + timedelta(seconds=cancel),
        ))
    return orders


END = BASE + timedelta(hours=4)


def finished_at(orders: list[OrderView], segments: list[Segment]) -> dict[str, datetime]:
    """When each finished order played its last item (its start, if it had no air time)."""
    states = outcomes(orders)
    last = {s.order_id: s.end for s in segments}
    return {o.id: last.get(o.id, o.start_at) for o in orders if states[o.id] == FINISHED}


def in_force(order: OrderView, moment: datetime, finished: dict[str, datetime]) -> bool:
    """Started, not finished, before not_after (or cancellation), and not silent."""
    done = order.id in finished and finished[order.id] <= moment
    return order.mode != "test" and order.start_at <= moment < order.ends_at and not done


def sounding(segments: list[Segment], moment: datetime) -> Segment | None:
    return next((s for s in segments if s.start <= moment < s.end), None)


def runs(segments: list[Segment], order_id: str) -> list[list[Segment]]:
    """The order's stretches of uninterrupted air time."""
    result: list[list[Segment]] = []
    for segment in (s for s in segments if s.order_id == order_id):
        if result and result[-1][-1].end == segment.start:
            result[-1].append(segment)
        else:
            result.append([segment])
    return result


@settings(max_examples=150, deadline=None)
@given(orders=programs())
def test_one_order_at_a_time_and_always_the_highest_in_force(orders: list[OrderView]) -> None:
    segments = simulate(orders, BASE, END)
    assert all(a.end <= b.start for a, b in zip(segments, segments[1:], strict=False))
    assert all(s.start < s.end for s in segments)
    finished = finished_at(orders, segments)
    by_id = {o.id: o for o in orders}
    instants = {s.start for s in segments} | {s.end for s in segments}
    instants |= {s.start + (s.end - s.start) / 2 for s in segments}
    instants |= {o.start_at for o in orders} | {o.ends_at for o in orders}
    for moment in instants:
        forces = [o for o in orders if in_force(o, moment, finished)]
        playing = sounding(segments, moment)
        if not forces:
            assert playing is None, moment
            continue
        assert playing is not None, moment
        assert in_force(by_id[playing.order_id], moment, finished)
        assert priority(by_id[playing.order_id]) == max(priority(o) for o in forces)


@settings(max_examples=150, deadline=None)
@given(orders=programs())
def test_cuts_resume_at_the_item_start_and_only_before_not_after(orders: list[OrderView]) -> None:
    segments = simulate(orders, BASE, END)
    finished = finished_at(orders, segments)
    by_id = {o.id: o for o in orders}
    for order in orders:
        lengths = order.item_lengths
        position, into = 0, timedelta(0)  # item (across loops) and air time in it
        for run in runs(segments, order.id):
            assert order.start_at <= run[0].start and run[-1].end <= order.ends_at
            into = timedelta(0)  # every stretch begins at an item's start: a cut drops the rest
            for segment in run:
                assert (segment.loop_index * len(lengths) + segment.item_index) == position
                assert timedelta(seconds=segment.offset_s) == into
                into += segment.duration
                if into == lengths[position % len(lengths)]:
                    position, into = position + 1, timedelta(0)
            cut_at = run[-1].end
            if order.id not in finished and cut_at < order.ends_at:
                taker = sounding(segments, cut_at)
                assert taker is not None and priority(by_id[taker.order_id]) > priority(order)
        if order.id in finished:
            assert position == order.loop * len(lengths)


@settings(max_examples=150, deadline=None)
@given(orders=programs())
def test_first_come_first_played_among_equals(orders: list[OrderView]) -> None:
    segments = simulate(orders, BASE, END)
    finished = finished_at(orders, segments)
    by_id = {o.id: o for o in orders}
    for order in orders:
        for run in runs(segments, order.id):
            moment = run[0].start
            equals = [o for o in orders if in_force(o, moment, finished)
                      and priority(o) == priority(order)]
            assert min(equals, key=first_come_key) is by_id[order.id]


@settings(max_examples=150, deadline=None)
@given(orders=programs())
def test_uninterrupted_order_plays_exactly_its_duration(orders: list[OrderView]) -> None:
    segments = simulate(orders, BASE, END)
    states = outcomes(orders)
    for order in orders:
        order_runs = runs(segments, order.id)
        played = sum((s.duration for s in segments if s.order_id == order.id), timedelta(0))
        if states[order.id] == FINISHED and len(order_runs) == 1:
            assert played == order.duration
        if states[order.id] in ("missed", "silent"):
            assert played == timedelta(0)
        if order.mode == "test":
            assert states[order.id] in ("silent", "missed", "cancelled")


@settings(max_examples=150, deadline=None)
@given(order=programs(1, 1).map(lambda os: os[0]))
def test_an_order_alone_plays_from_its_start_until_done_or_not_after(order: OrderView) -> None:
    segments = simulate([order], BASE, END)
    if order.mode == "test" or order.ends_at <= order.start_at:
        assert segments == []
        return
    assert segments[0].start == order.start_at
    assert segments[-1].end == min(order.start_at + order.duration, order.ends_at)
    assert len(runs(segments, order.id)) == 1


@settings(max_examples=150, deadline=None)
@given(orders=programs(), ticks=st.lists(st.integers(1, 4 * 3600), max_size=25))
def test_ticking_terminal_matches_the_server_replay(
    orders: list[OrderView], ticks: list[int]
) -> None:
    machine = Playout(BASE, record=True)
    stepped = []
    for tick in sorted(ticks):
        moment = BASE + timedelta(seconds=tick)
        stepped += machine.advance(orders, moment)
        assert machine.cue == playing_at(orders, moment)
    stepped += machine.advance(orders, END)
    once = Playout(BASE, record=True)
    assert stepped == once.advance(orders, END)
    assert machine.segments == once.segments == simulate(orders, BASE, END)
    assert machine.states == outcomes(orders, END)
