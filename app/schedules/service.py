"""Schedule rules of the service: validation (quiet hours, conflicts, content), changes, scoping.

Every change re-issues the schedule's future play orders in the same transaction (see
:mod:`app.schedules.issuing`), so terminals see it with the next program version.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, and_, literal, or_, select
from sqlalchemy.orm import Session

from app.areas.models import Area
from app.areas.service import get_area_in_scope
from app.audit.service import record
from app.auth.permissions import Principal
from app.config import get_settings
from app.db import utcnow
from app.errors import AppError, Conflict, Forbidden, InvalidInput, NotFound
from app.pagination import matching
from app.playlists.models import Playlist
from app.playlists.service import playout_media, unapproved_items
from app.runtime.events import emit
from app.schedules.calendar_days import calendar_fields, split_times
from app.schedules.issuing import reissue_schedule, rule_of, withdraw_future_orders
from app.schedules.lunar import parse_lunar_days
from app.schedules.models import Schedule, ScheduleTarget
from app.schedules.rules import (
    DAY_NAMES,
    Rule,
    RuleError,
    next_occurrences,
    occurrences,
    quiet_time_violations,
    self_overlaps,
    slot_conflicts,
)
from app.schedules.schemas import ScheduleCreate, ScheduleRead, ScheduleUpdate

__all__ = [
    "create_schedule",
    "update_schedule",
    "delete_schedule",
    "get_schedule",
    "get_schedule_for_reading",
    "get_schedule_by_name",
    "list_schedules",
    "schedule_occurrences",
    "slot_length",
    "to_read",
    "ScheduleConflict",
    "MAX_CONFLICTS_LISTED",
    "schedules_targeting_area",
    "schedules_using_day_type",
    "schedules_playing_playlist",
]

MAX_CONFLICTS_LISTED = 100
_CALENDAR_COMPARISON_DAYS = 370
_ALL_DAYS = list(DAY_NAMES)


class ScheduleConflict(Conflict):
    """The schedule's slots overlap another enabled schedule's in a shared village."""

    code = "schedule_conflict"


@dataclass
class _Draft:
    """A schedule as it would be after a create or update, before it is stored."""

    name: str
    playlist: str
    targets: list[str]
    times: list[str] | None
    every_minutes: int | None
    window: list[str] | None
    days: list[str]
    start_date: date | None
    end_date: date | None
    loop: int
    volume: int | None
    enabled: bool
    slot_volumes: dict[str, int] = field(default_factory=dict)
    skip_dates: list[date] = field(default_factory=list)
    extra_dates: list[date] = field(default_factory=list)
    lunar_days: list[int] = field(default_factory=list)
    day_types: list[str] = field(default_factory=list)
    skip_day_types: list[str] = field(default_factory=list)

    def rule(self, session: Session) -> Rule:
        """The pure rule; 422 naming the problem when it is not a valid one."""
        calendar = calendar_fields(session, skip_dates=self.skip_dates,
                                   extra_dates=self.extra_dates, lunar_days=self.lunar_days,
                                   day_types=self.day_types, skip_day_types=self.skip_day_types,
                                   check=True)
        try:
            return Rule(times=tuple(self.times or ()), every_minutes=self.every_minutes,
                        window=tuple(self.window) if self.window is not None else None,  # type: ignore[arg-type]
                        days=tuple(self.days), start_date=self.start_date,
                        end_date=self.end_date, tz=get_settings().timezone, **calendar)
        except RuleError as exc:
            raise InvalidInput(str(exc), code="invalid_rule") from None


# ---------------------------------------------------------------- reading


def get_schedule(*, session: Session, schedule_id: str) -> Schedule:
    """The schedule with this id; 404 when unknown."""
    schedule = session.get(Schedule, schedule_id)
    if schedule is None:
        raise NotFound(f"schedule {schedule_id!r} does not exist")
    return schedule


def get_schedule_by_name(*, session: Session, name: str) -> Schedule | None:
    """The schedule with this name, if any (names are unique)."""
    return session.scalar(select(Schedule).where(Schedule.name == name))


def _target_areas(session: Session, codes: Iterable[str]) -> list[Area]:
    codes = list(codes)
    found = {a.code: a for a in session.scalars(select(Area).where(Area.code.in_(codes)))}
    return [found[c] for c in codes if c in found]


def _affects(principal: Principal, paths: Iterable[str]) -> bool:
    """True when a schedule with targets at ``paths`` plays somewhere in the principal's area."""
    mine = principal.area_path
    return mine is None or any(
        principal.covers(p) or mine.startswith(p + "/") for p in paths
    )


