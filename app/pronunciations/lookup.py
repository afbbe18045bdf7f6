"""Which lexicon applies where: the entries of an area and of every area above it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.areas.models import Area
from app.pronunciations.models import Pronunciation

__all__ = ["lexicon_for_path", "lexicon_for_area"]


def lexicon_for_path(session: Session, path: str | None) -> tuple[tuple[str, str], ...]:
    """(word, pinyin) pairs for the area at ``path``: farthest first, so the nearest wins."""
    if not path:
        return ()
    codes = path.split("/")
    depth = {code: index for index, code in enumerate(codes)}
    rows = list(session.execute(
        select(Pronunciation.area_code, Pronunciation.word, Pronunciation.pinyin)
        .where(Pronunciation.area_code.in_(codes))
    ))
    rows.sort(key=lambda row: (depth[row.area_code], row.word))
    return tuple((row.word, row.pinyin) for row in rows)


def lexicon_for_area(session: Session, code: str) -> tuple[tuple[str, str], ...]:
    """The lexicon that applies to the area ``code`` (empty for an unknown area)."""
    area = session.get(Area, code)
    return lexicon_for_path(session, area.path if area else None)
