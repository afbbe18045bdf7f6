"""Multi-step broadcast flows: content → audio, then one transaction of orders; CAP alerts.

A JSON request or a CAP alert becomes a ``NewBroadcast`` here: the targets resolved and
checked against the caller's area, the content turned into playable media (a text is
synthesised while the caller waits — the only synchronous render — in a separate thread
with a time limit; a CAP recording is transcoded in a bounded worker process, waited for
the same way), then ``service.issue_broadcast`` writes everything at once.

A CAP document is first *located* (``locate_cap``): parsed, and its polygons and circles
matched against every positioned speaker at once (``shapes.AlertArea``), before any database
write and outside the executor that issues broadcasts.

A synthesised text opens and closes with the attention chime (its sender has no other way
to add one); audio the sender chose (an announcement's, a stored file, a CAP recording)
plays as it is. An exercise opens and closes with the spoken drill notice; a test carries
the same audio as the real thing, so the whole chain is exercised, but is never played.
"""

from __future__ import annotations

import concurrent.futures
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.announcements.models import Announcement
from app.announcements.service import last_approved_revision
from app.areas.models import Area
from app.auth.permissions import Principal
from app.broadcasts import cap_targets, service
from app.broadcasts.cap import CapAlert, CapError, fitted_text, parse_cap
from app.broadcasts.cap_targets import LocatedCap, SpeakerPositions
from app.broadcasts.models import Broadcast
from app.broadcasts.schemas import MAX_TEXT_CHARS, BroadcastCreate
from app.broadcasts.service import IdempotencyClaim, NewBroadcast
from app.config import get_settings
from app.db import utcnow
from app.errors import AppError, BadRequest, Conflict, Forbidden, InvalidInput, NotFound
from app.media.models import MediaFile
from app.media.service import get_media, media_config, media_store, media_url, record_media
from app.pronunciations.lookup import lexicon_for_path
from app.rendering import RenderingError, make_engine, render_script, transcode_isolated
from app.rendering.engines import engine_options
from app.rendering.render import DRILL_CLOSING, DRILL_OPENING, RenderResult

__all__ = [
    "Issued",
    "CapResult",
    "RENDER_TIMEOUT_S",
    "MAX_CAP_AUDIO_BYTES",
    "MAX_LIFETIME",
    "create_broadcast",
    "apply_cap",
    "read_cap",
    "locate_cap",
]

RENDER_TIMEOUT_S = 60.0  # 2,000 characters take ~12 s on a small machine
MAX_CAP_AUDIO_BYTES = 1536 * 1024
MAX_CAP_AUDIO_MS = 10 * 60 * 1000
MAX_LIFETIME = timedelta(days=7)
_AUDIO_SUFFIX = {
    "audio/mpeg": ".mp3",
    "audio/mp3": ".mp3",
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "audio/ogg": ".ogg",
    "audio/amr": ".amr",
    "audio/aac": ".aac",
    "audio/mp4": ".m4a",
    "audio/flac": ".flac",
    "audio/x-ipaws-audio-mp3": ".mp3",  # IPAWS's name for MP3
}

T = TypeVar("T")


@dataclass(frozen=True)
class Issued:
    """A broadcast and whether this request created it (False: an earlier identical one)."""

    broadcast: Broadcast
    created: bool


@dataclass(frozen=True)
class CapResult:
    """What a CAP message did: ``created``, ``replayed``, ``cancelled`` or ``not_broadcast``."""

    result: str
    alert: CapAlert
    broadcasts: list[Broadcast]
    detail: str


@dataclass(frozen=True)
class _Content:
    kind: str
    media: list[dict[str, Any]]
    text: str | None = None
    announcement_id: str | None = None


# ---------------------------------------------------------------- bounded rendering


