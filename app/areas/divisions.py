"""Official administrative division codes (行政区划代码) and matching alerts to villages.

A village's full code has 12 digits: the GB/T 2260 county code (6: province 2, city 2,
county 2), the township (3) and the village (3). Alerts name an area by such a code with
the levels below it zeroed — ``130132000000`` is a whole county, ``130132100000`` one of its
townships — or by the 6-digit county code alone. An area matches a code when its own code
lies inside it: the county code's villages, the township's villages, the village itself.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.areas.models import Area
from app.auth.scope import within

__all__ = ["normalise_division", "division_prefix", "villages_in_divisions"]

_LEVEL_ENDS = (2, 4, 6, 9, 12)


def normalise_division(code: str) -> str:
    """A division code of 2, 4, 6, 9 or 12 digits as 12 digits (zeros below its level)."""
    code = code.strip()
    if not code.isdigit() or len(code) not in _LEVEL_ENDS:
        raise ValueError(f"{code!r} is not an administrative division code (2, 4, 6, 9 or 12 "
                         "digits)")
    return code.ljust(12, "0")


def division_prefix(code: str) -> str:
    """The significant digits of a division code: ``130132000000`` → ``130132``."""
    full = normalise_division(code)
    for end in _LEVEL_ENDS:
        if full[end:] == "0" * (12 - end):
            return full[:end]
    return full


def villages_in_divisions(session: Session, codes: Iterable[str],
                          within_path: str | None = None) -> list[Area]:
    """Villages whose own division code, or an ancestor's, lies inside one of ``codes``
    (unreadable codes are skipped), optionally only inside the area at ``within_path``."""
    prefixes = set()
    for code in codes:
        try:
            prefixes.add(division_prefix(code))
        except ValueError:
            continue
    if not prefixes:
        return []
    matched = select(Area.path).where(
        or_(*(Area.division_code.startswith(p, autoescape=True) for p in sorted(prefixes))))
    paths = list(session.scalars(matched))
    if not paths:
        return []
    stmt = select(Area).where(Area.level == "village", or_(*(within(Area.path, p) for p in paths)))
    if within_path is not None:
        stmt = stmt.where(within(Area.path, within_path))
    return list(session.scalars(stmt.order_by(Area.code)))
