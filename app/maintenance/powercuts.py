"""Speakers cut by residents (人为断电): dark spells matched with broadcasts and the grid (pure).

Residents pull the plug on a loudspeaker that is too loud, too early or too often. The
signs, from a speaker's heartbeat history and its village's play orders:

1. **Dark spells.** A speaker is dark from a heartbeat saying ``battery`` or ``off`` until
   one saying ``mains``, and through any gap in its history longer than the history's
   sampling interval plus the heartbeat timeout (a silent terminal). Spells that begin
   outside a speaker's operating hours are its design and are left out.
2. **The grid.** When, within a few minutes of a spell's start, at least
   ``grid_min_speakers`` speakers of the same town (and at least ``grid_fraction`` of its
   speakers) went dark, the town lost power: the spell is ``grid``, never a resident's.
3. **After its own broadcast.** A spell that begins within ``window_minutes`` after one of
   the village's orders started (the speaker's own ``started`` receipt when it sent one)
   is tied to that order's schedule slot ("06:30").
4. **Suspected.** A speaker with ``min_events`` spells tied to one slot, or starting in the
   same local hour of the day, is suspected of ``power_cut_by_resident``; its spells in
   that pattern count as such, the others stay ``unexplained``.

For every slot involved the report suggests what would make residents leave the speaker
on: a lower volume, a later time than the early morning, fewer loops.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = [
    "Params",
    "Beat",
    "SpeakerInfo",
    "OrderStart",
    "SlotInfo",
    "Spell",
    "GridOutage",
    "SlotFinding",
    "SpeakerFinding",
    "Analysis",
    "dark_spells",
    "mark_grid",
    "analyse",
    "suggestions",
    "GRID",
    "RESIDENT",
    "UNEXPLAINED",
]

GRID, RESIDENT, UNEXPLAINED = "grid", "power_cut_by_resident", "unexplained"
EARLY = time(7, 0)  # a slot before this wakes the village
LATER_SLOT = "07:30"
LOUD = 60  # a volume at or above this is worth lowering
QUIET_ENOUGH = 30


@dataclass(frozen=True)
class Params:
    """Thresholds of the analysis (the report's query parameters)."""

    window_minutes: int = 15
    min_events: int = 3
    gap_seconds: float = 600 + 180 + 60  # history sampling + heartbeat timeout + slack
    grid_min_speakers: int = 3
    grid_fraction: float = 0.5
    grid_tolerance_minutes: int = 5


@dataclass(frozen=True, slots=True)
class Beat:
    """One heartbeat of the history."""

    at: datetime
    power: str


@dataclass(frozen=True)
class SpeakerInfo:
    """A speaker and where it stands."""

    id: str
    serial: str
    name: str | None
    village: str
    town: str | None


@dataclass(frozen=True, slots=True)
class OrderStart:
    """A routine order of a village: when it started (for one speaker, its receipt's time)."""

    order: str
    village: str
    schedule: str | None
    start_at: datetime


@dataclass(frozen=True)
class SlotInfo:
    """What a schedule's slot plays with: its volume and loop, and its schedule's name."""

    schedule: str
    name: str
    volume: int | None
    loop: int
    slots_per_day: int


@dataclass
class Spell:
    """A dark spell of one speaker; ``end`` None while it lasts."""

    speaker: str
    start: datetime
    end: datetime | None
    kind: str = UNEXPLAINED
    order: OrderStart | None = None
    delay: timedelta | None = None


@dataclass(frozen=True)
class GridOutage:
    """Many speakers of one town dark at once."""

    town: str
    start: datetime
    end: datetime | None
    speakers: int


@dataclass
class SlotFinding:
    """A schedule slot a speaker's spells followed."""

    schedule: str
    time: str
    events: int
    median_delay_minutes: float


@dataclass
class SpeakerFinding:
    """A suspected speaker: its spells, the slots involved and the hour they cluster at."""

    speaker: SpeakerInfo
    spells: int
    resident: int
    after_broadcast: int
    patterns: list[str]
    slots: list[SlotFinding]
    hour: int | None
    days: list[str] = field(default_factory=list)


@dataclass
class Analysis:
    """The whole analysis: every spell classified, grid outages, suspected speakers."""

    spells: list[Spell]
    grid: list[GridOutage]
    suspects: list[SpeakerFinding]

    def counts(self) -> dict[str, int]:
        """Spells per kind."""
        found = Counter(s.kind for s in self.spells)
        return {kind: found.get(kind, 0) for kind in (RESIDENT, GRID, UNEXPLAINED)}


# --- 1. dark spells --------------------------------------------------------------------------


def dark_spells(speaker: str, beats: Sequence[Beat], until: datetime,
                params: Params) -> list[Spell]:
    """A speaker's dark spells from its heartbeat history (sorted by time)."""
    gap = timedelta(seconds=params.gap_seconds)
    spells: list[Spell] = []
    dark_since: datetime | None = None
    for index, beat in enumerate(beats):
        following = beats[index + 1].at if index + 1 < len(beats) else until
        if beat.power in ("battery", "off"):
            if dark_since is None:
                dark_since = beat.at
        elif dark_since is not None:
            spells.append(Spell(speaker, dark_since, beat.at))
            dark_since = None
        if following - beat.at > gap and dark_since is None:
            end = following if index + 1 < len(beats) else None
            spells.append(Spell(speaker, beat.at, end))
    if dark_since is not None:
        spells.append(Spell(speaker, dark_since, None))
    return spells


# --- 2. the grid -----------------------------------------------------------------------------


def mark_grid(spells: Iterable[Spell], speakers: dict[str, SpeakerInfo],
              params: Params) -> list[GridOutage]:
    """Mark ``grid`` the spells shared by many speakers of a town; the town outages found."""
    by_town: dict[str, list[Spell]] = defaultdict(list)
    size: Counter[str] = Counter(s.town for s in speakers.values() if s.town)
    for spell in spells:
        town = speakers[spell.speaker].town
        if town:
            by_town[town].append(spell)
    tolerance = timedelta(minutes=params.grid_tolerance_minutes)
    outages = []
    for town, town_spells in by_town.items():
        needed = max(params.grid_min_speakers, math.ceil(params.grid_fraction * size[town]))
        town_spells.sort(key=lambda s: s.start)
        for index, spell in enumerate(town_spells):
            if spell.kind == GRID:
                continue
            group = [s for s in town_spells[index:] if s.start - spell.start <= tolerance]
            if len({s.speaker for s in group}) >= needed:
                for member in group:
                    member.kind = GRID
                ends = [s.end for s in group]
                outages.append(GridOutage(town, spell.start,
                                          None if None in ends else max(e for e in ends if e),
                                          len({s.speaker for s in group})))
    return sorted(outages, key=lambda o: (o.start, o.town))


# --- 3. after its own broadcast ----------------------------------------------------------------


def _tie_to_orders(spells: Iterable[Spell], starts: Sequence[OrderStart],
                   params: Params) -> None:
    """Tie each spell to the latest order start at most ``window_minutes`` before it."""
    window = timedelta(minutes=params.window_minutes)
    ordered = sorted(starts, key=lambda o: o.start_at)
    for spell in spells:
        candidates = [o for o in ordered if o.start_at <= spell.start <= o.start_at + window]
        if candidates:
            spell.order = candidates[-1]
            spell.delay = spell.start - candidates[-1].start_at


# --- 4. suspected ------------------------------------------------------------------------------


def _hhmm(moment: datetime, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone):%H:%M}"


