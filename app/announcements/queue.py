"""The render queue: jobs are rows, claimed atomically by workers in any process.

A claim is one ``UPDATE … WHERE id = (SELECT … LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id``:
on PostgreSQL the sub-select skips rows other workers hold; SQLite has no row locks (the
``FOR UPDATE`` is not rendered) but runs the single guarded UPDATE under its write lock, so
two processes never take the same job. A claim is a lease: the worker renews it while it
renders; a job whose lease ran out (its process died) is claimed again.

One render per content across every node: a job carries its render key (script, engine and
options, renderer version). A job whose key another job is rendering under a live lease is
not claimable until that one ends (PostgreSQL: claims of one key are serialised by a
transaction-level advisory lock, since two snapshots could each miss the other's claim;
SQLite: the single guarded UPDATE runs under the write lock). A job whose key an earlier
job already rendered is completed with that file, without rendering.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from app.announcements.models import Announcement, RenderJob, Revision
from app.announcements.render_task import RenderedAudio, RenderSpec
from app.config import get_settings
from app.db import utcnow
from app.media.models import MediaFile
from app.media.service import media_config, media_store, record_media
from app.pronunciations.lookup import lexicon_for_area
from app.rendering.engines import engine_options
from app.runtime.events import emit

__all__ = [
    "ClaimedJob",
    "enqueue_render",
    "has_claimable_job",
    "claim_next_job",
    "renew_lease",
    "complete_job",
    "fail_job",
    "release_jobs",
    "set_audio_ready",
    "new_worker_id",
    "LEASE",
    "MAX_ATTEMPTS",
]

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 3


def new_worker_id() -> str:
    """A name for a worker that is unique across hosts and processes."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass(frozen=True)
class ClaimedJob:
    """A job this worker holds, with what the render process needs; ``rendered`` is the
    file an earlier job of the same key made (then there is nothing to render)."""

    job_id: str
    revision_id: str
    spec: RenderSpec
    rendered: RenderedAudio | None = None


def _open_job(session: Session, revision_id: str,
              states: tuple[str, ...] = ("queued", "running")) -> RenderJob | None:
    return session.scalar(
        select(RenderJob).where(RenderJob.revision_id == revision_id, RenderJob.state.in_(states))
        .order_by(RenderJob.created_at.desc()).limit(1)
    )


def enqueue_render(session: Session, revision: Revision, *, keep_audio: bool = False) -> RenderJob:
    """Queue a render of ``revision`` (once: a queued or running job is reused).

    ``keep_audio``: the revision's ready audio stays in use until the new one is ready (a
    re-render after a pronunciation changed).
    """
    if not (keep_audio and revision.audio_status == "ready"):
        revision.audio_status, revision.audio_error = "pending", None
    # A running job may have read the old pronunciations: a re-render waits behind it.
    job = _open_job(session, revision.id, ("queued",) if keep_audio else ("queued", "running"))
    if job is None:
        job = RenderJob(revision_id=revision.id, render_key=_spec(session, revision).key)
        session.add(job)
        session.flush()
    emit(session, "render.queued")  # wakes this process's workers after the commit
    return job


def _claimable(now: datetime):  # type: ignore[no-untyped-def]
    """Queued or abandoned, and no other job renders the same key under a live lease."""
    other = aliased(RenderJob)
    same_key_running = exists().where(
        other.render_key == RenderJob.render_key, other.id != RenderJob.id,
        other.state == "running", other.lease_until >= now,
    )
    return and_(
        or_(RenderJob.state == "queued",
            and_(RenderJob.state == "running", RenderJob.lease_until < now)),
        ~same_key_running,
    )


def has_claimable_job(session: Session, *, now: datetime | None = None) -> bool:
    """A cheap read: is there a job to claim? (Idle workers poll with it, not with a write.)"""
    found = session.scalar(select(RenderJob.id).where(_claimable(now or utcnow())).limit(1))
    return found is not None


def _oldest_claimable(now: datetime):  # type: ignore[no-untyped-def]
    return (select(RenderJob.id).where(_claimable(now))
            .order_by(RenderJob.created_at, RenderJob.id).limit(1)
            .with_for_update(skip_locked=True))


def _lock_next(session: Session, now: datetime) -> str | None:
    """PostgreSQL: lock the next claimable job and the advisory lock of its render key until
    the claim commits, so a second claim of the same key waits and then sees the first."""
    found = session.execute(
        _oldest_claimable(now).add_columns(RenderJob.render_key)
    ).first()
    if found is None:
        return None
    if found.render_key:
        session.execute(select(func.pg_advisory_xact_lock(int(found.render_key[:15], 16))))
    return str(found.id)


def claim_next_job(
    session: Session, *, worker_id: str, now: datetime | None = None
) -> ClaimedJob | None:
    """Take the oldest queued job (or one whose lease ran out); None when there is none.

    Call it at the start of a transaction: on SQLite the UPDATE must be the transaction's
    first statement to wait for the write lock instead of failing on a stale snapshot.
    """
    now = now or utcnow()
    if session.get_bind().dialect.name == "postgresql":
        target: object = _lock_next(session, now)
        if target is None:
            return None
    else:
        target = _oldest_claimable(now).scalar_subquery()
    job_id = session.scalar(
        update(RenderJob)
        .where(RenderJob.id == target, _claimable(now))
        .values(state="running", claimed_by=worker_id, lease_until=now + LEASE,
                attempts=RenderJob.attempts + 1)
        .returning(RenderJob.id)
        .execution_options(synchronize_session=False)
    )
    if job_id is None:
        return None
    job = session.get(RenderJob, job_id, populate_existing=True)
    assert job is not None  # just updated in this transaction
    if job.attempts > MAX_ATTEMPTS:
        _give_up(session, job, f"rendering was interrupted {MAX_ATTEMPTS} times; giving up")
        return None
    revision = session.get(Revision, job.revision_id)
    assert revision is not None  # jobs are deleted with their revision
    spec = _spec(session, revision)
    if job.render_key != spec.key:  # queued under other settings (engine, voice) than now
        job.render_key = spec.key
    return ClaimedJob(job.id, revision.id, spec, _rendered_before(session, spec.key))


