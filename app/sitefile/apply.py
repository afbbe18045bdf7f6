"""Schedule files: ``cunxiang apply FILE.yaml`` creates or updates what a file describes, and
``cunxiang export`` writes the current state back out in the same format.

A file has these optional lists, applied in this order, all in one transaction (any error:
nothing changes); ``users``, ``crews`` and ``speakers`` are described in
:mod:`app.sitefile.people` (``export`` leaves them out)::

    areas:          [{code, name, level, parent?}]
    day_types:      [{name, description?, dates}]                # the shared village calendar
    users:          [{username, password, role, area?, name?}]
    crews:          [{name, towns, members}]
    announcements:  [{title, area, category?, body | file}]   # file: relative to the YAML
    playlists:      [{name, area, items, chime?, gap_ms?}]    # items: {announcement: TITLE}
                                                              #  | {media: SHA} | {silence_ms: N}
    schedules:      [{name, playlist: NAME, targets, times | every_minutes + window,
                      days?, start_date?, end_date?, loop?, volume?, enabled?,
                      skip_dates?, extra_dates?, lunar_days?, day_types?, skip_day_types?}]
                      # a time is "07:00" or {at: "07:00", volume: 40}; lunar_days may
                      # be a phrase like 逢三六九
    speakers:       [{serial, village, name?, location?, lat?, lon?}]

Applying is idempotent: areas are matched by code, announcements by area and title,
playlists by area and name, schedules and crews by name, users by username, speakers by
serial; what already matches is left alone, so a second run changes nothing. Every change
goes through the same service functions (and checks) as the API, so a file cannot hold what
the API would refuse.

Announcements in a file are authored by the system (actor ``system:apply``) and approved by
the system (actor ``system:cunxiang``): whoever may run ``cunxiang apply`` on the server is
accountable for their text, as the audit log shows. A changed text becomes a new revision,
approved at once. ``export`` writes only approved content (the newest approved revision of
each announcement), so exporting and applying elsewhere never approves an unreviewed draft.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.announcements.models import Announcement, Revision
from app.announcements.schemas import AnnouncementCreate, AnnouncementUpdate
from app.announcements.service import (
    approve,
    create_announcement,
    current_revision,
    last_approved_revision,
    submit,
    update_announcement,
)
from app.areas.models import LEVELS, Area
from app.areas.schemas import AreaCreate, AreaUpdate
from app.areas.service import create_area, update_area
from app.auth.permissions import SYSTEM
from app.daytypes import service as day_types
from app.daytypes.models import DayType
from app.daytypes.schemas import DayTypeCreate, DayTypeUpdate
from app.errors import AppError, InvalidInput
from app.playlists.models import Playlist
from app.playlists.schemas import PlaylistCreate, PlaylistUpdate
from app.playlists.service import create_playlist, update_playlist
from app.schedules import service as schedules
from app.schedules.calendar_days import split_times
from app.schedules.lunar import parse_lunar_days
from app.schedules.models import Schedule
from app.schedules.schemas import ScheduleCreate, ScheduleUpdate, SlotTime
from app.sitefile.people import (
    CrewEntry,
    SpeakerEntry,
    UserEntry,
    apply_crew,
    apply_speaker,
    apply_user,
)

__all__ = [
    "ScheduleFile",
    "ApplyReport",
    "ApplyError",
    "FILE_AUTHOR",
    "load_schedule_file",
    "apply_schedule_file",
    "export_schedule_file",
    "dump_yaml",
    "queued_renders",
    "render_queued_audio",
]

# Who wrote announcements that come from a file (SYSTEM, a different principal, approves them).
FILE_AUTHOR = replace(SYSTEM, id="system-apply", name="apply")

Progress = Callable[[str], None]


class ApplyError(InvalidInput):
    """A schedule file that cannot be applied; the message names the entry and the reason."""

    code = "invalid_schedule_file"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AreaEntry(_Strict):
    """An area of the file."""

    code: str
    name: str
    level: Literal["district", "town", "village"]
    parent: str | None = None
    division_code: str | None = None


class AnnouncementEntry(_Strict):
    """An announcement: its script inline (``body``) or in a text file (``file``)."""

    title: str
    area: str
    category: str | None = None
    body: str | None = None
    file: str | None = None

    @model_validator(mode="after")
    def _one_text(self) -> AnnouncementEntry:
        if (self.body is None) == (self.file is None):
            raise ValueError("give the script either inline (body) or as a file (file)")
        return self


class PlaylistEntry(_Strict):
    """A playlist; announcement items name the announcement by its title."""

    name: str
    area: str
    items: list[dict[str, Any]] = Field(min_length=1)
    chime: Literal["default"] | None = None
    gap_ms: int = 800


class ScheduleEntry(_Strict):
    """A schedule; its playlist is named, not given by id."""

    name: str
    playlist: str
    targets: list[str]
    times: list[str | SlotTime] | None = None
    every_minutes: int | None = None
    window: list[str] | None = None
    days: list[str] | None = None
    start_date: date | None = None
    end_date: date | None = None
    loop: int = 1
    volume: int | None = None
    enabled: bool = True
    skip_dates: list[date] | None = None
    extra_dates: list[date] | None = None
    lunar_days: list[int] | str | None = None
    day_types: list[str] | None = None
    skip_day_types: list[str] | None = None


class DayTypeEntry(_Strict):
    """A day type and its dates."""

    name: str
    description: str | None = None
    dates: list[date] = []


class ScheduleFile(_Strict):
    """The whole file."""

    areas: list[AreaEntry] = []
    day_types: list[DayTypeEntry] = []
    users: list[UserEntry] = []
    crews: list[CrewEntry] = []
    announcements: list[AnnouncementEntry] = []
    playlists: list[PlaylistEntry] = []
    schedules: list[ScheduleEntry] = []
    speakers: list[SpeakerEntry] = []

    @property
    def size(self) -> int:
        """How many entries the file holds."""
        return (len(self.areas) + len(self.day_types) + len(self.users) + len(self.crews)
                + len(self.announcements) + len(self.playlists) + len(self.schedules)
                + len(self.speakers))


@dataclass
class ApplyReport:
    """What applying a file did, per kind: created, updated, unchanged."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # new speakers' tokens, by serial

    def note(self, kind: str, outcome: str) -> None:
        """Count one entry's outcome."""
        self.counts.setdefault(kind, {"created": 0, "updated": 0, "unchanged": 0})[outcome] += 1

    def summary(self) -> str:
        """One line per kind."""
        return "\n".join(
            f"{kind}: {c['created']} created, {c['updated']} updated, {c['unchanged']} unchanged"
            for kind, c in self.counts.items()
        )


