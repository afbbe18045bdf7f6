"""List pages: ``limit``/``offset`` query parameters and the ``{items, total}`` answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, and_, or_
from sqlalchemy.orm import Session

from app.db import count

__all__ = ["Page", "PageParams", "Paging", "fetch_page", "Search", "matching"]

T = TypeVar("T")
# Far past any table here, and inside what both databases take as an OFFSET (a 64-bit integer).
MAX_OFFSET = 1_000_000_000


class Page(BaseModel, Generic[T]):
    """One page of a list and the total number of matching rows."""

    items: list[T]
    total: int


@dataclass(frozen=True)
class PageParams:
    """Validated paging parameters."""

    limit: int = 100
    offset: int = 0


def _paging(
    limit: Annotated[int, Query(ge=1, le=1000, description="rows per page")] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="rows to skip")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


Paging = Annotated[PageParams, Depends(_paging)]


def fetch_page(session: Session, stmt: Select[Any], paging: PageParams) -> tuple[list[Any], int]:
    """Run ``stmt`` for one page; returns (rows, total)."""
    total = count(session, stmt)
    rows = list(session.scalars(stmt.limit(paging.limit).offset(paging.offset)))
    return rows, total


Search = Annotated[str | None, Query(max_length=100,
                                     description="text the name or title contains (any case)")]


def matching(words: str | None, *columns: Any) -> ColumnElement[bool] | None:
    """SQL for "every word of ``words`` appears in one of ``columns``" (None: no filter)."""
    terms = (words or "").split()
    if not terms:
        return None
    return and_(*(or_(*(c.icontains(term, autoescape=True) for c in columns)) for term in terms))