def _rendered_before(session: Session, key: str) -> RenderedAudio | None:
    """The file an earlier job of this render key made, if it is still stored."""
    media = session.scalar(
        select(MediaFile).join(RenderJob, RenderJob.sha256 == MediaFile.sha256)
        .where(RenderJob.render_key == key, RenderJob.state == "done").limit(1)
    )
    if media is None or not media_store().exists(media.sha256):
        return None
    return RenderedAudio(sha256=media.sha256, size_bytes=media.size_bytes,
                         duration_ms=media.duration_ms, loudness_lufs=media.loudness_lufs or 0.0)


def _spec(session: Session, revision: Revision) -> RenderSpec:
    settings = get_settings()
    options = engine_options(settings.tts_engine, voice=settings.tts_voice,
                             command=settings.tts_command)
    announcement = session.get(Announcement, revision.announcement_id)
    lexicon = lexicon_for_area(session, announcement.area_code) if announcement else ()
    return RenderSpec(text=revision.body, media=media_config(),
                      engine=settings.tts_engine, options=options, lexicon=lexicon)


def renew_lease(session: Session, *, job_id: str, worker_id: str) -> bool:
    """Extend this worker's lease on a running job; False if the job is no longer its own."""
    result = session.execute(
        update(RenderJob)
        .where(RenderJob.id == job_id, RenderJob.claimed_by == worker_id,
               RenderJob.state == "running")
        .values(lease_until=utcnow() + LEASE)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def _end_held_job(session: Session, job_id: str, worker_id: str, **values: object) -> bool:
    """Change a job only while this worker still holds it (one guarded UPDATE); True if so."""
    result = session.execute(
        update(RenderJob)
        .where(RenderJob.id == job_id, RenderJob.claimed_by == worker_id,
               RenderJob.state == "running")
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if not getattr(result, "rowcount", 0):
        log.info("render job %s is no longer held by %s; result dropped", job_id, worker_id)
        return False
    return True


def complete_job(
    session: Session, *, job_id: str, worker_id: str, audio: RenderedAudio
) -> Revision | None:
    """Record the rendered file and the revision's audio; tell listeners if it is approved."""
    if not _end_held_job(session, job_id, worker_id, state="done", finished_at=utcnow(),
                         error=None, sha256=audio.sha256):
        return None
    job = session.get(RenderJob, job_id, populate_existing=True)
    assert job is not None
    record_media(session, sha256=audio.sha256, kind="speech", size_bytes=audio.size_bytes,
                 duration_ms=audio.duration_ms, loudness_lufs=audio.loudness_lufs)
    revision = session.get(Revision, job.revision_id)
    assert revision is not None  # jobs are deleted with their revision
    set_audio_ready(session, revision, audio.sha256)
    return revision


def set_audio_ready(session: Session, revision: Revision, sha256: str) -> None:
    """The revision's audio is the stored file ``sha256``; emit ``announcement.audio_ready``."""
    revision.audio_status, revision.audio_sha256, revision.audio_error = "ready", sha256, None
    session.flush()
    if revision.status == "approved":
        emit(session, "announcement.audio_ready", announcement_id=revision.announcement_id)


def _revision_failed(session: Session, revision_id: str, reason: str) -> None:
    revision = session.get(Revision, revision_id)
    if revision is not None:
        revision.audio_status, revision.audio_error = "failed", reason
        log.warning("render of %s revision %s failed: %s",
                    revision.announcement_id, revision.number, reason)


def _give_up(session: Session, job: RenderJob, reason: str) -> None:
    job.state, job.finished_at, job.error = "failed", utcnow(), reason
    _revision_failed(session, job.revision_id, reason)


def fail_job(
    session: Session, *, job_id: str, worker_id: str, reason: str, retry: bool
) -> None:
    """End a job that failed: queue it again if ``retry`` and attempts remain, else failed."""
    if retry and session.execute(
        update(RenderJob)
        .where(RenderJob.id == job_id, RenderJob.claimed_by == worker_id,
               RenderJob.state == "running", RenderJob.attempts < MAX_ATTEMPTS)
        .values(state="queued", claimed_by=None, lease_until=None, error=reason)
        .execution_options(synchronize_session=False)
    ).rowcount:  # type: ignore[attr-defined]
        return
    if _end_held_job(session, job_id, worker_id, state="failed", finished_at=utcnow(),
                     error=reason):
        job = session.get(RenderJob, job_id, populate_existing=True)
        assert job is not None
        _revision_failed(session, job.revision_id, reason)


def release_jobs(session: Session, *, worker_id: str) -> int:
    """Put this worker's running jobs back in the queue (a clean shutdown); returns how many."""
    result = session.execute(
        update(RenderJob)
        .where(RenderJob.claimed_by == worker_id, RenderJob.state == "running")
        .values(state="queued", claimed_by=None, lease_until=None,
                attempts=RenderJob.attempts - 1)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0))
