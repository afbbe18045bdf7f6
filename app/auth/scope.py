"""SQL for "this area or one below it", the one scoping rule every part filters by (the same
rule as :meth:`app.auth.permissions.Principal.covers`, for queries over many rows).

An area's ``path`` is its ancestors' codes and its own, joined by ``/`` (``d1/t1/v11``).
A prefix test must be exact: LIKE would not do, as codes may hold ``_`` (a LIKE wildcard:
``'d1/t_1/%'`` also matches ``d1/tx1/…``) and SQLite's LIKE ignores case (``T1`` is not
``t1``). Comparing the leading characters is exact on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, or_

__all__ = ["within", "below"]


def below(column: Any, path: str) -> ColumnElement[bool]:
    """``column`` holds the path of an area strictly below the area at ``path``."""
    prefix = path + "/"
    return func.substr(column, 1, len(prefix)) == prefix


def within(column: Any, path: str) -> ColumnElement[bool]:
    """``column`` holds ``path`` itself or the path of an area below it."""
    return or_(column == path, below(column, path))