def _finding(speaker: SpeakerInfo, spells: list[Spell], slot_times: dict[str, str],
             params: Params, zone: ZoneInfo) -> SpeakerFinding | None:
    own = [s for s in spells if s.kind != GRID]
    tied: dict[tuple[str, str], list[Spell]] = defaultdict(list)
    for spell in own:
        if spell.order is not None and spell.order.schedule is not None:
            key = (spell.order.schedule, slot_times.get(spell.order.order,
                                                        _hhmm(spell.order.start_at, zone)))
            tied[key].append(spell)
    slots = {key: found for key, found in tied.items() if len(found) >= params.min_events}
    hours = Counter(s.start.astimezone(zone).hour for s in own)
    hour, count = hours.most_common(1)[0] if hours else (None, 0)
    # Most of its spells at one hour of the day (a flapping terminal is dark at every hour).
    same_hour = count >= params.min_events and 2 * count >= len(own)
    if not slots and not same_hour:
        return None
    resident = {id(s) for found in slots.values() for s in found}
    if same_hour:
        resident |= {id(s) for s in own if s.start.astimezone(zone).hour == hour}
    for spell in own:
        if id(spell) in resident:
            spell.kind = RESIDENT
    findings = [SlotFinding(schedule, at, len(found),
                            round(statistics.median(s.delay.total_seconds() / 60
                                                    for s in found if s.delay), 1))
                for (schedule, at), found in sorted(slots.items(), key=lambda kv: -len(kv[1]))]
    patterns = (["after_broadcast"] if slots else []) + (["same_hour"] if same_hour else [])
    return SpeakerFinding(
        speaker=speaker, spells=len(own), resident=len(resident),
        after_broadcast=sum(1 for s in own if s.order is not None), patterns=patterns,
        slots=findings, hour=hour if same_hour else None,
        days=sorted({f"{s.start.astimezone(zone):%Y-%m-%d}" for s in own if s.kind == RESIDENT}))


