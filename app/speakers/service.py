"""Speaker registry: registering terminals, their tokens, moves, maintenance and derived health."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from app.areas.models import Area
from app.areas.service import get_area, get_area_in_scope
from app.audit.service import record
from app.auth.permissions import TERMINAL, Principal
from app.auth.scope import within
from app.auth.security import TERMINAL_TOKEN_PREFIX, new_token, token_digest
from app.db import utcnow
from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.pagination import matching
from app.runtime.events import emit
from app.speakers.health import OFFLINE, derive_status, heartbeat_timeout, status_clause
from app.speakers.models import Speaker
from app.speakers.schemas import SpeakerCreate, SpeakerRead, SpeakerUpdate

__all__ = [
    "speaker_status",
    "speaker_read",
    "speakers_read",
    "get_speaker",
    "get_speaker_in_scope",
    "create_speaker",
    "list_speakers",
    "update_speaker",
    "retire_speaker",
    "rotate_token",
    "resolve_terminal_token",
    "health_by_village",
    "VillageHealth",
    "speakers_in_area",
    "expect_silence",
]


def speaker_status(speaker: Speaker, now: datetime | None = None) -> str:
    """``online``, ``offline``, ``fault`` or ``maintenance``, derived at this instant."""
    return derive_status(maintenance=speaker.maintenance, last_heard_at=speaker.last_heard_at,
                         last_status=speaker.last_status, now=now or utcnow(),
                         timeout_s=heartbeat_timeout())


def speaker_read(speaker: Speaker, town: str | None, now: datetime | None = None) -> SpeakerRead:
    """The staff view of a speaker (``town`` is its village's parent)."""
    return SpeakerRead(
        id=speaker.id, serial=speaker.serial, name=speaker.name, location=speaker.location,
        village=speaker.village_code,
        town=town, lat=speaker.lat, lon=speaker.lon, status=speaker_status(speaker, now),  # type: ignore[arg-type]
        maintenance=speaker.maintenance, last_heard_at=speaker.last_heard_at,
        power=speaker.last_power, fault=speaker.last_fault, volume=speaker.last_volume,
        playing=speaker.last_playing, token_prefix=speaker.token_prefix,
        created_at=speaker.created_at, operating_hours=speaker.operating_hours,
    )


def speakers_read(session: Session, speakers: Iterable[Speaker]) -> list[SpeakerRead]:
    """Staff views of many speakers, with their towns looked up at once."""
    speakers = list(speakers)
    codes = {s.village_code for s in speakers}
    towns = dict(session.execute(
        select(Area.code, Area.parent_code).where(Area.code.in_(codes))).all()) if codes else {}
    now = utcnow()
    return [speaker_read(s, towns.get(s.village_code), now) for s in speakers]


def get_speaker(*, session: Session, speaker_id: str) -> Speaker:
    """A registered (not retired) speaker; 404 otherwise."""
    speaker = session.get(Speaker, speaker_id)
    if speaker is None or speaker.retired_at is not None:
        raise NotFound(f"speaker {speaker_id!r} does not exist")
    return speaker


def get_speaker_in_scope(*, session: Session, principal: Principal, speaker_id: str) -> Speaker:
    """A speaker whose village lies in the principal's area; 404 / 403 otherwise."""
    speaker = get_speaker(session=session, speaker_id=speaker_id)
    village = get_area(session=session, code=speaker.village_code)
    if not principal.covers(village.path):
        raise Forbidden(f"speaker {speaker_id!r} is outside your area")
    return speaker


def _village_in_scope(session: Session, principal: Principal, code: str) -> Area:
    village = session.get(Area, code)
    if village is None:
        raise InvalidInput(f"village {code!r} does not exist", fields=[{"field": "village",
                           "detail": "unknown area"}])
    if village.level != "village":
        raise InvalidInput(f"{code!r} is a {village.level}; a speaker belongs to a village")
    if not principal.covers(village.path):
        raise Forbidden(f"village {code!r} is outside your area")
    return village


def _issue_token(speaker: Speaker) -> str:
    token = new_token(TERMINAL_TOKEN_PREFIX)
    speaker.token_hash, speaker.token_prefix = token_digest(token), token[:10]
    speaker.token_issued_at = utcnow()
    return token


def _audit(session: Session, principal: Principal, action: str, speaker: Speaker,
           village: Area, before: SpeakerRead | None = None) -> None:
    after = None if action == "retire" else speaker_read(speaker, village.parent_code).model_dump()
    record(session=session, actor=principal.actor, action=action, entity="speaker",
           entity_id=speaker.id, area_path=village.path,
           before=before.model_dump() if before else None, after=after)


def create_speaker(
    *, session: Session, principal: Principal, data: SpeakerCreate
) -> tuple[Speaker, str]:
    """Register a terminal; returns it and its token (shown once, stored hashed).

    A serial that belongs to a retired speaker registers that device again (its
    history stays with it); a serial in use answers 409.
    """
    village = _village_in_scope(session, principal, data.village)
    speaker = session.scalar(select(Speaker).where(Speaker.serial == data.serial))
    if speaker is not None and speaker.retired_at is None:
        raise Conflict(f"a speaker with serial {data.serial!r} is already registered",
                       speaker=speaker.id)
    if speaker is None:
        speaker = Speaker(serial=data.serial)
        session.add(speaker)
    _reset(speaker, data)
    token = _issue_token(speaker)  # a new speaker's, or a retired one's (forgotten then)
    session.flush()
    _audit(session, principal, "create", speaker, village)
    return speaker, token


def _reset(speaker: Speaker, data: SpeakerCreate) -> None:
    speaker.village_code, speaker.name, speaker.location, speaker.lat, speaker.lon = (
        data.village, data.name, data.location, data.lat, data.lon)
    speaker.maintenance, speaker.retired_at, speaker.health = False, None, OFFLINE
    speaker.last_heard_at = speaker.last_reported_at = None
    speaker.last_status = speaker.last_power = speaker.last_fault = speaker.last_playing = None
    speaker.last_volume = None
    speaker.operating_hours, speaker.silence_expected_until = data.operating_hours, None


def list_speakers(
    *, session: Session, principal: Principal, village: str | None = None,
    town: str | None = None, area: str | None = None, status: str | None = None,
    q: str | None = None,
) -> Select[Any]:
    """Registered speakers inside the principal's area, filtered (``q``: words in the serial,
    name, location or village name); ordered by village and serial."""
    stmt = (select(Speaker).join(Area, Area.code == Speaker.village_code)
            .where(Speaker.retired_at.is_(None)))
    if principal.area_path is not None:
        stmt = stmt.where(within(Area.path, principal.area_path))
    for code in (village, town, area):
        if code:
            found = get_area_in_scope(session=session, principal=principal, code=code)
            stmt = stmt.where(within(Area.path, found.path))
    if status:
        stmt = stmt.where(status_clause(status, utcnow(), heartbeat_timeout()))
    if (words := matching(q, Speaker.serial, Speaker.name, Speaker.location,
                          Area.name)) is not None:
        stmt = stmt.where(words)
    return stmt.order_by(Speaker.village_code, Speaker.serial)


def update_speaker(
    *, session: Session, principal: Principal, speaker_id: str, data: SpeakerUpdate
) -> Speaker:
    """Rename, reposition, move to another village or switch maintenance on or off."""
    speaker = get_speaker_in_scope(session=session, principal=principal, speaker_id=speaker_id)
    village = get_area(session=session, code=speaker.village_code)
    before = speaker_read(speaker, village.parent_code)
    fields = data.model_fields_set
    for name in ("name", "location", "lat", "lon"):
        if name in fields:
            setattr(speaker, name, getattr(data, name))
    if "operating_hours" in fields and data.operating_hours != speaker.operating_hours:
        speaker.operating_hours, speaker.silence_expected_until = data.operating_hours, None
    if data.village is not None and data.village != speaker.village_code:
        village = _move(session, principal, speaker, data.village)
        speaker.silence_expected_until = None  # its village's orders may set its hours
    if data.maintenance is not None and data.maintenance != speaker.maintenance:
        speaker.maintenance = data.maintenance
        _announce_now(session, speaker)
    session.flush()
    _audit(session, principal, "update", speaker, village, before)
    return speaker


def _move(session: Session, principal: Principal, speaker: Speaker, code: str) -> Area:
    target = _village_in_scope(session, principal, code)
    previous, speaker.village_code = speaker.village_code, target.code
    emit(session, "speaker.token_changed", speaker_id=speaker.id)  # its terminal's village
    # Its terminal's long-poll (waiting on the old village) wakes with the new program.
    emit(session, "speaker.moved", speaker_id=speaker.id, from_village=previous,
         to_village=target.code)
    return target


def _announce_now(session: Session, speaker: Speaker) -> None:
    status = speaker_status(speaker)
    if status != speaker.health:
        speaker.health = status
        emit(session, "speaker.health", speaker_id=speaker.id, status=status)


def retire_speaker(*, session: Session, principal: Principal, speaker_id: str) -> None:
    """Retire a speaker: it leaves the lists and its token stops working at once."""
    speaker = get_speaker_in_scope(session=session, principal=principal, speaker_id=speaker_id)
    village = get_area(session=session, code=speaker.village_code)
    before = speaker_read(speaker, village.parent_code)
    speaker.retired_at, speaker.token_hash = utcnow(), None
    session.flush()
    emit(session, "speaker.retired", speaker_id=speaker.id)
    emit(session, "speaker.token_changed", speaker_id=speaker.id)
    _audit(session, principal, "retire", speaker, village, before)


def rotate_token(*, session: Session, principal: Principal, speaker_id: str) -> tuple[Speaker, str]:
    """Issue a new token; the previous one answers 401 from now on."""
    speaker = get_speaker_in_scope(session=session, principal=principal, speaker_id=speaker_id)
    village = get_area(session=session, code=speaker.village_code)
    token = _issue_token(speaker)
    session.flush()
    emit(session, "speaker.token_changed", speaker_id=speaker.id)
    record(session=session, actor=principal.actor, action="rotate_token", entity="speaker",
           entity_id=speaker.id, area_path=village.path,
           after={"token_prefix": speaker.token_prefix})
    return speaker, token


def resolve_terminal_token(session: Session, token: str) -> Principal | None:
    """The terminal a ``cxt_`` token belongs to, or None (unknown, rotated or retired)."""
    row = session.execute(
        select(Speaker.id, Speaker.serial, Speaker.village_code, Area.path)
        .join(Area, Area.code == Speaker.village_code)
        .where(Speaker.token_hash == token_digest(token), Speaker.retired_at.is_(None))
    ).first()
    if row is None:
        return None
    speaker_id, serial, village, path = row
    return Principal(kind="terminal", id=speaker_id, name=serial, role=None, area_code=village,
                     area_path=path, permissions=frozenset({TERMINAL}), village_code=village)



@dataclass(frozen=True, slots=True)
class VillageHealth:
    """How many registered speakers a village has, by derived status."""

    total: int = 0
    online: int = 0
    fault: int = 0
    offline: int = 0
    maintenance: int = 0


def health_by_village(
    *, session: Session, village_codes: Iterable[str] | None = None, now: datetime | None = None
) -> dict[str, VillageHealth]:
    """Speaker counts per village by status (villages without speakers are absent)."""
    stmt = select(Speaker).where(Speaker.retired_at.is_(None))
    if village_codes is not None:
        stmt = stmt.where(Speaker.village_code.in_(list(village_codes)))
    counts: dict[str, dict[str, int]] = {}
    moment = now or utcnow()
    for speaker in session.scalars(stmt):
        tally = counts.setdefault(speaker.village_code, {"total": 0})
        status = speaker_status(speaker, moment)
        tally["total"] += 1
        tally[status] = tally.get(status, 0) + 1
    return {code: VillageHealth(**tally) for code, tally in counts.items()}


def speakers_in_area(session: Session, area: Area) -> str | None:
    """Why ``area`` is still in use by speakers (an area usage check), or None."""
    found = session.scalar(
        select(func.count()).select_from(Speaker).join(Area, Area.code == Speaker.village_code)
        .where(Speaker.retired_at.is_(None), within(Area.path, area.path))
    )
    return f"{found} speaker(s) are registered there" if found else None


def expect_silence(session: Session, *, speaker_id: str, until: datetime) -> None:
    """The maintenance sweep need not look at this speaker's silence again before ``until``
    (it is outside its operating hours)."""
    session.execute(update(Speaker).where(Speaker.id == speaker_id)
                    .values(silence_expected_until=until)
                    .execution_options(synchronize_session=False))
