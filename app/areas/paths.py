"""SQL for "this area or one below it", the one scoping rule every part filters by.

An area's ``path`` is its ancestors' codes and its own, joined by ``/`` (``d1/t1/v11``).
Codes may hold ``_``, a LIKE wildcard, so a prefix test must escape it: a bare
``LIKE 'd1/t_1/%'`` would also match ``d1/tx1/…``, another town's records.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_

__all__ = ["within", "below"]


def below(column: Any, path: str) -> ColumnElement[bool]:
    """``column`` holds the path of an area strictly below the area at ``path``."""
    return column.startswith(path + "/", autoescape=True)  # type: ignore[no-any-return]


def within(column: Any, path: str) -> ColumnElement[bool]:
    """``column`` holds ``path`` itself or the path of an area below it."""
    return or_(column == path, below(column, path))
