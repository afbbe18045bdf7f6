"""The playout rule of SPEC §7, pure: which order sounds at each instant, server and terminal alike.

The rule, fixed here once:

- At any instant at most one order sounds: the highest-priority order *in
  force* — its ``start_at`` has come, its ``not_after`` (and ``cancelled_at``)
  has not, its content is not finished. Urgent level I > II > III > IV >
  routine (:func:`priority`).
- A higher priority cuts a lower one at once (urgent cuts routine, level I
  cuts level III …). The cut order keeps what it completed: it resumes later
  from the *start of the item* it was cut in, if it is still before its
  ``not_after``.
- Equal priority never cuts: the order already sounding goes on. Among equal
  orders waiting, the first come plays first (:func:`first_come_key`: earlier
  ``start_at``, then earlier ``issued_at``, then lower ``sequence``, then id).
- ``not_after`` is a hard stop: nothing sounds at or after it, even mid-item.
- ``test``-mode orders (SPEC §8: delivered and acknowledged, never played
  aloud) take no air time: they never cut or delay anything, and end
  ``silent`` at their start. ``exercise`` orders play like ``actual`` ones.

An order's life (:attr:`Playout.states`): ``pending`` → ``playing`` ⇄
``interrupted`` → one final state:

- ``finished``: all its content (loop × items) played;
- ``preempted``: it started, was cut at least once, and ran out of time;
- ``expired``: it started, was never cut, and its ``not_after`` came first
  (it started late behind an equal order, or outlasts its expiry);
- ``missed``: ``not_after`` came before it could sound at all;
- ``cancelled``: ``cancelled_at`` came first (before it finished);
- ``withdrawn``: it vanished from a terminal's program before it ended;
- ``silent``: a test-mode order, acknowledged at its start.

:class:`Playout` is the rule as a small state machine (no I/O, no clock of
its own). The reference terminal keeps one, calls :meth:`Playout.advance`
with its program and clock each tick, plays :attr:`Playout.cue` and turns the
returned :class:`PlayEvent` s into receipts. The server replays the same
machine over a period with :func:`simulate`, :func:`outcomes` and
:func:`playing_at` (calendar, reports). Times are aware datetimes;
durations are kept as microsecond timedeltas so sums are exact.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

__all__ = [
    "PlayoutError",
    "OrderView",
    "Segment",
    "Cue",
    "PlayEvent",
    "Playout",
    "priority",
    "first_come_key",
    "simulate",
    "outcomes",
    "playing_at",
    "current_play",
    "PENDING",
    "PLAYING",
    "INTERRUPTED",
    "FINISHED",
    "PREEMPTED",
    "EXPIRED",
    "MISSED",
    "CANCELLED",
    "WITHDRAWN",
    "SILENT",
    "FINAL_STATES",
]

KINDS = ("routine", "urgent")
MODES = ("actual", "exercise", "test")

PENDING, PLAYING, INTERRUPTED = "pending", "playing", "interrupted"
FINISHED, PREEMPTED, EXPIRED, MISSED = "finished", "preempted", "expired", "missed"
CANCELLED, WITHDRAWN, SILENT = "cancelled", "withdrawn", "silent"
FINAL_STATES = frozenset({FINISHED, PREEMPTED, EXPIRED, MISSED, CANCELLED, WITHDRAWN, SILENT})

_ZERO = timedelta(0)


class PlayoutError(ValueError):
    """An order or a call the playout rule cannot work with; the message says why."""


def _require_aware(name: str, moment: object) -> None:
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise PlayoutError(f"{name} must be a timezone-aware datetime, got {moment!r}")


@dataclass(frozen=True, slots=True)
class OrderView:
    """What the playout rule needs to know of one play order (routine or urgent).

    ``items`` are the durations in seconds of one loop's media, in play order
    (cuts resume at an item's start); the order plays them ``loop`` times.
    ``level`` is 1–4 (I–IV) for urgent orders and None for routine ones.
    """

    id: str
    start_at: datetime
    not_after: datetime
    items: tuple[float, ...]
    loop: int = 1
    kind: str = "routine"
    level: int | None = None
    mode: str = "actual"
    issued_at: datetime | None = None
    sequence: int = 0
    cancelled_at: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("start_at", "not_after", "issued_at", "cancelled_at"):
            if getattr(self, name) is not None or name in ("start_at", "not_after"):
                _require_aware(name, getattr(self, name))
        problem = _order_problem(self)
        if problem:
            raise PlayoutError(f"order {self.id}: {problem}")
        object.__setattr__(self, "items", tuple(float(s) for s in self.items))

    @property
    def item_lengths(self) -> tuple[timedelta, ...]:
        """One loop's item durations as (microsecond-exact) timedeltas."""
        return _lengths(self.items)

    @property
    def duration(self) -> timedelta:
        """Loop × the loop's duration: the air time of the whole order."""
        return sum(self.item_lengths, _ZERO) * self.loop

    @property
    def duration_s(self) -> float:
        """:attr:`duration` in seconds."""
        return self.duration.total_seconds()

    @property
    def ends_at(self) -> datetime:
        """When the order leaves force at the latest: not_after, or cancelled_at if earlier."""
        if self.cancelled_at is not None and self.cancelled_at < self.not_after:
            return self.cancelled_at
        return self.not_after

    @classmethod
    def from_program(cls, order: Mapping[str, Any]) -> OrderView:
        """Build from one order of the terminal program (``GET /terminal/v1/program``)."""
        try:
            return cls(
                id=str(order["id"]),
                start_at=_parse_time(order["start_at"]),
                not_after=_parse_time(order["not_after"]),
                items=tuple(int(m["duration_ms"]) / 1000 for m in order.get("media") or ()),
                loop=int(order.get("loop") or 1),
                kind=order.get("kind", "routine"),
                level=order.get("level") if order.get("kind") == "urgent" else None,
                mode=order.get("mode") or "actual",
                issued_at=_parse_time(order["issued_at"]) if order.get("issued_at") else None,
                sequence=int(order.get("sequence") or 0),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, PlayoutError):
                raise
            raise PlayoutError(f"not a program order: {exc!r}") from exc


def _order_problem(order: OrderView) -> str | None:
    """What is wrong with an order's kind, level, mode, loop or items; None if nothing."""
    if order.kind not in KINDS:
        return f"kind must be routine or urgent, got {order.kind!r}"
    if order.mode not in MODES:
        return f"mode must be one of {', '.join(MODES)}, got {order.mode!r}"
    bad_level = isinstance(order.level, bool) or order.level not in (1, 2, 3, 4)
    if order.kind == "urgent" and bad_level:
        return f"an urgent order needs level 1–4, got {order.level!r}"
    if order.kind == "routine" and order.level is not None:
        return "a routine order has no level"
    if isinstance(order.loop, bool) or not isinstance(order.loop, int) or order.loop < 1:
        return f"loop must be a whole number ≥ 1, got {order.loop!r}"
    items = tuple(order.items)
    if any(isinstance(s, bool) or not isinstance(s, int | float) or not math.isfinite(s)
           or s < 0 for s in items):
        return f"item durations must be seconds ≥ 0, got {items!r}"
    return None


def _parse_time(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


@lru_cache(maxsize=4096)
def _lengths(items: tuple[float, ...]) -> tuple[timedelta, ...]:
    return tuple(timedelta(seconds=s) for s in items)


def priority(order: OrderView) -> int:
    """Bigger plays first: urgent level I → 4, II → 3, III → 2, IV → 1, routine → 0."""
    if order.kind == "urgent" and order.level is not None:
        return 5 - order.level
    return 0


def first_come_key(order: OrderView) -> tuple[datetime, datetime, int, str]:
    """Sort key among equal priorities: earlier start, then earlier issue, sequence, id."""
    return (order.start_at, order.issued_at or order.start_at, order.sequence, order.id)


@dataclass(frozen=True, slots=True)
class Segment:
    """One stretch of air time: an item of an order, from ``offset_s`` into that item."""

    order_id: str
    start: datetime
    end: datetime
    item_index: int
    loop_index: int
    offset_s: float = 0.0

    @property
    def duration(self) -> timedelta:
        """How long the segment sounds."""
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Cue:
    """What should be sounding now: which order, which loop and item, how far into it."""

    order_id: str
    loop_index: int
    item_index: int
    offset_s: float


@dataclass(frozen=True, slots=True)
class PlayEvent:
    """A change in an order's life at instant ``at``.

    ``event`` is ``started``, ``resumed``, ``cut`` (a higher priority took
    over; it will resume from the item's start if it can) or the final state
    reached: ``finished``, ``preempted``, ``expired``, ``missed``,
    ``cancelled``, ``withdrawn``, ``silent``.
    """

    order_id: str
    event: str
    at: datetime


@dataclass(slots=True)
class _Progress:
    done: int = 0  # items completed, across loops
    into: timedelta = _ZERO  # air time of the current item (only while it sounds)
    started: bool = False
    was_cut: bool = False
    state: str = PENDING


class Playout:
    """The playout rule as a state machine, driven by a program of orders and a clock.

    Time only moves forward through :meth:`advance`; the machine holds each
    order's progress (items completed) and what is sounding. Orders are
    matched by id from call to call; an order missing from a later call is
    withdrawn (a terminal stops an order that leaves its program).
    """

    def __init__(self, clock: datetime | None = None, *, record: bool = False) -> None:
        if clock is not None:
            _require_aware("clock", clock)
        self._clock = clock
        self._orders: dict[str, OrderView] = {}
        self._progress: dict[str, _Progress] = {}
        self._current: str | None = None
        self._record = record
        self._seen: dict[str, datetime] = {}  # when each order was first in the program
        self._fresh = True  # the first program counts as known since the clock
        self.segments: list[Segment] = []  # air time so far, when record=True

    @property
    def clock(self) -> datetime | None:
        """The instant the machine has reached."""
        return self._clock

    @property
    def cue(self) -> Cue | None:
        """What sounds at :attr:`clock`: order, loop, item and offset; None for silence."""
        if self._current is None or self._current not in self._orders:
            return None  # silence, or a restored snapshot not yet given its program
        order, progress = self._orders[self._current], self._progress[self._current]
        per_loop = len(order.items)
        return Cue(self._current, progress.done // per_loop, progress.done % per_loop,
                   progress.into.total_seconds())

    @property
    def states(self) -> dict[str, str]:
        """Each known order's state (``pending``, ``playing``, ``interrupted`` or final)."""
        return {order_id: p.state for order_id, p in self._progress.items()}

    def advance(self, orders: Iterable[OrderView], now: datetime) -> list[PlayEvent]:
        """Take the current program and move the clock to ``now``; return what happened, in order.

        The first call's orders count as known since the machine's clock; an
        order that appears in a later call may sound from that call's ``now`` at
        the earliest (never retroactively, so it starts at its first item). If
        ``now`` is before the clock, no time passes (call :meth:`resync` after
        a clock jump).
        """
        _require_aware("now", now)
        if self._clock is None:
            self._clock = now
        events = self._sync(list(orders), now)
        moment = self._clock
        while True:
            events += self._settle(moment)
            events += self._choose(moment)
            if moment >= now:
                break
            following = self._next_boundary(moment, now)
            events += self._play(moment, following)
            moment = following
        self._clock = max(self._clock, now)
        return events

    def resync(self, now: datetime) -> list[PlayEvent]:
        """Move the clock to ``now`` with nothing played in between (restart, clock jump).

        What was sounding counts as cut: it resumes from the start of its item.
        """
        _require_aware("now", now)
        events = self._cut(self._clock or now) if self._current else []
        self._clock = now
        return events

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready snapshot of the progress (orders themselves are not included)."""
        return {
            "clock": self._clock.isoformat() if self._clock else None,
            "current": self._current,
            "orders": {
                order_id: {"done": p.done, "into_s": p.into.total_seconds(),
                           "started": p.started, "was_cut": p.was_cut, "state": p.state}
                for order_id, p in self._progress.items()
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Playout:
        """Restore a snapshot from :meth:`to_dict`; follow with :meth:`resync` after a restart."""
        clock = datetime.fromisoformat(data["clock"]) if data.get("clock") else None
        machine = cls(clock)
        for order_id, p in data.get("orders", {}).items():
            machine._progress[order_id] = _Progress(
                done=int(p["done"]), into=timedelta(seconds=float(p["into_s"])),
                started=bool(p["started"]), was_cut=bool(p["was_cut"]), state=str(p["state"]))
        machine._current = data.get("current")
        return machine

    # --- the steps of advance ---------------------------------------------------------

    def _sync(self, orders: list[OrderView], now: datetime) -> list[PlayEvent]:
        ids = [o.id for o in orders]
        if len(set(ids)) != len(ids):
            raise PlayoutError("the program lists an order id twice")
        events = []
        listed = set(ids)
        for order_id in [i for i in self._progress if i not in listed]:
            progress = self._progress.pop(order_id)
            self._orders.pop(order_id, None)
            self._seen.pop(order_id, None)
            if progress.state not in FINAL_STATES:
                events.append(PlayEvent(order_id, WITHDRAWN, self._now()))
            if self._current == order_id:
                self._current = None
        for order in orders:
            self._orders[order.id] = order
            self._seen.setdefault(order.id, self._now() if self._fresh else max(now, self._now()))
            progress = self._progress.setdefault(order.id, _Progress())
            progress.done = min(progress.done, order.loop * len(order.items))
        if self._current is not None and self._current not in self._orders:
            self._current = None  # restored snapshot whose order is gone
        self._fresh = False
        return events

    def _start(self, order: OrderView) -> datetime:
        """When the order may first sound here: its start, or when it reached the program."""
        return max(order.start_at, self._seen[order.id])

    def _now(self) -> datetime:
        assert self._clock is not None
        return self._clock

    def _settle(self, moment: datetime) -> list[PlayEvent]:
        """End every order whose time is over; acknowledge test orders whose time has come."""
        events = []
        for order_id, progress in self._progress.items():
            if progress.state in FINAL_STATES:
                continue
            order = self._orders[order_id]
            if order.mode == "test" and self._start(order) <= moment < order.ends_at:
                progress.state = SILENT
            elif moment >= order.ends_at:
                progress.state = _end_state(order, progress)
            else:
                continue
            events.append(PlayEvent(order_id, progress.state, moment))
            if self._current == order_id:
                self._current = None
        return events

    def _in_force(self, moment: datetime) -> list[OrderView]:
        return [
            self._orders[order_id] for order_id, p in self._progress.items()
            if p.state not in FINAL_STATES and self._start(self._orders[order_id]) <= moment
        ]

    def _winner(self, moment: datetime) -> str | None:
        in_force = self._in_force(moment)
        if not in_force:
            return None
        top = max(priority(o) for o in in_force)
        if self._current is not None and priority(self._orders[self._current]) == top:
            return self._current  # equal priority never cuts
        return min((o for o in in_force if priority(o) == top), key=first_come_key).id

    def _choose(self, moment: datetime) -> list[PlayEvent]:
        events: list[PlayEvent] = []
        while True:
            winner = self._winner(moment)
            if winner == self._current:
                return events
            if self._current is not None:
                events += self._cut(moment)
            if winner is None:
                return events
            progress = self._progress[winner]
            events.append(PlayEvent(winner, "resumed" if progress.started else "started", moment))
            progress.started, progress.state = True, PLAYING
            self._current = winner
            if self._skip_empty_items(winner):
                return events
            events += self._finish(winner, moment)  # nothing (left) to play: choose again

    def _cut(self, moment: datetime) -> list[PlayEvent]:
        assert self._current is not None
        progress = self._progress[self._current]
        progress.into, progress.was_cut, progress.state = _ZERO, True, INTERRUPTED
        event = PlayEvent(self._current, "cut", moment)
        self._current = None
        return [event]

    def _skip_empty_items(self, order_id: str) -> bool:
        """Step over zero-length items; False if the order has no content left."""
        order, progress = self._orders[order_id], self._progress[order_id]
        lengths, total = order.item_lengths, order.loop * len(order.items)
        while progress.done < total and lengths[progress.done % len(lengths)] == _ZERO:
            progress.done += 1
        return progress.done < total

    def _finish(self, order_id: str, moment: datetime) -> list[PlayEvent]:
        self._progress[order_id].state = FINISHED
        self._current = None
        return [PlayEvent(order_id, FINISHED, moment)]

    def _item_left(self) -> timedelta:
        assert self._current is not None
        order, progress = self._orders[self._current], self._progress[self._current]
        return order.item_lengths[progress.done % len(order.items)] - progress.into

    def _next_boundary(self, moment: datetime, limit: datetime) -> datetime:
        """The next instant anything can change: an item ends, an order starts or ends."""
        following = limit
        if self._current is not None:
            following = min(following, moment + max(self._item_left(), _ZERO))
        for order_id, progress in self._progress.items():
            if progress.state in FINAL_STATES:
                continue
            order = self._orders[order_id]
            for instant in (self._start(order), order.ends_at):
                if moment < instant < following:
                    following = instant
        return following

    def _play(self, moment: datetime, until: datetime) -> list[PlayEvent]:
        """Let the current order sound from ``moment`` to ``until`` (no boundary in between)."""
        if self._current is None:
            return []
        order_id = self._current
        progress, per_loop = self._progress[order_id], len(self._orders[order_id].items)
        if self._record and until > moment:
            self._record_segment(Segment(order_id, moment, until, progress.done % per_loop,
                                         progress.done // per_loop, progress.into.total_seconds()))
        progress.into += until - moment
        if self._item_left() > _ZERO:
            return []
        progress.done, progress.into = progress.done + 1, _ZERO
        return [] if self._skip_empty_items(order_id) else self._finish(order_id, until)

    def _record_segment(self, segment: Segment) -> None:
        last = self.segments[-1] if self.segments else None
        if (last is not None and last.end == segment.start and last.order_id == segment.order_id
                and (last.loop_index, last.item_index) == (segment.loop_index, segment.item_index)):
            self.segments[-1] = replace(last, end=segment.end)  # a boundary of another order
        else:
            self.segments.append(segment)


def _end_state(order: OrderView, progress: _Progress) -> str:
    """The final state of an order whose ``ends_at`` came before it finished."""
    if order.cancelled_at is not None and order.cancelled_at <= order.not_after:
        return CANCELLED
    if order.mode == "test" or not progress.started:
        return MISSED
    return PREEMPTED if progress.was_cut else EXPIRED


def _replay(orders: Sequence[OrderView], until: datetime, *, record: bool = False) -> Playout:
    """A machine run from the earliest start (or ``until``) to ``until``."""
    _require_aware("until", until)
    first = min([until, *(o.start_at for o in orders)])
    machine = Playout(first, record=record)
    machine.advance(orders, until)
    return machine


def simulate(orders: Iterable[OrderView], start: datetime, end: datetime) -> list[Segment]:
    """The air time in [start, end): segments in time order, never overlapping.

    Orders begun before ``start`` are replayed from their start, so the first
    segment may begin mid-item (its ``offset_s`` says where).
    """
    _require_aware("start", start)
    machine = _replay(list(orders), end, record=True)
    clipped = []
    for segment in machine.segments:
        lo, hi = max(segment.start, start), min(segment.end, end)
        if lo < hi:
            offset = segment.offset_s + (lo - segment.start).total_seconds()
            clipped.append(replace(segment, start=lo, end=hi, offset_s=offset))
    return clipped


def outcomes(orders: Iterable[OrderView], at: datetime | None = None) -> dict[str, str]:
    """Each order's state at ``at``; by default once every order has ended (final states)."""
    orders = list(orders)
    if not orders:
        return {}
    until = at or max(o.ends_at for o in orders)
    return _replay(orders, until).states


def playing_at(orders: Iterable[OrderView], moment: datetime) -> Cue | None:
    """What sounds at ``moment`` (order, loop, item, offset), or None for silence."""
    return _replay(list(orders), moment).cue


def current_play(orders: Iterable[OrderView], now: datetime, state: Playout) -> Cue | None:
    """Advance a terminal's machine to ``now`` and say what should sound (drops the events).

    A terminal that sends receipts calls ``state.advance`` itself and reads ``state.cue``.
    """
    state.advance(orders, now)
    return state.cue