def analyse(*, speakers: dict[str, SpeakerInfo], spells: list[Spell],
            starts: dict[str, list[OrderStart]], slot_times: dict[str, str],
            params: Params, zone: ZoneInfo) -> Analysis:
    """Classify every spell and find the suspected speakers.

    ``starts`` are the order starts per speaker (its village's, with its own receipts' times);
    ``slot_times`` the local "HH:MM" slot of each order (its schedule's time of day).
    """
    grid = mark_grid(spells, speakers, params)
    by_speaker: dict[str, list[Spell]] = defaultdict(list)
    for spell in spells:
        by_speaker[spell.speaker].append(spell)
    suspects = []
    for speaker_id, own in sorted(by_speaker.items()):
        _tie_to_orders([s for s in own if s.kind != GRID], starts.get(speaker_id, []), params)
        finding = _finding(speakers[speaker_id], own, slot_times, params, zone)
        if finding is not None:
            suspects.append(finding)
    suspects.sort(key=lambda f: (f.speaker.village, -f.resident, f.speaker.serial))
    return Analysis(sorted(spells, key=lambda s: s.start), grid, suspects)


# --- suggestions -------------------------------------------------------------------------------


def suggestions(slot: SlotFinding, info: SlotInfo | None,
                slot_volume: int | None) -> list[dict[str, object]]:
    """What to change in a slot residents cut: lower it, move it later, loop it less."""
    found: list[dict[str, object]] = []
    volume = slot_volume if slot_volume is not None else (info.volume if info else None)
    if volume is None or volume >= LOUD:
        proposed = max(QUIET_ENOUGH, (volume or 80) - 20)
        found.append({"action": "lower_volume", "volume": proposed,
                      "detail": f"lower the {slot.time} slot's volume from "
                      f"{volume if volume is not None else 'the terminal default'} to {proposed}"})
    if time.fromisoformat(slot.time) < EARLY:
        found.append({"action": "move_later", "time": LATER_SLOT,
                      "detail": f"move the {slot.time} slot out of the early morning, "
                      f"to {LATER_SLOT} or later"})
    if info is not None and info.loop > 1:
        found.append({"action": "fewer_loops", "loop": info.loop - 1,
                      "detail": f"play it {info.loop - 1}× instead of {info.loop}×"})
    if info is not None and info.slots_per_day > 3:
        found.append({"action": "fewer_slots",
                      "detail": f"{info.name} plays {info.slots_per_day} times a day; "
                      "drop some"})
    if not found and volume is not None:
        found.append({"action": "lower_volume", "volume": max(QUIET_ENOUGH, volume - 10),
                      "detail": f"try the {slot.time} slot 10 quieter"})
    return found