def _bounded(work: Callable[[], T], what: str) -> T:
    """Run ``work`` in its own thread and wait at most ``RENDER_TIMEOUT_S`` for it."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="urgent-render")
    try:
        return pool.submit(work).result(timeout=RENDER_TIMEOUT_S)
    except concurrent.futures.TimeoutError:
        # The render goes on and lands in the cache: a retry with the same key is quick.
        raise AppError(
            f"{what} took longer than {RENDER_TIMEOUT_S:.0f} s; retry with the same "
            "Idempotency-Key",
            code="render_timeout",
            status=503,
        ) from None
    except RenderingError as exc:
        raise AppError(f"{what} failed: {exc.message}", code=exc.code, status=exc.status) from None
    finally:
        pool.shutdown(wait=False)


def _speak(text: str, *, drill: bool = False, chime: bool = True,
           lexicon: tuple[tuple[str, str], ...] = ()) -> RenderResult:
    settings = get_settings()
    engine = make_engine(
        settings.tts_engine,
        **engine_options(
            settings.tts_engine, voice=settings.tts_voice, command=settings.tts_command
        ),
    )
    return render_script(text, engine=engine, media_store=media_store(), chime=chime, drill=drill,
                         lexicon=lexicon)


def _item(session: Session, result: RenderResult, *, kind: str, title: str) -> dict[str, Any]:
    """Record a freshly stored file and describe it as a play-order media item."""
    media = record_media(
        session,
        sha256=result.sha256,
        kind=kind,
        size_bytes=result.path.stat().st_size,
        duration_ms=result.duration_ms,
        loudness_lufs=result.loudness_lufs,
        title=title,
    )
    return _media_item(media, title)


def _media_item(media: MediaFile, title: str | None = None) -> dict[str, Any]:
    return {
        "url": media_url(media.sha256),
        "sha256": media.sha256,
        "duration_ms": media.duration_ms,
        "title": title or media.title or "",
    }


def _framed(session: Session, body: list[dict[str, Any]], *, drill: bool) -> list[dict[str, Any]]:
    """The body; for an exercise, between the spoken drill notices."""
    if not drill:
        return body
    opening, closing = _bounded(
        lambda: (_speak(DRILL_OPENING, chime=False), _speak(DRILL_CLOSING, chime=False)),
        "synthesising the drill notice",
    )
    return [
        _item(session, opening, kind="speech", title="演习提示"),
        *body,
        _item(session, closing, kind="speech", title="演习结束"),
    ]


# ---------------------------------------------------------------- content


def _text_content(session: Session, text: str, title: str, mode: str,
                  area_path: str | None = None) -> _Content:
    # The staff pronunciations of the area that holds every target apply.
    lexicon = lexicon_for_path(session, area_path)
    result = _bounded(lambda: _speak(text, drill=mode == "exercise", lexicon=lexicon),
                      "synthesising the text")
    return _Content("text", [_item(session, result, kind="speech", title=title)], text=text)


def _announcement_content(
    session: Session, principal: Principal, announcement_id: str, mode: str
) -> _Content:
    announcement = session.get(Announcement, announcement_id)
    area = session.get(Area, announcement.area_code) if announcement else None
    if announcement is None or area is None:
        raise InvalidInput(
            f"announcement {announcement_id!r} does not exist", code="unknown_announcement"
        )
    # Content of one's own area or of an area above it (a district's notice for a town).
    if not (principal.covers(area.path) or area.contains(principal.area_path or "")):
        raise Forbidden(f"announcement {announcement_id!r} belongs to an area outside yours")
    revision = last_approved_revision(session, announcement_id)
    if revision is None:
        raise Conflict(
            f"announcement {announcement_id!r} has no approved revision", code="not_approved"
        )
    media = get_media(session, revision.audio_sha256 or "")
    if revision.audio_status != "ready" or media is None or not media_store().exists(media.sha256):
        raise Conflict(
            f"the audio of announcement {announcement_id!r} (revision "
            f"{revision.number}) is not ready yet",
            code="audio_not_ready",
        )
    body = [_media_item(media, revision.title)]
    return _Content(
        "announcement",
        _framed(session, body, drill=mode == "exercise"),
        announcement_id=announcement_id,
    )


def _media_content(session: Session, sha256: str, mode: str) -> _Content:
    media = get_media(session, sha256)
    if media is None or not media_store().exists(media.sha256):
        raise InvalidInput(f"no stored media with sha256 {sha256}", code="unknown_media")
    return _Content("media", _framed(session, [_media_item(media)], drill=mode == "exercise"))


def _request_content(session: Session, principal: Principal, data: BroadcastCreate,
                     area_path: str | None = None) -> _Content:
    if data.text is not None:
        return _text_content(session, data.text, data.title, data.mode, area_path)
    if data.announcement is not None:
        return _announcement_content(session, principal, data.announcement, data.mode)
    assert data.media is not None  # the schema demands exactly one
    return _media_content(session, data.media, data.mode)


def _expiry(requested: datetime | None, now: datetime, level: int) -> datetime:
    """When a broadcast expires: by default an hour after it starts (III–IV created in quiet
    hours start when they end, so their hour counts from then); a requested expiry that
    comes before a deferred start would never play, and is refused."""
    start_at = service.start_time(level, now)
    if requested is None:
        return start_at + service.DEFAULT_LIFETIME
    if requested <= now:
        raise InvalidInput(
            f"expires_at {requested.isoformat()} has already passed", code="already_expired"
        )
    if requested > now + MAX_LIFETIME:
        raise InvalidInput("expires_at may be at most 7 days ahead", code="invalid")
    _check_starts_before(requested, start_at)
    return requested


def _check_starts_before(expires_at: datetime, start_at: datetime) -> None:
    if expires_at <= start_at:
        local = start_at.astimezone(get_settings().tz)
        raise InvalidInput(
            f"a level III–IV broadcast raised in quiet hours starts at {local:%H:%M} when they "
            f"end; expires_at {expires_at.isoformat()} comes before that, so it would never "
            "play: give a later expires_at or leave it out (one hour from the start)",
            code="expires_before_start", start_at=start_at.isoformat(),
        )


# ---------------------------------------------------------------- JSON broadcasts


def _replay(session: Session, claim: IdempotencyClaim) -> Issued | None:
    """The broadcast an earlier request with this key made; 409 if its body differed."""
    found = service.find_by_key(session, claim.principal, claim.key)
    if found is None:
        return None
    if found.body_sha256 != claim.body_sha256:
        raise Conflict(
            "this Idempotency-Key was already used with a different request body",
            code="idempotency_conflict",
            broadcast=found.broadcast_id,
        )
    return Issued(service.get_broadcast(session, found.broadcast_id), created=False)


def create_broadcast(
    *,
    session: Session,
    principal: Principal,
    data: BroadcastCreate,
    idempotency_key: str | None = None,
) -> Issued:
    """Validate, authorise, check the key, make the audio and issue the broadcast."""
    claim = None
    if idempotency_key is not None:
        claim = IdempotencyClaim(
            service.principal_key(principal),
            idempotency_key,
            service.body_digest(data.model_dump(mode="json")),
        )
        if (earlier := _replay(session, claim)) is not None:
            return earlier
    now = utcnow()
    villages, area_path = service.resolve_targets(
        session=session, principal=principal, codes=data.targets
    )
    expires_at = _expiry(data.expires_at, now, data.level)
    content = _request_content(session, principal, data, area_path)
    new = NewBroadcast(
        title=data.title,
        level=data.level,
        mode=data.mode,
        targets=data.targets,
        villages=villages,
        area_path=area_path,
        content_kind=content.kind,
        media=content.media,
        expires_at=expires_at,
        loop=data.loop,
        text=content.text,
        announcement_id=content.announcement_id,
    )
    try:
        return Issued(
            service.issue_broadcast(session=session, principal=principal, new=new, claim=claim),
            created=True,
        )
    except IntegrityError:
        # Another request with the same key won the race: answer with its broadcast.
        session.rollback()
        earlier = _replay(session, claim) if claim is not None else None
        if earlier is None:
            raise
        return earlier


# ---------------------------------------------------------------- CAP alerts


def read_cap(document: bytes) -> CapAlert:
    """Parse and check a CAP 1.2 document; 400 ``invalid_cap`` with the reason."""
    try:
        return parse_cap(document, max_bytes=get_settings().max_cap_bytes,
                         max_audio_bytes=MAX_CAP_AUDIO_BYTES)
    except CapError as exc:
        raise BadRequest(str(exc), code="invalid_cap") from None


def locate_cap(document: bytes, *, positions: Callable[[], SpeakerPositions]) -> LocatedCap:
    """Parse the document and match its shapes against the speakers: the CPU-heavy part.

    Runs before (and apart from) any database write, so no lock and no write transaction is
    held while a large polygon is tested; ``positions`` reads them in a short session.
    """
    return cap_targets.locate(read_cap(document), positions)


def _cap_audio_content(session: Session, alert: CapAlert) -> _Content:
    assert alert.audio is not None
    audio = alert.audio

    def transcode() -> RenderResult:
        with tempfile.TemporaryDirectory(prefix="cunxiang-cap-") as workdir:
            path = Path(workdir) / ("alert" + _AUDIO_SUFFIX.get(audio.mime_type, ".bin"))
            path.write_bytes(audio.data)
            settings = get_settings()
            return transcode_isolated(
                path,
                media_store=media_store(),
                max_duration_ms=min(MAX_CAP_AUDIO_MS, settings.max_recording_ms),
                slots=settings.render_workers,
                media_config=media_config(),
                time_limit_s=RENDER_TIMEOUT_S,
            )

    try:
        result = _bounded(transcode, "transcoding the alert's audio")
    except AppError as exc:
        if exc.status >= 500:
            raise
        raise BadRequest(
            f"the inline audio is not usable: {exc.message}", code="invalid_cap"
        ) from None
    title = audio.description or alert.title or "预警录音"
    body = [_item(session, result, kind="recording", title=title)]
    return _Content(
        "cap_audio", _framed(session, body, drill=alert.mode == "exercise"), text=alert.text or None
    )


def _cap_content(
    session: Session, alert: CapAlert, warnings: list[str], area_path: str | None = None
) -> _Content:
    if alert.audio is not None:
        return _cap_audio_content(session, alert)
    text, shortened = fitted_text(alert, MAX_TEXT_CHARS)  # a long alert is cut, not refused
    if shortened:
        warnings.append(shortened)
    return _text_content(
        session, text, alert.title or alert.event or "预警", alert.mode or "actual", area_path
    )


def _referenced_in_scope(
    session: Session, principal: Principal, alert: CapAlert
) -> list[Broadcast]:
    found = service.find_referenced(session, alert.references)
    outside = [
        b.id for b in found if not principal.covers(b.area_path) and b.created_by != principal.actor
    ]
    if outside:
        raise Forbidden(f"referenced broadcast(s) outside your area: {', '.join(outside)}")
    return found


def _cancel_alert(session: Session, principal: Principal, alert: CapAlert) -> CapResult:
    referenced = _referenced_in_scope(session, principal, alert)
    if not referenced:
        named = ", ".join(
            f"{r.sender},{r.identifier},{r.sent.isoformat()}" for r in alert.references
        )
        raise NotFound(
            f"no broadcast was made from the referenced alert(s): {named}", code="unknown_reference"
        )
    for broadcast in referenced:
        service.cancel_broadcast(session=session, principal=principal, broadcast=broadcast)
    return CapResult(
        "cancelled",
        alert,
        referenced,
        f"cancelled {len(referenced)} broadcast(s) named in <references>",
    )


def _expiry_of(alert: CapAlert, now: datetime) -> datetime:
    """When the broadcast of an alert ends: its ``expires`` (at most a week), else an hour after
    it starts (III–IV raised in quiet hours start when they end)."""
    assert alert.level is not None
    start_at = service.start_time(alert.level, now)
    expires_at = min(alert.expires or start_at + service.DEFAULT_LIFETIME, now + MAX_LIFETIME)
    _check_starts_before(expires_at, start_at)
    return expires_at


def _already_expired(alert: CapAlert) -> InvalidInput:
    assert alert.expires is not None
    return InvalidInput(
        f"the alert expired at {alert.expires.isoformat()}; nothing was broadcast",
        code="already_expired",
    )


def _new_from_alert(
    session: Session, principal: Principal, located: LocatedCap, warnings: list[str]
) -> NewBroadcast:
    alert, now = located.alert, utcnow()
    if alert.level is None or alert.mode is None:
        raise InvalidInput(
            f"the {alert.msg_type} has no <info> block: nothing to say and nowhere to say it",
            code="nothing_to_broadcast",
        )
    if alert.expires is not None and alert.expires <= now:
        raise _already_expired(alert)
    expires_at = _expiry_of(alert, now)
    where = cap_targets.resolve_targets(session=session, principal=principal, located=located)
    content = _cap_content(session, alert, warnings, where.area_path)
    return NewBroadcast(
        title=(alert.title or alert.event or "预警")[:200],
        level=alert.level,
        mode=alert.mode,
        targets=where.targets,
        villages=where.villages,
        area_path=where.area_path,
        content_kind=content.kind,
        media=content.media,
        expires_at=expires_at,
        text=content.text,
        cap={
            "cap_sender": alert.sender,
            "cap_identifier": alert.identifier,
            "cap_sent": alert.sent,
            "cap_msg_type": alert.msg_type,
        },
        warnings=warnings,
    )


def _replayed(alert: CapAlert, broadcast: Broadcast) -> CapResult:
    return CapResult(
        "replayed", alert, [broadcast], "this alert (sender, identifier, sent) was received before"
    )


def _reference_warnings(alert: CapAlert, replaced: list[Broadcast]) -> list[str]:
    """An Update naming alerts never broadcast here is broadcast as new, and says so."""
    known = {(b.cap_sender, b.cap_identifier) for b in replaced}
    unknown = [r for r in alert.references if (r.sender, r.identifier) not in known]
    if alert.msg_type != "Update" or not unknown:
        return []
    return [
        f"{len(unknown)} of the {len(alert.references)} alert(s) in <references> were never "
        f"broadcast here (first: {unknown[0].sender},{unknown[0].identifier}): "
        + ("nothing was replaced" if not replaced else f"{len(replaced)} broadcast(s) replaced")
    ]


def _stopped_on_arrival(
    session: Session, principal: Principal, alert: CapAlert, replaced: list[Broadcast]
) -> CapResult:
    """An Update that had expired when it arrived: what it replaces stops, nothing new starts."""
    if not replaced:
        raise _already_expired(alert)
    for old in replaced:
        service.cancel_broadcast(session=session, principal=principal, broadcast=old)
    assert alert.expires is not None
    return CapResult(
        "cancelled",
        alert,
        replaced,
        f"the update had expired when it arrived ({alert.expires.isoformat()}): the "
        f"{len(replaced)} broadcast(s) it replaces were stopped, nothing new was broadcast",
    )


def _issue_alert(session: Session, principal: Principal, located: LocatedCap) -> CapResult:
    alert = located.alert
    replaced = _referenced_in_scope(session, principal, alert) if alert.msg_type == "Update" else []
    if alert.expires is not None and alert.expires <= utcnow() and replaced:
        return _stopped_on_arrival(session, principal, alert, replaced)
    warnings = [*alert.warnings, *_reference_warnings(alert, replaced)]
    new = _new_from_alert(session, principal, located, warnings)
    try:
        broadcast = service.issue_broadcast(session=session, principal=principal, new=new)
    except IntegrityError:
        session.rollback()  # the same alert, sent twice at once: the other one won
        earlier = service.find_by_cap(session, alert.sender, alert.identifier, alert.sent)
        if earlier is None:
            raise
        return _replayed(alert, earlier)
    for old in replaced:
        service.cancel_broadcast(
            session=session, principal=principal, broadcast=old, replaced_by=broadcast.id
        )
    detail = f"replaces {len(replaced)} broadcast(s)" if replaced else "broadcast created"
    return CapResult("created", alert, [broadcast], detail)


def apply_cap(*, session: Session, principal: Principal, located: LocatedCap) -> CapResult:
    """Act on a located CAP 1.2 message: Alert creates, Update replaces, Cancel cancels."""
    alert = located.alert
    if not alert.broadcast:
        reason = alert.note or f"status {alert.status}, msgType {alert.msg_type}"
        return CapResult(
            "not_broadcast",
            alert,
            [],
            f"accepted, not broadcast ({reason}): only Actual, Exercise and Test "
            "Alerts, Updates and Cancels are acted on",
        )
    if alert.msg_type == "Cancel":
        return _cancel_alert(session, principal, alert)
    earlier = service.find_by_cap(session, alert.sender, alert.identifier, alert.sent)
    if earlier is not None:
        return _replayed(alert, earlier)
    return _issue_alert(session, principal, located)
