"""Announcement rules: immutable revisions, the review workflow, area scoping, audio state.

Every change of content makes a new revision (``PATCH``, a new recording); a revision's
title, body and recording never change afterwards, only its review state and its audio.
The workflow runs on the newest revision: draft → pending_review → approved | rejected.
Playlists play each announcement's newest *approved* revision, so an edit under review
never reaches a loudspeaker before it is approved.
"""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.announcements.models import Announcement, Revision
from app.announcements.queue import enqueue_render, set_audio_ready
from app.announcements.schemas import (
    AnnouncementCreate,
    AnnouncementRead,
    AnnouncementUpdate,
    AudioRead,
    RecordingRead,
    RevisionRead,
)
from app.areas.models import Area
from app.areas.service import get_area_in_scope
from app.audit.service import record
from app.auth.permissions import Principal
from app.auth.scope import within
from app.db import utcnow
from app.errors import Conflict, Forbidden, NotFound
from app.media.models import MediaFile
from app.media.service import media_url
from app.pagination import matching
from app.rendering.lexicon import strip_hints
from app.runtime.events import emit

__all__ = [
    "get_announcement",
    "get_revision",
    "current_revision",
    "last_approved_revision",
    "create_announcement",
    "update_announcement",
    "attach_recording",
    "detach_recording",
    "submit",
    "approve",
    "reject",
    "request_render",
    "list_announcements",
    "list_revisions",
    "to_read",
    "revision_read",
    "audio_read",
    "announcements_in_area",
    "rerender_saying",
    "on_pronunciation_changed",
]


# ---------------------------------------------------------------- lookups


def get_announcement(*, session: Session, principal: Principal,
                     announcement_id: str) -> Announcement:
    """The announcement if the principal's area covers it: 404 unknown, 403 outside."""
    announcement = session.get(Announcement, announcement_id)
    if announcement is None:
        raise NotFound(f"announcement {announcement_id!r} does not exist")
    area = session.get(Area, announcement.area_code)
    if not principal.covers(area.path if area else None):
        raise Forbidden(f"announcement {announcement_id!r} belongs to an area outside yours")
    return announcement


def get_revision(session: Session, announcement_id: str, number: int) -> Revision | None:
    """Revision ``number`` of an announcement, or None."""
    return session.scalar(
        select(Revision).where(Revision.announcement_id == announcement_id,
                               Revision.number == number)
    )


def current_revision(session: Session, announcement: Announcement) -> Revision:
    """The newest revision: the one the workflow acts on."""
    revision = get_revision(session, announcement.id, announcement.current_revision)
    assert revision is not None  # an announcement is created with its first revision
    return revision


def last_approved_revision(session: Session, announcement_id: str) -> Revision | None:
    """The newest approved revision (what plays), or None if none was ever approved."""
    return session.scalar(
        select(Revision)
        .where(Revision.announcement_id == announcement_id, Revision.status == "approved")
        .order_by(Revision.number.desc()).limit(1)
    )


# ---------------------------------------------------------------- reading


def audio_read(session: Session, revision: Revision) -> AudioRead | None:
    """The revision's audio state: None before any render, else pending / ready / failed."""
    if revision.audio_status is None:
        return None
    if revision.audio_status == "ready" and revision.audio_sha256:
        media = session.get(MediaFile, revision.audio_sha256)
        if media is not None:
            return AudioRead(status="ready", sha256=media.sha256, url=media_url(media.sha256),
                             duration_ms=media.duration_ms, loudness_lufs=media.loudness_lufs)
    if revision.audio_status == "failed":
        return AudioRead(status="failed", error=revision.audio_error)
    return AudioRead(status="pending")


def _recording_read(session: Session, revision: Revision) -> RecordingRead | None:
    if revision.recording_sha256 is None:
        return None
    media = session.get(MediaFile, revision.recording_sha256)
    if media is None:
        return None
    return RecordingRead(sha256=media.sha256, url=media_url(media.sha256),
                         duration_ms=media.duration_ms)


def revision_read(session: Session, revision: Revision) -> RevisionRead:
    """The client view of one revision."""
    return RevisionRead(
        revision=revision.number, title=revision.title, body=revision.body,
        category=revision.category, status=revision.status,  # type: ignore[arg-type]
        author=revision.author, created_at=revision.created_at,
        submitted_by=revision.submitted_by, submitted_at=revision.submitted_at,
        reviewed_by=revision.reviewed_by, reviewed_at=revision.reviewed_at,
        reject_reason=revision.reject_reason, recording=_recording_read(session, revision),
        audio=audio_read(session, revision),
    )


def to_read(session: Session, announcement: Announcement,
            revision: Revision | None = None) -> AnnouncementRead:
    """The client view of an announcement: its newest revision and the newest approved one."""
    revision = revision or current_revision(session, announcement)
    approved = (revision.number if revision.status == "approved"
                else getattr(last_approved_revision(session, announcement.id), "number", None))
    return AnnouncementRead(
        id=announcement.id, title=revision.title, body=revision.body,
        display_body=strip_hints(revision.body), area=announcement.area_code,
        category=revision.category,
        status=revision.status,  # type: ignore[arg-type]
        revision=revision.number, audio=audio_read(session, revision),
        recording=_recording_read(session, revision), approved_revision=approved,
        author=revision.author, reject_reason=revision.reject_reason,
        created_at=announcement.created_at, updated_at=announcement.updated_at,
    )


