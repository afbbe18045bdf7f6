"""The power-cut report: the analysis of :mod:`app.maintenance.powercuts` over stored data.

Reads, for the speakers in the caller's area (or one town), their heartbeat history, their
villages' routine orders and their own ``started`` receipts, and the schedules behind the
orders; answers per village with the suspected speakers, the slots involved and what to
change in them. Heartbeats are read speaker by speaker in chunks, so a district's month is
never held in memory at once.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from app.areas.models import Area
from app.auth.permissions import Principal
from app.auth.scope import within
from app.config import get_settings
from app.csvout import safe_writer
from app.db import utcnow
from app.errors import InvalidInput
from app.maintenance.powercuts import (
    Analysis,
    Beat,
    OrderStart,
    Params,
    SlotInfo,
    SpeakerInfo,
    Spell,
    analyse,
    dark_spells,
    suggestions,
)
from app.playout.models import PlayOrder
from app.playout.receipts_models import PlayReceipt
from app.schedules.models import Schedule
from app.speakers.heartbeats import HISTORY_SAMPLE_S
from app.speakers.models import Speaker, SpeakerHeartbeat
from app.speakers.operating import FOLLOW_SCHEDULE, daily_windows

__all__ = ["PowerCutReport", "ReportInput", "power_cut_report", "power_cut_csv", "MAX_DAYS"]

MAX_DAYS = 92
_CHUNK = 200
_LOOKBACK = timedelta(days=1)  # the state a speaker was in when the range began


class Suggestion(BaseModel):
    """One change to a slot: ``lower_volume``, ``move_later``, ``fewer_loops``, ``fewer_slots``."""

    action: str
    detail: str
    volume: int | None = None
    time: str | None = None
    loop: int | None = None


class SlotRead(BaseModel):
    """A schedule slot a speaker's power cuts followed."""

    schedule: str
    schedule_name: str | None
    time: str = Field(description="local time of day of the slot")
    events: int = Field(description="cuts within the window after this slot started")
    median_delay_minutes: float
    volume: int | None
    loop: int | None
    suggestions: list[Suggestion]


class SpeakerCutRead(BaseModel):
    """A speaker suspected of being switched off by residents."""

    speaker: str
    serial: str
    name: str | None
    cause: str = "power_cut_by_resident"
    spells: int = Field(description="its dark spells in the range, the grid's left out")
    resident: int = Field(description="spells in the suspected pattern")
    after_broadcast: int = Field(description="spells starting soon after one of its orders")
    patterns: list[str] = Field(description="after_broadcast, same_hour")
    hour: int | None = Field(description="the local hour most of its cuts begin in")
    days: list[str]
    slots: list[SlotRead]


class VillageCutRead(BaseModel):
    """A village with suspected speakers."""

    village: str
    village_name: str
    town: str | None
    speakers: list[SpeakerCutRead]


class GridOutageRead(BaseModel):
    """Many speakers of a town dark at once: the grid, not residents."""

    town: str
    start_at: datetime
    end_at: datetime | None
    speakers: int


class PowerCutReport(BaseModel):
    """Speakers cut by residents, per village, with the slots involved and grid outages."""

    model_config = {"populate_by_name": True}

    from_: datetime = Field(alias="from")
    to: datetime
    town: str | None
    params: dict[str, float]
    counts: dict[str, int] = Field(description="dark spells per kind: power_cut_by_resident, "
                                   "grid, unexplained")
    grid_outages: list[GridOutageRead]
    items: list[VillageCutRead]
    total: int


@dataclass
class ReportInput:
    """What the analysis ran on, kept for the console's chart."""

    analysis: Analysis
    speakers: dict[str, SpeakerInfo]
    start: datetime
    end: datetime


def _speakers(session: Session, principal: Principal, town: Area | None
              ) -> tuple[dict[str, SpeakerInfo], dict[str, Any], dict[str, str]]:
    """Speakers in scope: their info, their operating hours, and village names."""
    village = aliased(Area)
    stmt = (select(Speaker.id, Speaker.serial, Speaker.name, Speaker.village_code,
                   village.parent_code, village.name, Speaker.operating_hours)
            .join(village, village.code == Speaker.village_code)
            .where(Speaker.retired_at.is_(None)).order_by(Speaker.id))
    for path in filter(None, (principal.area_path, town.path if town else None)):
        stmt = stmt.where(within(village.path, path))
    infos, hours, names = {}, {}, {}
    for sid, serial, name, code, parent, village_name, operating in session.execute(stmt):
        infos[sid] = SpeakerInfo(sid, serial, name, code, parent)
        hours[sid] = operating
        names[code] = village_name
    return infos, hours, names