def get_schedule_for_reading(
    *, session: Session, principal: Principal, schedule_id: str
) -> Schedule:
    """The schedule, if it plays somewhere in the principal's area; 403 otherwise."""
    schedule = get_schedule(session=session, schedule_id=schedule_id)
    paths = [a.path for a in _target_areas(session, schedule.target_codes)]
    if not _affects(principal, paths):
        raise Forbidden(f"schedule {schedule_id!r} plays outside your area")
    return schedule


def _get_schedule_for_writing(session: Session, principal: Principal, schedule_id: str) -> Schedule:
    schedule = get_schedule(session=session, schedule_id=schedule_id)
    for area in _target_areas(session, schedule.target_codes):
        if not principal.covers(area.path):
            raise Forbidden(f"schedule {schedule_id!r} targets {area.code!r}, outside your area")
    return schedule


def _affecting(path: str) -> Any:
    """SQL: the target area is at ``path``, inside it, or above it."""
    here = literal(path)
    # Prefix tests as ranges ("p/" ≤ x < "p0"): "_" in area codes is no wildcard here.
    return or_(Area.path == here,
               and_(Area.path >= path + "/", Area.path < path + "0"),
               and_(here >= Area.path + "/", here < Area.path + "0"))


def list_schedules(
    *, session: Session, principal: Principal, area: str | None = None, q: str | None = None,
    enabled: bool | None = None,
) -> Select[Any]:
    """Schedules that play in the area (default: the caller's), by name; ``q``: words in the
    name; ``enabled``: only enabled (or disabled) ones."""
    stmt = select(Schedule)
    paths = []
    if principal.area_path is not None:
        paths.append(principal.area_path)
    if area:
        paths.append(get_area_in_scope(session=session, principal=principal, code=area).path)
    for path in paths:
        playing_there = (select(ScheduleTarget.schedule_id).join(Area)
                         .where(_affecting(path)))
        stmt = stmt.where(Schedule.id.in_(playing_there))
    if (words := matching(q, Schedule.name)) is not None:
        stmt = stmt.where(words)
    if enabled is not None:
        stmt = stmt.where(Schedule.enabled.is_(enabled))
    return stmt.order_by(Schedule.name, Schedule.id)


def slot_length(session: Session, schedule: Schedule | _Draft) -> timedelta:
    """How long one occurrence lasts: loop × the playlist's duration, audio still rendering
    counted by its text's estimated length (0 if the playlist is gone)."""
    playlist_id = schedule.playlist if isinstance(schedule, _Draft) else schedule.playlist_id
    media = playout_media(session, playlist_id)
    duration_ms = media.duration_ms + media.pending_ms if media is not None else 0
    return timedelta(milliseconds=schedule.loop * duration_ms)