def _snapshot(revision: Revision) -> dict[str, object]:
    """What the audit log keeps of a revision."""
    return {"revision": revision.number, "title": revision.title, "body": revision.body,
            "category": revision.category, "status": revision.status,
            "recording": revision.recording_sha256}


def _audit(session: Session, principal: Principal, action: str, announcement: Announcement,
           before: Revision | dict[str, object] | None, after: Revision | None) -> None:
    area = session.get(Area, announcement.area_code)
    record(session=session, actor=principal.actor, action=action, entity="announcement",
           entity_id=announcement.id, area_path=area.path if area else None,
           before=_snapshot(before) if isinstance(before, Revision) else before,
           after=_snapshot(after) if after is not None else None)


# ---------------------------------------------------------------- writing


def create_announcement(*, session: Session, principal: Principal,
                        data: AnnouncementCreate) -> Announcement:
    """A new announcement in an area the principal covers, with revision 1 as a draft."""
    area = get_area_in_scope(session=session, principal=principal, code=data.area)
    announcement = Announcement(area_code=area.code, current_revision=1, created_by=principal.actor)
    session.add(announcement)
    session.flush()
    revision = _new_revision(session, principal, announcement, number=1, title=data.title,
                             body=data.body, category=data.category, recording=None)
    _audit(session, principal, "create", announcement, None, revision)
    return announcement


def _new_revision(session: Session, principal: Principal, announcement: Announcement, *,
                  number: int, title: str, body: str, category: str | None,
                  recording: str | None) -> Revision:
    revision = Revision(
        announcement_id=announcement.id, number=number, title=title, body=body,
        category=category, recording_sha256=recording, status="draft",
        author_id=principal.id, author=principal.actor,
    )
    session.add(revision)
    announcement.current_revision = number
    announcement.updated_at = utcnow()
    session.flush()
    return revision


def update_announcement(*, session: Session, principal: Principal, announcement_id: str,
                        data: AnnouncementUpdate) -> Announcement:
    """A new draft revision with the changes (the recording carries over); no change: no-op."""
    announcement = get_announcement(session=session, principal=principal,
                                     announcement_id=announcement_id)
    before = current_revision(session, announcement)
    changes = data.model_dump(exclude_unset=True)
    title = changes.get("title") or before.title
    body = changes.get("body") or before.body
    category = changes.get("category", before.category)
    if (title, body, category) == (before.title, before.body, before.category):
        return announcement
    revision = _new_revision(session, principal, announcement, number=before.number + 1,
                             title=title, body=body, category=category,
                             recording=before.recording_sha256)
    if revision.recording_sha256 is not None:
        # A recorded voice is the audio whatever the text says: the new revision keeps it.
        set_audio_ready(session, revision, revision.recording_sha256)
    _audit(session, principal, "update", announcement, before, revision)
    return announcement


def attach_recording(*, session: Session, principal: Principal, announcement_id: str,
                     media: MediaFile) -> Announcement:
    """A new draft revision that plays the recorded voice ``media`` instead of TTS."""
    announcement = get_announcement(session=session, principal=principal,
                                     announcement_id=announcement_id)
    before = current_revision(session, announcement)
    revision = _new_revision(session, principal, announcement, number=before.number + 1,
                             title=before.title, body=before.body, category=before.category,
                             recording=media.sha256)
    set_audio_ready(session, revision, media.sha256)
    _audit(session, principal, "recording", announcement, before, revision)
    return announcement


def detach_recording(*, session: Session, principal: Principal,
                     announcement_id: str) -> Announcement:
    """A new draft revision without the recording: the script is spoken by TTS again."""
    announcement = get_announcement(session=session, principal=principal,
                                    announcement_id=announcement_id)
    before = current_revision(session, announcement)
    if before.recording_sha256 is None:
        raise Conflict("the announcement has no recording")
    revision = _new_revision(session, principal, announcement, number=before.number + 1,
                             title=before.title, body=before.body, category=before.category,
                             recording=None)
    _audit(session, principal, "remove_recording", announcement, before, revision)
    return announcement


def _transition(session: Session, principal: Principal, announcement_id: str,
                allowed: tuple[str, ...], action: str) -> tuple[Announcement, Revision]:
    announcement = get_announcement(session=session, principal=principal,
                                    announcement_id=announcement_id)
    revision = current_revision(session, announcement)
    if revision.status not in allowed:
        raise Conflict(
            f"revision {revision.number} is {revision.status}; it cannot be {action}",
            status_now=revision.status,
        )
    return announcement, revision


def submit(*, session: Session, principal: Principal, announcement_id: str) -> Announcement:
    """Send the newest revision (a draft) for review."""
    announcement, revision = _transition(session, principal, announcement_id, ("draft",),
                                         "submitted")
    before = _snapshot(revision)
    revision.status, revision.submitted_by, revision.submitted_at = (
        "pending_review", principal.actor, utcnow())
    _audit(session, principal, "submit", announcement, before, revision)
    return announcement