def _history(session: Session, ids: Sequence[str], start: datetime,
             end: datetime) -> dict[str, list[Beat]]:
    beats: dict[str, list[Beat]] = defaultdict(list)
    for index in range(0, len(ids), _CHUNK):
        rows = session.execute(
            select(SpeakerHeartbeat.speaker_id, SpeakerHeartbeat.at, SpeakerHeartbeat.power)
            .where(SpeakerHeartbeat.speaker_id.in_(ids[index:index + _CHUNK]),
                   SpeakerHeartbeat.at >= start - _LOOKBACK, SpeakerHeartbeat.at < end)
            .order_by(SpeakerHeartbeat.speaker_id, SpeakerHeartbeat.at))
        for sid, at, power in rows:
            beats[sid].append(Beat(at, power))
    return beats


def _by_design(spell: Spell, hours: Any, timeout: timedelta) -> bool:
    """A spell beginning outside the speaker's operating windows (or in their last minutes)."""
    if hours is None or hours == FOLLOW_SCHEDULE:
        return False
    windows = daily_windows(hours, spell.start - timedelta(days=1),
                            spell.start + timedelta(days=1), get_settings().tz)
    return not any(a <= spell.start < b - timeout for a, b in windows)


def _spells(session: Session, infos: dict[str, SpeakerInfo], hours: dict[str, Any],
            start: datetime, end: datetime, params: Params) -> list[Spell]:
    timeout = timedelta(seconds=get_settings().heartbeat_timeout)
    until = min(end, utcnow())
    found = []
    for sid, beats in _history(session, list(infos), start, end).items():
        for spell in dark_spells(sid, beats, until, params):
            if start <= spell.start < end and not _by_design(spell, hours[sid], timeout):
                found.append(spell)
    return found


def _orders(session: Session, villages: Iterable[str], start: datetime, end: datetime,
            window: timedelta) -> list[Any]:
    codes = sorted(set(villages))
    rows: list[Any] = []
    for index in range(0, len(codes), _CHUNK):
        rows += session.execute(
            select(PlayOrder.id, PlayOrder.village_code, PlayOrder.schedule_id,
                   PlayOrder.start_at, PlayOrder.volume)
            .where(PlayOrder.village_code.in_(codes[index:index + _CHUNK]),
                   PlayOrder.kind == "routine", PlayOrder.start_at >= start - window,
                   PlayOrder.start_at < end,
                   PlayOrder.state.not_in(("withdrawn", "cancelled")))).all()
    return rows


def _receipt_starts(session: Session, order_ids: Sequence[str]) -> dict[tuple[str, str], datetime]:
    """(order, speaker) → when that speaker reported it started."""
    found = {}
    for index in range(0, len(order_ids), 500):
        rows = session.execute(
            select(PlayReceipt.order_id, PlayReceipt.speaker_id, PlayReceipt.at)
            .where(PlayReceipt.order_id.in_(order_ids[index:index + 500]),
                   PlayReceipt.event == "started"))
        found.update({(order, speaker): at for order, speaker, at in rows})
    return found


def _starts(session: Session, infos: dict[str, SpeakerInfo], orders: list[Any]
            ) -> dict[str, list[OrderStart]]:
    """Order starts per speaker: its village's orders, at its own receipt's time if any."""
    receipts = _receipt_starts(session, [o.id for o in orders])
    by_village: dict[str, list[Any]] = defaultdict(list)
    for order in orders:
        by_village[order.village_code].append(order)
    return {sid: [OrderStart(o.id, o.village_code, o.schedule_id,
                             receipts.get((o.id, sid), o.start_at))
                  for o in by_village.get(info.village, ())]
            for sid, info in infos.items()}