def schedule_occurrences(
    *, session: Session, schedule: Schedule, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """(start, end) of each occurrence starting in [start, end)."""
    length = slot_length(session, schedule)
    return [(s, s + length) for s in occurrences(rule_of(schedule), start, end)]


def _local(moment: datetime) -> datetime:
    return moment.astimezone(get_settings().tz)


def to_read(session: Session, schedule: Schedule, now: datetime | None = None) -> ScheduleRead:
    """The client view, with the next three start times in the service's time zone."""
    upcoming = next_occurrences(rule_of(schedule), now or utcnow(), 3) if schedule.enabled else []
    return ScheduleRead(
        id=schedule.id, name=schedule.name, playlist=schedule.playlist_id,
        area=schedule.area_code, targets=schedule.target_codes,
        times=list(schedule.times) if schedule.times else None,
        every_minutes=schedule.every_minutes,
        window=list(schedule.window) if schedule.window else None,
        days=list(schedule.days), start_date=schedule.start_date, end_date=schedule.end_date,
        loop=schedule.loop, volume=schedule.volume, enabled=schedule.enabled,
        slot_volumes=dict(schedule.slot_volumes or {}),
        skip_dates=[date.fromisoformat(d) for d in schedule.skip_dates or ()],
        extra_dates=[date.fromisoformat(d) for d in schedule.extra_dates or ()],
        lunar_days=list(schedule.lunar_days or ()), day_types=list(schedule.day_types or ()),
        skip_day_types=list(schedule.skip_day_types or ()),
        created_by=schedule.created_by, created_at=schedule.created_at,
        updated_at=schedule.updated_at, next_occurrences=[_local(t) for t in upcoming],
    )


# ---------------------------------------------------------------- validation


def _check_targets(session: Session, principal: Principal, codes: list[str]) -> list[Area]:
    if len(set(codes)) != len(codes):
        raise InvalidInput("targets: an area is listed twice", code="invalid_targets")
    areas = _target_areas(session, codes)
    unknown = [c for c in codes if c not in {a.code for a in areas}]
    if unknown:
        raise InvalidInput(f"targets: unknown area(s) {', '.join(map(repr, unknown))}",
                           code="unknown_target", targets=unknown)
    outside = [a.code for a in areas if not principal.covers(a.path)]
    if outside:
        raise Forbidden(f"targets outside your area: {', '.join(map(repr, outside))}")
    return areas


def _check_quiet_hours(rule: Rule) -> None:
    settings = get_settings()
    inside = quiet_time_violations(rule, settings.quiet)
    if inside:
        raise InvalidInput(
            f"{', '.join(inside)} {'is' if len(inside) == 1 else 'are'} inside quiet hours "
            f"({settings.quiet_hours}); routine broadcasts may not be scheduled then",
            code="quiet_hours", times=inside,
        )


def _check_playlist(session: Session, principal: Principal, playlist_id: str) -> None:
    playlist = session.get(Playlist, playlist_id)
    if playlist is None:
        raise InvalidInput(f"playlist {playlist_id!r} does not exist", code="unknown_playlist")
    area = session.get(Area, playlist.area_code)
    if not principal.covers(area.path if area is not None else None):
        raise Forbidden(f"playlist {playlist_id!r} belongs to an area outside yours")
    unapproved = unapproved_items(session, playlist_id)
    if unapproved:
        raise AppError(
            f"playlist {playlist_id!r} holds content that was never approved: "
            f"{', '.join(map(str, unapproved))}",
            code="unapproved_content", status=409, items=list(unapproved),
        )


def _check_self_overlap(rule: Rule, length: timedelta, now: datetime) -> None:
    if length <= timedelta(0) or rule.every_minutes is None:
        return
    if self_overlaps(rule, length.total_seconds(), now, now + timedelta(days=8)):
        minutes = length.total_seconds() / 60
        raise InvalidInput(
            f"every_minutes {rule.every_minutes} is shorter than one slot "
            f"(loop × playlist = {minutes:.1f} min): the slots would overlap each other",
            code="slots_overlap",
        )


def _comparison_window(a: Rule, b: Rule, now: datetime) -> tuple[datetime, datetime] | None:
    """Eight days from when both rules are first active: rules repeat weekly after that. A
    rule that follows the calendar (lunar days, day types, dates) repeats over no week, so a
    year ahead is compared then."""
    zone = get_settings().tz
    first = max([now.astimezone(zone).date(), *(d for d in (a.start_date, b.start_date) if d)])
    calendar = a.follows_calendar or b.follows_calendar
    last = first + timedelta(days=_CALENDAR_COMPARISON_DAYS if calendar else 8)
    ends = [d for d in (a.end_date, b.end_date) if d]
    if ends:
        last = min(last, min(ends) + timedelta(days=1))
    if last <= first:
        return None
    start = max(now, datetime.combine(first, time.min, zone))
    return start, datetime.combine(last, time.min, zone)


def _villages_at(session: Session, areas: list[Area]) -> dict[str, str]:
    """Village code → path for the villages in or under ``areas``."""
    found: dict[str, str] = {}
    for area in areas:
        # An exact prefix range on the indexed path ("_" in codes is no LIKE wildcard here).
        stmt = select(Area.code, Area.path).where(Area.level == "village", or_(
            Area.path == area.path,
            and_(Area.path >= area.path + "/", Area.path < area.path + "0")))
        found.update({code: path for code, path in session.execute(stmt)})
    return found


def _others_by_village(
    session: Session, villages: dict[str, str], exclude: str | None
) -> dict[str, list[str]]:
    """Other enabled schedules → the villages of ``villages`` they also play in."""
    stmt = (select(ScheduleTarget.schedule_id, Area.path).join(Area)
            .join(Schedule, Schedule.id == ScheduleTarget.schedule_id)
            .where(Schedule.enabled.is_(True)))
    if exclude:
        stmt = stmt.where(Schedule.id != exclude)
    shared: dict[str, set[str]] = {}
    for schedule_id, target_path in session.execute(stmt):
        for code, path in villages.items():
            if path == target_path or path.startswith(target_path + "/"):
                shared.setdefault(schedule_id, set()).add(code)
    return {sid: sorted(codes) for sid, codes in shared.items()}


def _find_conflicts(session: Session, rule: Rule, length: timedelta, areas: list[Area],
                    exclude: str | None, now: datetime) -> list[dict[str, Any]]:
    conflicts: list[dict[str, Any]] = []
    villages = _villages_at(session, areas)
    for other_id, shared in sorted(_others_by_village(session, villages, exclude).items()):
        other = session.get(Schedule, other_id)
        assert other is not None
        other_rule = rule_of(other)
        window = _comparison_window(rule, other_rule, now)
        if window is None:
            continue
        starts = slot_conflicts(rule, length.total_seconds(), other_rule,
                                slot_length(session, other).total_seconds(), *window)
        conflicts += [{"village": v, "schedule": other.id, "schedule_name": other.name,
                       "start_at": _local(s).isoformat()} for s in starts for v in shared]
    return sorted(conflicts, key=lambda c: (c["start_at"], c["village"], c["schedule"]))


def _check_conflicts(session: Session, draft: _Draft, rule: Rule, length: timedelta,
                     areas: list[Area], exclude: str | None, now: datetime) -> None:
    if not draft.enabled or length <= timedelta(0):
        return
    conflicts = _find_conflicts(session, rule, length, areas, exclude, now)
    if not conflicts:
        return
    names = sorted({c["schedule_name"] for c in conflicts})
    first = conflicts[0]
    raise ScheduleConflict(
        f"{len(conflicts)} slot(s) overlap schedule(s) {', '.join(map(repr, names))} "
        f"in a shared village (first: {first['village']} at {first['start_at']})",
        conflicts=conflicts[:MAX_CONFLICTS_LISTED], conflicts_total=len(conflicts),
    )


def _validate(session: Session, principal: Principal, draft: _Draft,
              exclude: str | None, now: datetime) -> tuple[Rule, list[Area]]:
    """Every check of SPEC §6, in the order a user fixes them: 422, 403, 409."""
    rule = draft.rule(session)
    _check_quiet_hours(rule)
    areas = _check_targets(session, principal, draft.targets)
    _check_playlist(session, principal, draft.playlist)
    length = slot_length(session, draft)
    _check_self_overlap(rule, length, now)
    _check_conflicts(session, draft, rule, length, areas, exclude, now)
    return rule, areas


# ---------------------------------------------------------------- changes


def _common_area(areas: list[Area]) -> str | None:
    """The code of the nearest area containing every one of ``areas`` (None across districts)."""
    parts = [a.path.split("/") for a in areas]
    common: list[str] = []
    for level in zip(*parts, strict=False):
        if len(set(level)) != 1:
            break
        common.append(level[0])
    return common[-1] if common else None


def _store(schedule: Schedule, draft: _Draft, rule: Rule, areas: list[Area]) -> None:
    schedule.name, schedule.playlist_id = draft.name, draft.playlist
    schedule.times = list(rule.times)
    schedule.every_minutes = rule.every_minutes
    schedule.window = list(rule.window) if rule.window else None
    schedule.days = list(rule.days)
    schedule.start_date, schedule.end_date = rule.start_date, rule.end_date
    schedule.loop, schedule.volume, schedule.enabled = draft.loop, draft.volume, draft.enabled
    schedule.slot_volumes = dict(draft.slot_volumes) if rule.every_minutes is None else {}
    schedule.skip_dates = sorted({d.isoformat() for d in draft.skip_dates})
    schedule.extra_dates = sorted(d.isoformat() for d in rule.extra_dates)
    schedule.lunar_days = list(rule.lunar_days)
    schedule.day_types = list(dict.fromkeys(draft.day_types))
    schedule.skip_day_types = list(dict.fromkeys(draft.skip_day_types))
    schedule.area_code = _common_area(areas)
    if schedule.target_codes != draft.targets:
        schedule.targets = [ScheduleTarget(area_code=code, position=i)
                            for i, code in enumerate(draft.targets)]


def _check_name_free(session: Session, name: str, schedule_id: str | None) -> None:
    existing = get_schedule_by_name(session=session, name=name)
    if existing is not None and existing.id != schedule_id:
        raise Conflict(f"a schedule named {name!r} already exists", code="duplicate_name")


def _area_path(session: Session, code: str | None) -> str | None:
    area = session.get(Area, code) if code else None
    return area.path if area else None


def _after_change(session: Session, principal: Principal, schedule: Schedule, action: str,
                  before: dict[str, Any] | None, now: datetime) -> None:
    reissue_schedule(session, schedule.id, now=now)
    after = to_read(session, schedule, now).model_dump(exclude={"next_occurrences"})
    record(session=session, actor=principal.actor, action=action, entity="schedule",
           entity_id=schedule.id, area_path=_area_path(session, schedule.area_code),
           before=before, after=after)
    emit(session, "schedule.changed", schedule_id=schedule.id)


def _lunar_days(value: list[int] | str | None) -> list[int]:
    try:
        return list(parse_lunar_days(value)) if value is not None else []
    except ValueError as exc:
        raise InvalidInput(f"lunar_days: {exc}", code="invalid_rule") from None


def create_schedule(*, session: Session, principal: Principal, data: ScheduleCreate) -> Schedule:
    """Validate and store a schedule, and issue its orders up to the horizon."""
    now = utcnow()
    times, volumes = split_times(data.times)
    draft = _Draft(
        name=data.name, playlist=data.playlist, targets=list(data.targets), times=times,
        every_minutes=data.every_minutes, window=data.window, days=list(data.days or _ALL_DAYS),
        start_date=data.start_date, end_date=data.end_date, loop=data.loop or 1,
        volume=data.volume, enabled=True if data.enabled is None else data.enabled,
        slot_volumes=volumes, skip_dates=list(data.skip_dates or ()),
        extra_dates=list(data.extra_dates or ()), lunar_days=_lunar_days(data.lunar_days),
        day_types=list(data.day_types or ()), skip_day_types=list(data.skip_day_types or ()),
    )
    rule, areas = _validate(session, principal, draft, None, now)
    _check_name_free(session, draft.name, None)
    schedule = Schedule(created_by=principal.actor, targets=[])
    _store(schedule, draft, rule, areas)
    session.add(schedule)
    session.flush()
    _after_change(session, principal, schedule, "create", None, now)
    return schedule



def _draft_of(schedule: Schedule) -> _Draft:
    return _Draft(
        name=schedule.name, playlist=schedule.playlist_id, targets=schedule.target_codes,
        times=list(schedule.times) or None, every_minutes=schedule.every_minutes,
        window=list(schedule.window) if schedule.window else None, days=list(schedule.days),
        start_date=schedule.start_date, end_date=schedule.end_date, loop=schedule.loop,
        volume=schedule.volume, enabled=schedule.enabled,
        slot_volumes=dict(schedule.slot_volumes or {}),
        skip_dates=[date.fromisoformat(d) for d in schedule.skip_dates or ()],
        extra_dates=[date.fromisoformat(d) for d in schedule.extra_dates or ()],
        lunar_days=list(schedule.lunar_days or ()), day_types=list(schedule.day_types or ()),
        skip_day_types=list(schedule.skip_day_types or ()),
    )


_LISTS = ("skip_dates", "extra_dates", "day_types", "skip_day_types")


def _apply_update(draft: _Draft, data: ScheduleUpdate) -> _Draft:
    given = data.model_fields_set
    if "times" in given and data.times is not None:
        draft.every_minutes, draft.window = None, None  # switching to fixed times
    if "every_minutes" in given and data.every_minutes is not None:
        draft.times, draft.slot_volumes = None, {}
    for name in given:
        value = getattr(data, name)
        if name in ("days", "loop", "enabled", "name", "playlist", "targets") and value is None:
            continue  # null means "unchanged" for fields that cannot be empty
        if name == "times":
            draft.times, draft.slot_volumes = split_times(value)
        elif name == "lunar_days":
            draft.lunar_days = _lunar_days(value)
        elif name in _LISTS:
            setattr(draft, name, list(value or ()))  # null empties the list
        else:
            setattr(draft, name, list(value) if isinstance(value, list) else value)
    return draft


def update_schedule(
    *, session: Session, principal: Principal, schedule_id: str, data: ScheduleUpdate
) -> Schedule:
    """Change a schedule (same checks as creating) and re-issue its future orders."""
    now = utcnow()
    schedule = _get_schedule_for_writing(session, principal, schedule_id)
    before = to_read(session, schedule, now).model_dump(exclude={"next_occurrences"})
    draft = _apply_update(_draft_of(schedule), data)
    rule, areas = _validate(session, principal, draft, schedule.id, now)
    _check_name_free(session, draft.name, schedule.id)
    _store(schedule, draft, rule, areas)
    session.flush()
    _after_change(session, principal, schedule, "update", before, now)
    return schedule


def delete_schedule(*, session: Session, principal: Principal, schedule_id: str) -> None:
    """Delete a schedule; its future orders are withdrawn, past ones stay in the record."""
    now = utcnow()
    schedule = _get_schedule_for_writing(session, principal, schedule_id)
    before = to_read(session, schedule, now).model_dump(exclude={"next_occurrences"})
    area_path = _area_path(session, schedule.area_code)
    withdraw_future_orders(session, schedule.id, now=now)
    session.delete(schedule)
    session.flush()
    record(session=session, actor=principal.actor, action="delete", entity="schedule",
           entity_id=schedule_id, area_path=area_path, before=before)
    emit(session, "schedule.changed", schedule_id=schedule_id)


# ---------------------------------------------------------------- usage guards


def schedules_using_day_type(session: Session, name: str) -> list[str]:
    """Ids of the schedules that follow or skip the day type (JSON lists, read in Python)."""
    rows = session.execute(select(Schedule.id, Schedule.day_types, Schedule.skip_day_types)
                           .order_by(Schedule.id))
    return [sid for sid, follow, skip in rows if name in (follow or ()) or name in (skip or ())]


def schedules_targeting_area(session: Session, area: Area) -> str | None:
    """Why ``area`` is still in use by schedules (an area usage check), or None."""
    names = list(session.scalars(
        select(Schedule.name).join(ScheduleTarget)
        .where(ScheduleTarget.area_code == area.code).order_by(Schedule.name).limit(3)
    ))
    return f"targeted by schedule(s) {', '.join(map(repr, names))}" if names else None


def schedules_playing_playlist(session: Session, playlist: Any) -> str | None:
    """Why ``playlist`` is still in use by schedules (a playlist usage check), or None."""
    playlist_id = playlist if isinstance(playlist, str) else playlist.id
    names = list(session.scalars(
        select(Schedule.name).where(Schedule.playlist_id == playlist_id)
        .order_by(Schedule.name).limit(3)
    ))
    return f"used by schedule(s) {', '.join(map(repr, names))}" if names else None