# ---------------------------------------------------------------- reading a file


def load_schedule_file(path: Path) -> tuple[ScheduleFile, Path]:
    """Parse and validate a schedule file; scripts named by ``file`` are read from its folder."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ApplyError(f"{path}: {exc}") from None
    if not isinstance(raw, dict):
        raise ApplyError(f"{path}: expected a mapping with areas, announcements, playlists, "
                         "schedules")
    try:
        document = ScheduleFile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ApplyError(f"{path}: {problems}") from None
    return document, path.parent


def _script(entry: AnnouncementEntry, base: Path) -> str:
    if entry.body is not None:
        return entry.body.strip()
    assert entry.file is not None
    try:
        return (base / entry.file).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ApplyError(f"announcement {entry.title!r}: cannot read {entry.file}: {exc}") from None


# ---------------------------------------------------------------- applying


def _apply_area(session: Session, entry: AreaEntry) -> str:
    existing = session.get(Area, entry.code)
    if existing is None:
        create_area(session=session, principal=SYSTEM, data=AreaCreate(
            code=entry.code, name=entry.name, level=entry.level, parent=entry.parent,
            division_code=entry.division_code))
        return "created"
    if existing.level != entry.level:
        raise ApplyError(f"{entry.code!r} exists as a {existing.level}, not a {entry.level}")
    wanted = AreaUpdate(name=entry.name, parent=entry.parent, division_code=entry.division_code)
    if (existing.name, existing.parent_code, existing.division_code) == (
            wanted.name, wanted.parent, wanted.division_code):
        return "unchanged"
    update_area(session=session, principal=SYSTEM, code=entry.code, data=wanted)
    return "updated"


def find_announcement(session: Session, area: str, title: str) -> Announcement | None:
    """The area's announcement whose newest (or newest approved) revision has this title."""
    candidates = session.scalars(
        select(Announcement).where(Announcement.area_code == area, Announcement.id.in_(
            select(Revision.announcement_id).where(Revision.title == title)))
        .order_by(Announcement.created_at, Announcement.id)
    ).all()
    found = []
    for announcement in candidates:
        approved = last_approved_revision(session, announcement.id)
        if title in (current_revision(session, announcement).title,
                     approved.title if approved else None):
            found.append(announcement)
    if len(found) > 1:
        raise ApplyError(f"area {area!r} has {len(found)} announcements titled {title!r}")
    return found[0] if found else None