def _slot_infos(session: Session, ids: Iterable[str]) -> dict[str, tuple[SlotInfo, Schedule]]:
    found = {}
    for schedule in session.scalars(select(Schedule).where(Schedule.id.in_(sorted(set(ids))))):
        per_day = (len(schedule.times) if schedule.every_minutes is None or not schedule.window
                   else 1 + (int(schedule.window[1][:2]) * 60 + int(schedule.window[1][3:])
                             - int(schedule.window[0][:2]) * 60 - int(schedule.window[0][3:]))
                   // schedule.every_minutes)
        found[schedule.id] = (SlotInfo(schedule.id, schedule.name, schedule.volume,
                                       schedule.loop, per_day), schedule)
    return found


def _check_range(start: datetime, end: datetime) -> None:
    if end <= start:
        raise InvalidInput("`to` must be after `from`", code="invalid_range")
    if end - start > timedelta(days=MAX_DAYS):
        raise InvalidInput(f"the report spans at most {MAX_DAYS} days", code="invalid_range")


def power_cut_report(*, session: Session, principal: Principal, start: datetime,
                     end: datetime, town: Area | None = None,
                     params: Params | None = None) -> tuple[PowerCutReport, ReportInput]:
    """The report for [start, end), and what it was computed from."""
    _check_range(start, end)
    params = params or Params(gap_seconds=HISTORY_SAMPLE_S + get_settings().heartbeat_timeout
                              + 60)
    zone = get_settings().tz
    infos, hours, names = _speakers(session, principal, town)
    spells = _spells(session, infos, hours, start, end, params)
    orders = _orders(session, (i.village for i in infos.values()), start, end,
                     timedelta(minutes=params.window_minutes))
    slot_times = {o.id: f"{o.start_at.astimezone(zone):%H:%M}" for o in orders}
    analysis = analyse(speakers=infos, spells=spells, starts=_starts(session, infos, orders),
                       slot_times=slot_times, params=params, zone=zone)
    schedules = _slot_infos(session, [s.schedule for f in analysis.suspects for s in f.slots])
    villages: dict[str, list[SpeakerCutRead]] = defaultdict(list)
    for finding in analysis.suspects:
        villages[finding.speaker.village].append(_speaker_read(finding, schedules))
    items = [VillageCutRead(village=code, village_name=names.get(code, code),
                            town=infos[found[0].speaker].town, speakers=found)
             for code, found in sorted(villages.items())]
    report = PowerCutReport.model_validate({
        "from": start.astimezone(zone), "to": end.astimezone(zone),
        "town": town.code if town else None,
        "params": {"window_minutes": params.window_minutes, "min_events": params.min_events,
                   "grid_min_speakers": params.grid_min_speakers,
                   "grid_fraction": params.grid_fraction},
        "counts": analysis.counts(),
        "grid_outages": [GridOutageRead(town=g.town, start_at=g.start.astimezone(zone),
                                        end_at=g.end.astimezone(zone) if g.end else None,
                                        speakers=g.speakers) for g in analysis.grid],
        "items": items, "total": len(items)})
    return report, ReportInput(analysis, infos, start, end)


def _speaker_read(finding: Any, schedules: dict[str, tuple[SlotInfo, Schedule]]
                  ) -> SpeakerCutRead:
    slots = []
    for slot in finding.slots:
        info, schedule = schedules.get(slot.schedule, (None, None))
        own = (schedule.slot_volumes or {}).get(slot.time) if schedule is not None else None
        slots.append(SlotRead(
            schedule=slot.schedule, schedule_name=info.name if info else None, time=slot.time,
            events=slot.events, median_delay_minutes=slot.median_delay_minutes,
            volume=own if own is not None else (info.volume if info else None),
            loop=info.loop if info else None,
            suggestions=[Suggestion.model_validate(s) for s in suggestions(slot, info, own)]))
    speaker = finding.speaker
    return SpeakerCutRead(speaker=speaker.id, serial=speaker.serial, name=speaker.name,
                          spells=finding.spells, resident=finding.resident,
                          after_broadcast=finding.after_broadcast, patterns=finding.patterns,
                          hour=finding.hour, days=finding.days, slots=slots)


CSV_HEADER = ["village", "village_name", "town", "speaker", "serial", "cause", "spells",
              "resident", "patterns", "hour", "schedule", "schedule_name", "time", "events",
              "median_delay_minutes", "volume", "loop", "suggestions"]


def power_cut_csv(report: PowerCutReport) -> str:
    """One row per suspected speaker and slot (a speaker cut at one hour with no slot: one
    row without a slot)."""
    buffer = io.StringIO()
    writer = safe_writer(buffer)
    writer.writerow(CSV_HEADER)
    for village in report.items:
        for speaker in village.speakers:
            head = [village.village, village.village_name, village.town or "", speaker.speaker,
                    speaker.serial, speaker.cause, speaker.spells, speaker.resident,
                    " ".join(speaker.patterns),
                    "" if speaker.hour is None else speaker.hour]
            slots: list[SlotRead | None] = list(speaker.slots) or [None]
            for slot in slots:
                tail = ["", "", "", "", "", "", "", ""] if slot is None else [
                    slot.schedule, slot.schedule_name or "", slot.time, slot.events,
                    slot.median_delay_minutes, "" if slot.volume is None else slot.volume,
                    "" if slot.loop is None else slot.loop,
                    "; ".join(s.detail for s in slot.suggestions)]
                writer.writerow(head + tail)
    return "\ufeff" + buffer.getvalue()

