"""Pronunciation rules: entries per area, scoped like announcements, audited.

A change emits ``pronunciation.changed``: the announcements' part renders again the approved
announcements of the area that say the word, and names them in the event's ``rerendering``
list, which the answer shows.
"""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.areas.models import Area
from app.areas.service import get_area_in_scope
from app.audit.service import record
from app.auth.permissions import Principal
from app.auth.scope import within
from app.errors import Conflict, Forbidden, NotFound
from app.pronunciations.models import Pronunciation
from app.pronunciations.schemas import PronunciationCreate, PronunciationRead, PronunciationUpdate
from app.runtime.events import emit

__all__ = [
    "create_pronunciation",
    "update_pronunciation",
    "delete_pronunciation",
    "get_pronunciation",
    "list_pronunciations",
    "to_read",
    "pronunciations_in_area",
]


def to_read(entry: Pronunciation, rerendering: list[str] | None = None) -> PronunciationRead:
    """The client view of an entry."""
    return PronunciationRead(
        id=entry.id, word=entry.word, pinyin=entry.pinyin, area=entry.area_code,
        note=entry.note, created_by=entry.created_by, created_at=entry.created_at,
        updated_by=entry.updated_by, updated_at=entry.updated_at,
        rerendering=rerendering or [],
    )


def _snapshot(entry: Pronunciation) -> dict[str, object]:
    return {"word": entry.word, "pinyin": entry.pinyin, "area": entry.area_code,
            "note": entry.note}


def _area_of(session: Session, entry: Pronunciation) -> Area:
    area = session.get(Area, entry.area_code)
    assert area is not None  # the foreign key keeps it
    return area


def get_pronunciation(*, session: Session, principal: Principal, entry_id: str) -> Pronunciation:
    """An entry inside the principal's area: 404 unknown, 403 outside."""
    entry = session.get(Pronunciation, entry_id)
    if entry is None:
        raise NotFound(f"pronunciation {entry_id!r} does not exist")
    if not principal.covers(_area_of(session, entry).path):
        raise Forbidden(f"pronunciation {entry_id!r} belongs to an area outside yours")
    return entry


def _rerender_affected(session: Session, area: Area, words: set[str]) -> list[str]:
    """Announce that ``words`` read differently in ``area`` now; the ids of the announcements
    queued to render again (``pronunciation.changed``)."""
    rerendering: list[str] = []
    emit(session, "pronunciation.changed", area_path=area.path, words=words,
         rerendering=rerendering)
    return rerendering


def create_pronunciation(*, session: Session, principal: Principal,
                         data: PronunciationCreate) -> PronunciationRead:
    """A new entry in an area the principal covers; 409 if the area already has the word."""
    area = get_area_in_scope(session=session, principal=principal, code=data.area)
    if session.scalar(select(Pronunciation.id).where(Pronunciation.area_code == area.code,
                                                     Pronunciation.word == data.word)):
        raise Conflict(f"{area.code!r} already has a pronunciation of {data.word!r}",
                       code="duplicate_pronunciation")
    entry = Pronunciation(area_code=area.code, word=data.word, pinyin=data.pinyin,
                          note=data.note, created_by=principal.actor, updated_by=principal.actor)
    try:
        with session.begin_nested():
            session.add(entry)
    except IntegrityError:  # the same word added at the same moment by someone else
        raise Conflict(f"{area.code!r} already has a pronunciation of {data.word!r}",
                       code="duplicate_pronunciation") from None
    record(session=session, actor=principal.actor, action="create", entity="pronunciation",
           entity_id=entry.id, area_path=area.path, after=_snapshot(entry))
    return to_read(entry, _rerender_affected(session, area, {entry.word}))


def update_pronunciation(*, session: Session, principal: Principal, entry_id: str,
                         data: PronunciationUpdate) -> PronunciationRead:
    """Change the pinyin or the note; a new pinyin re-renders what says the word."""
    entry = get_pronunciation(session=session, principal=principal, entry_id=entry_id)
    before = _snapshot(entry)
    changes = data.model_dump(exclude_unset=True)
    pinyin = changes.get("pinyin") or entry.pinyin
    note = changes.get("note", entry.note)
    if (pinyin, note) == (entry.pinyin, entry.note):
        return to_read(entry)
    reread = pinyin != entry.pinyin
    entry.pinyin, entry.note, entry.updated_by = pinyin, note, principal.actor
    session.flush()
    area = _area_of(session, entry)
    record(session=session, actor=principal.actor, action="update", entity="pronunciation",
           entity_id=entry.id, area_path=area.path, before=before, after=_snapshot(entry))
    return to_read(entry, _rerender_affected(session, area, {entry.word}) if reread else [])


def delete_pronunciation(*, session: Session, principal: Principal, entry_id: str) -> list[str]:
    """Remove an entry; what said the word is rendered again without it."""
    entry = get_pronunciation(session=session, principal=principal, entry_id=entry_id)
    area = _area_of(session, entry)
    before = _snapshot(entry)
    session.delete(entry)
    session.flush()
    record(session=session, actor=principal.actor, action="delete", entity="pronunciation",
           entity_id=entry_id, area_path=area.path, before=before)
    return _rerender_affected(session, area, {before["word"]})  # type: ignore[arg-type]


def list_pronunciations(*, session: Session, principal: Principal, area: str | None = None,
                        word: str | None = None) -> Select[Pronunciation]:
    """Entries in the principal's area (or in ``area`` and below), by area and word."""
    stmt = select(Pronunciation).join(Area, Area.code == Pronunciation.area_code)
    if area is not None:
        found = get_area_in_scope(session=session, principal=principal, code=area)
        stmt = stmt.where(within(Area.path, found.path))
    elif principal.area_path is not None:
        stmt = stmt.where(within(Area.path, principal.area_path))
    if word:
        stmt = stmt.where(Pronunciation.word == word)
    return stmt.order_by(Area.path, Pronunciation.word)


def pronunciations_in_area(session: Session, area: Area) -> str | None:
    """Why ``area`` is still in use by pronunciations (an area usage check), or None."""
    found = session.scalar(select(Pronunciation.id).where(Pronunciation.area_code == area.code)
                           .limit(1))
    return "pronunciations belong to it" if found else None