def _approve(session: Session, announcement: Announcement) -> None:
    """Take the newest revision through review as the system (the file is the authority)."""
    revision = current_revision(session, announcement)
    if revision.status == "rejected":
        raise ApplyError(f"revision {revision.number} with this text was rejected by "
                         f"{revision.reviewed_by}: change the text in the file")
    if revision.status == "draft":
        submit(session=session, principal=FILE_AUTHOR, announcement_id=announcement.id)
    approve(session=session, principal=SYSTEM, announcement_id=announcement.id)


def _apply_announcement(session: Session, entry: AnnouncementEntry, base: Path) -> str:
    body = _script(entry, base)
    announcement = find_announcement(session, entry.area, entry.title)
    if announcement is None:
        announcement = create_announcement(session=session, principal=FILE_AUTHOR,
                                           data=AnnouncementCreate(title=entry.title, body=body,
                                                                   area=entry.area,
                                                                   category=entry.category))
        _approve(session, announcement)
        return "created"
    newest = current_revision(session, announcement)
    same = (newest.title, newest.body.strip(), newest.category) == (entry.title, body,
                                                                   entry.category)
    if same and newest.status == "approved":
        return "unchanged"
    if not same:
        update_announcement(session=session, principal=FILE_AUTHOR,
                            announcement_id=announcement.id,
                            data=AnnouncementUpdate(title=entry.title, body=body,
                                                    category=entry.category))
    _approve(session, announcement)
    return "updated"


def _find_playlist(session: Session, area: str, name: str) -> Playlist | None:
    found = session.scalars(select(Playlist).where(Playlist.area_code == area,
                                                   Playlist.name == name)).all()
    if len(found) > 1:
        raise ApplyError(f"area {area!r} has {len(found)} playlists named {name!r}")
    return found[0] if found else None


def _playlist_items(session: Session, entry: PlaylistEntry) -> list[dict[str, Any]]:
    items = []
    for item in entry.items:
        if set(item) == {"announcement"}:
            announcement = find_announcement(session, entry.area, str(item["announcement"]))
            if announcement is None:
                raise ApplyError(f"no announcement titled {item['announcement']!r} in area "
                                 f"{entry.area!r}")
            items.append({"announcement": announcement.id})
        else:
            items.append(dict(item))
    return items


def _apply_playlist(session: Session, entry: PlaylistEntry) -> str:
    items = _playlist_items(session, entry)
    playlist = _find_playlist(session, entry.area, entry.name)
    if playlist is None:
        create_playlist(session=session, principal=SYSTEM, data=PlaylistCreate(
            name=entry.name, area=entry.area, items=items, chime=entry.chime,  # type: ignore[arg-type]
            gap_ms=entry.gap_ms))
        return "created"
    current = ([i.as_dict() for i in playlist.items], playlist.chime, playlist.gap_ms)
    if current == (items, entry.chime, entry.gap_ms):
        return "unchanged"
    update_playlist(session=session, principal=SYSTEM, playlist_id=playlist.id,
                    data=PlaylistUpdate(items=items, chime=entry.chime,  # type: ignore[arg-type]
                                        gap_ms=entry.gap_ms))
    return "updated"


def _playlist_by_name(session: Session, name: str) -> str:
    ids = session.scalars(select(Playlist.id).where(Playlist.name == name)).all()
    if len(ids) != 1:
        raise ApplyError(f"{'no' if not ids else len(ids)} playlist(s) named {name!r}")
    return ids[0]


_SCHEDULE_FIELDS = ("times", "every_minutes", "window", "days", "start_date", "end_date",
                    "loop", "volume", "enabled", "slot_volumes", "skip_dates", "extra_dates",
                    "lunar_days", "day_types", "skip_day_types")


def _schedule_state(session: Session, schedule: Schedule) -> dict[str, Any]:
    read = schedules.to_read(session, schedule)
    return {"playlist": read.playlist, "targets": read.targets,
            **{name: getattr(read, name) for name in _SCHEDULE_FIELDS}}


def _wanted_state(entry: ScheduleEntry, playlist_id: str) -> dict[str, Any]:
    times, volumes = split_times(entry.times)
    try:
        lunar = list(parse_lunar_days(entry.lunar_days)) if entry.lunar_days else []
    except ValueError:
        lunar = []  # applying it will say why
    return {"playlist": playlist_id, "targets": entry.targets,
            "times": [f"{int(t.split(':')[0]):02d}:{t.split(':')[1]}" for t in times]
            if times else None,
            "every_minutes": entry.every_minutes, "window": entry.window,
            "days": entry.days or ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "start_date": entry.start_date, "end_date": entry.end_date, "loop": entry.loop,
            "volume": entry.volume, "enabled": entry.enabled, "slot_volumes": volumes,
            "skip_dates": sorted(set(entry.skip_dates or ())),
            "extra_dates": sorted(set(entry.extra_dates or ())), "lunar_days": lunar,
            "day_types": list(dict.fromkeys(entry.day_types or ())),
            "skip_day_types": list(dict.fromkeys(entry.skip_day_types or ()))}