def _check_not_author(principal: Principal, revision: Revision) -> None:
    if revision.author_id == principal.id:
        raise Forbidden("you wrote this revision; another reviewer must approve it")


def approve(*, session: Session, principal: Principal, announcement_id: str) -> Announcement:
    """Approve the revision under review (never by its author) and have it rendered."""
    announcement, revision = _transition(session, principal, announcement_id,
                                         ("pending_review",), "approved")
    _check_not_author(principal, revision)
    before = _snapshot(revision)
    revision.status, revision.reviewed_by, revision.reviewed_at = (
        "approved", principal.actor, utcnow())
    revision.reject_reason = None
    _audit(session, principal, "approve", announcement, before, revision)
    emit(session, "announcement.approved", announcement_id=announcement.id)
    if revision.audio_status == "ready" and revision.audio_sha256:
        # Rendered before approval (a recording, or a preview): it is ready to play now.
        set_audio_ready(session, revision, revision.audio_sha256)
    elif revision.audio_status != "pending":
        enqueue_render(session, revision)
    return announcement


def reject(*, session: Session, principal: Principal, announcement_id: str,
           reason: str) -> Announcement:
    """Send the revision under review back to its author, with the reason."""
    announcement, revision = _transition(session, principal, announcement_id,
                                         ("pending_review",), "rejected")
    before = _snapshot(revision)
    revision.status, revision.reviewed_by, revision.reviewed_at = (
        "rejected", principal.actor, utcnow())
    revision.reject_reason = reason
    _audit(session, principal, "reject", announcement, before,
           revision)
    return announcement


def request_render(*, session: Session, principal: Principal,
                   announcement_id: str) -> Announcement:
    """Render the newest revision now (a preview before approval, or again after a failure)."""
    announcement = get_announcement(session=session, principal=principal,
                                    announcement_id=announcement_id)
    revision = current_revision(session, announcement)
    if revision.recording_sha256 is not None:
        set_audio_ready(session, revision, revision.recording_sha256)
        return announcement
    enqueue_render(session, revision)
    _audit(session, principal, "render", announcement, None, revision)
    return announcement


# ---------------------------------------------------------------- lists


def list_announcements(*, session: Session, principal: Principal, area: str | None = None,
                       status: str | None = None, q: str | None = None) -> Select[Announcement]:
    """Announcements in the principal's area (or in ``area``), optionally by status and by
    words in the current revision's title, category or script."""
    stmt = (
        select(Announcement)
        .join(Area, Area.code == Announcement.area_code)
        .join(Revision, (Revision.announcement_id == Announcement.id)
              & (Revision.number == Announcement.current_revision))
    )
    if area is not None:
        found = get_area_in_scope(session=session, principal=principal, code=area)
        stmt = stmt.where(within(Area.path, found.path))
    elif principal.area_path is not None:
        stmt = stmt.where(within(Area.path, principal.area_path))
    if status is not None:
        stmt = stmt.where(Revision.status == status)
    if (words := matching(q, Revision.title, Revision.category, Revision.body)) is not None:
        stmt = stmt.where(words)
    return stmt.order_by(Announcement.updated_at.desc(), Announcement.id.desc())


def list_revisions(*, session: Session, principal: Principal,
                   announcement_id: str) -> Select[Revision]:
    """Every revision of an announcement, newest first."""
    get_announcement(session=session, principal=principal, announcement_id=announcement_id)
    return (select(Revision).where(Revision.announcement_id == announcement_id)
            .order_by(Revision.number.desc()))


def announcements_in_area(session: Session, area: Area) -> str | None:
    """Why ``area`` is still in use by announcements (an area usage check), or None."""
    found = session.scalar(select(func.count()).select_from(Announcement)
                           .where(Announcement.area_code == area.code))
    return f"{found} announcement(s) belong to it" if found else None


# ---------------------------------------------------------------- pronunciations


def rerender_saying(session: Session, area_path: str, words: set[str]) -> list[str]:
    """Queue a render of every approved announcement in the area at ``area_path`` (or below)
    saying a word; the ids of those queued.

    The audio now playing stays until the new one is ready; then the schedules playing it
    get the new audio (``announcement.audio_ready``), as after any render.
    """
    announcements = session.scalars(
        select(Announcement).join(Area, Area.code == Announcement.area_code)
        .where(within(Area.path, area_path)).order_by(Announcement.id)
    )
    queued = []
    for announcement in announcements:
        revision = last_approved_revision(session, announcement.id)
        if revision is None or revision.recording_sha256 is not None:
            continue
        if any(word in revision.body for word in words):
            enqueue_render(session, revision, keep_audio=True)
            queued.append(announcement.id)
    return queued


def on_pronunciation_changed(session: Session, area_path: str, words: set[str],
                             rerendering: list[str], **_: object) -> None:
    """An entry of the area's lexicon changed: what says its word is rendered again (the ids
    go into the event's ``rerendering``, which the pronunciation's answer lists)."""
    rerendering.extend(rerender_saying(session, area_path, words))
