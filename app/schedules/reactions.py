"""How schedules follow the rest of the service: new or moved villages, playlists, content,
the village calendar.

Each reaction runs inside the transaction of the change that caused it (:mod:`app.wiring` says
which event calls which), so the re-issued orders and the bumped program versions commit
together with that change and terminals see it on their next long-poll answer.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.areas.models import Area
from app.playlists.service import playlists_using_announcement
from app.schedules.issuing import issue_village, issue_villages, reissue_schedules, village_codes
from app.schedules.models import Schedule, ScheduleTarget
from app.schedules.service import schedules_using_day_type

__all__ = ["on_area_created", "on_areas_created", "on_area_moved", "on_playlist_changed",
           "on_content_changed", "on_day_type_changed"]


def on_area_created(session: Session, area: Area, **_: object) -> None:
    """A new village under a targeted town or district gets its orders at once."""
    if area.level == "village":
        issue_village(session, area)


def on_areas_created(session: Session, villages: list[tuple[str, str]], **_: object) -> None:
    """New villages (an import's chunk, as (code, path)) get their orders at once."""
    if villages:
        issue_villages(session, villages)


def on_area_moved(session: Session, area: Area, old_path: str, **_: object) -> None:
    """A village (or a town with its villages) moved: the schedules of the areas it left and
    of those it joined are re-issued — orders of the old town's schedules are withdrawn,
    the new town's are issued, in the same transaction as the move."""
    # Areas above both (the district of a move between its towns) keep covering it.
    above = (set(old_path.split("/")) ^ set(area.path.split("/"))) - {area.code}
    schedule_ids = list(session.scalars(
        select(Schedule.id).where(
            Schedule.enabled.is_(True),
            Schedule.id.in_(select(ScheduleTarget.schedule_id)
                            .where(ScheduleTarget.area_code.in_(above))))
        .order_by(Schedule.id)
    ))
    if schedule_ids:  # only the moved villages' orders change
        reissue_schedules(session, schedule_ids, villages=village_codes(session, [area.code]))


def _reissue(session: Session, schedule_ids: list[str]) -> None:
    if schedule_ids:
        reissue_schedules(session, schedule_ids)


def on_playlist_changed(session: Session, playlist_id: str, **_: object) -> None:
    """A playlist's items changed: the schedules playing it get the new media."""
    _reissue(session, list(session.scalars(
        select(Schedule.id).where(Schedule.playlist_id == playlist_id, Schedule.enabled.is_(True))
        .order_by(Schedule.id)
    )))


def on_content_changed(session: Session, announcement_id: str, **_: object) -> None:
    """An announcement's new revision is approved or its audio is ready: refresh the media."""
    playlists = playlists_using_announcement(session, announcement_id)
    if playlists:
        _reissue(session, list(session.scalars(
            select(Schedule.id).where(Schedule.playlist_id.in_(playlists),
                                      Schedule.enabled.is_(True)).order_by(Schedule.id)
        )))


def on_day_type_changed(session: Session, day_type: str, **_: object) -> None:
    """A day type's dates changed: the schedules following or skipping it are re-issued."""
    _reissue(session, schedules_using_day_type(session, day_type))