def _apply_schedule(session: Session, entry: ScheduleEntry) -> str:
    playlist_id = _playlist_by_name(session, entry.playlist)
    data = entry.model_dump(exclude={"playlist"}) | {"playlist": playlist_id}
    existing = schedules.get_schedule_by_name(session=session, name=entry.name)
    if existing is None:
        schedules.create_schedule(session=session, principal=SYSTEM,
                                  data=ScheduleCreate.model_validate(data))
        return "created"
    if _schedule_state(session, existing) == _wanted_state(entry, playlist_id):
        return "unchanged"
    schedules.update_schedule(session=session, principal=SYSTEM, schedule_id=existing.id,
                              data=ScheduleUpdate.model_validate(data))
    return "updated"


def _apply_day_type(session: Session, entry: DayTypeEntry) -> str:
    existing = session.get(DayType, entry.name)
    if existing is None:
        day_types.create_day_type(session=session, principal=SYSTEM, data=DayTypeCreate(
            name=entry.name, description=entry.description, dates=entry.dates))
        return "created"
    if (existing.description, {d.day for d in existing.dates}) == (entry.description,
                                                                   set(entry.dates)):
        return "unchanged"
    day_types.update_day_type(session=session, principal=SYSTEM, name=entry.name,
                              data=DayTypeUpdate(description=entry.description,
                                                 dates=entry.dates))
    return "updated"


def _apply_speaker(session: Session, entry: SpeakerEntry, report: ApplyReport) -> str:
    outcome, token = apply_speaker(session, entry)
    if token is not None:
        report.tokens[entry.serial] = token
    return outcome


def _level_order(entry: AreaEntry) -> int:
    return LEVELS.index(entry.level)


def apply_schedule_file(session: Session, document: ScheduleFile, base: Path,
                        progress: Progress | None = None) -> ApplyReport:
    """Create or update everything the file describes, in the caller's transaction."""
    report = ApplyReport()
    steps: list[tuple[str, str, Callable[[], str]]] = []
    for area in sorted(document.areas, key=_level_order):
        steps.append(("areas", area.code, partial(_apply_area, session, area)))
    for day_type in document.day_types:
        steps.append(("day_types", day_type.name, partial(_apply_day_type, session, day_type)))
    for user in document.users:
        steps.append(("users", user.username, partial(apply_user, session, user)))
    for crew in document.crews:
        steps.append(("crews", crew.name, partial(apply_crew, session, crew)))
    for ann in document.announcements:
        steps.append(("announcements", ann.title,
                      partial(_apply_announcement, session, ann, base)))
    for playlist in document.playlists:
        steps.append(("playlists", playlist.name, partial(_apply_playlist, session, playlist)))
    for schedule in document.schedules:
        steps.append(("schedules", schedule.name, partial(_apply_schedule, session, schedule)))
    for speaker in document.speakers:
        steps.append(("speakers", speaker.serial,
                      partial(_apply_speaker, session, speaker, report)))
    for kind, name, step in steps:
        try:
            report.note(kind, step())
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                 for e in exc.errors())
            raise ApplyError(f"{kind} {name!r}: {problems}") from None
        except AppError as exc:
            raise AppError(f"{kind} {name!r}: {exc.message}", code=exc.code, status=exc.status,
                           **exc.extra) from None
        if progress is not None:
            progress(f"{kind} {name}")
    return report


# ---------------------------------------------------------------- exporting


def _export_areas(session: Session) -> list[dict[str, Any]]:
    return [{"code": a.code, "name": a.name, "level": a.level,
             **({"parent": a.parent_code} if a.parent_code else {}),
             **({"division_code": a.division_code} if a.division_code else {})}
            for a in session.scalars(select(Area).order_by(Area.path))]


def _export_announcements(session: Session) -> tuple[list[dict[str, Any]], dict[str, str]]:
    exported, titles = [], {}
    for announcement in session.scalars(select(Announcement).order_by(Announcement.created_at,
                                                                      Announcement.id)):
        approved = last_approved_revision(session, announcement.id)
        if approved is None:
            continue  # never approved: a file must not carry unreviewed text
        titles[announcement.id] = approved.title
        exported.append({"title": approved.title, "area": announcement.area_code,
                         **({"category": approved.category} if approved.category else {}),
                         "body": approved.body})
    return exported, titles


def _export_playlists(session: Session, titles: dict[str, str]) -> list[dict[str, Any]]:
    exported = []
    for playlist in session.scalars(select(Playlist).order_by(Playlist.name, Playlist.id)):
        items = []
        for item in playlist.items:
            entry = item.as_dict()
            if "announcement" in entry:
                if entry["announcement"] not in titles:
                    continue  # left out with its announcement
                entry = {"announcement": titles[str(entry["announcement"])]}
            items.append(entry)
        if items:
            exported.append({"name": playlist.name, "area": playlist.area_code, "items": items,
                             "chime": playlist.chime, "gap_ms": playlist.gap_ms})
    return exported


def _export_schedules(session: Session) -> list[dict[str, Any]]:
    names = {p.id: p.name for p in session.scalars(select(Playlist))}
    exported = []
    for schedule in session.scalars(select(Schedule).order_by(Schedule.name)):
        entry: dict[str, Any] = {"name": schedule.name,
                                 "playlist": names.get(schedule.playlist_id, schedule.playlist_id),
                                 "targets": schedule.target_codes}
        if schedule.every_minutes is None:
            volumes = schedule.slot_volumes or {}
            entry["times"] = [{"at": t, "volume": volumes[t]} if t in volumes else t
                              for t in schedule.times]
        else:
            entry |= {"every_minutes": schedule.every_minutes,
                      "window": list(schedule.window or [])}
        if len(schedule.days) < 7:
            entry["days"] = list(schedule.days)
        for name in ("start_date", "end_date", "volume"):
            if getattr(schedule, name) is not None:
                entry[name] = getattr(schedule, name)
        entry["loop"] = schedule.loop
        for name in ("skip_dates", "extra_dates", "lunar_days", "day_types", "skip_day_types"):
            if getattr(schedule, name):
                entry[name] = list(getattr(schedule, name))
        if not schedule.enabled:
            entry["enabled"] = False
        exported.append(entry)
    return exported


def _export_day_types(session: Session) -> list[dict[str, Any]]:
    return [{"name": d.name, **({"description": d.description} if d.description else {}),
             "dates": [x.day for x in d.dates]}
            for d in session.scalars(select(DayType).order_by(DayType.name))]


def export_schedule_file(session: Session) -> dict[str, Any]:
    """The current areas, day types, approved announcements, playlists and schedules."""
    announcements, titles = _export_announcements(session)
    day_types = _export_day_types(session)
    return {"areas": _export_areas(session), **({"day_types": day_types} if day_types else {}),
            "announcements": announcements,
            "playlists": _export_playlists(session, titles),
            "schedules": _export_schedules(session)}


class _Dumper(yaml.SafeDumper):
    """Block style for long texts, unicode as is."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def dump_yaml(data: dict[str, Any]) -> str:
    """The file's data as YAML (readable Chinese, scripts as blocks)."""
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100)



# ---------------------------------------------------------------- rendering (CLI)


def queued_renders(session: Session) -> int:
    """How many announcement renders wait in the queue."""
    from sqlalchemy import func

    from app.announcements.models import RenderJob

    return session.scalar(select(func.count()).select_from(RenderJob)
                          .where(RenderJob.state == "queued")) or 0


def render_queued_audio(done: Callable[[], None] | None = None) -> list[str]:
    """Render every queued announcement here and now (the CLI has no render worker).

    Each finished render emits ``announcement.audio_ready``, so the schedules playing it get
    their orders issued at once. Returns the reasons of renders that failed.
    """
    from app.announcements.queue import claim_next_job, complete_job, fail_job, new_worker_id
    from app.announcements.render_task import render_revision
    from app.db import session_scope
    from app.rendering import RenderingError

    worker, failures = new_worker_id(), list[str]()
    while True:
        with session_scope() as session:
            claimed = claim_next_job(session, worker_id=worker)
        if claimed is None:
            return failures
        try:
            audio = render_revision(claimed.spec)
        except RenderingError as exc:
            failures.append(exc.message)
            with session_scope() as session:
                fail_job(session, job_id=claimed.job_id, worker_id=worker, reason=exc.message,
                         retry=False)
        else:
            with session_scope() as session:
                complete_job(session, job_id=claimed.job_id, worker_id=worker, audio=audio)
        if done is not None:
            done()
