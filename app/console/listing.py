"""Long lists in the console: one page of 50 rows, links to the pages around it, the search kept."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import Request

from app.pagination import PageParams

__all__ = ["PAGE_SIZE", "Pager", "page_params", "pager", "search_words"]

PAGE_SIZE = 50


def search_words(q: str | None) -> str | None:
    """The words typed in a list's search box (None when blank)."""
    return (q.strip()[:100] or None) if q else None


def page_params(request: Request, size: int = PAGE_SIZE) -> PageParams:
    """The page the query string asks for (``offset``; nonsense means the first page)."""
    try:
        offset = max(0, int(request.query_params.get("offset", "0")))
    except ValueError:
        offset = 0
    return PageParams(limit=size, offset=offset)


@dataclass(frozen=True)
class Pager:
    """Where a page lies in a list, and the links to the previous and next pages."""

    path: str
    query: tuple[tuple[str, str], ...]
    total: int
    offset: int
    limit: int

    def url(self, offset: int) -> str:
        """This list (same filters) from ``offset``."""
        params = [(k, v) for k, v in self.query if k != "offset"]
        if offset:
            params.append(("offset", str(offset)))
        return self.path + ("?" + urlencode(params) if params else "")

    @property
    def first(self) -> int:
        """Number of the page's first row (1-based; 0 for an empty list)."""
        return min(self.offset + 1, self.total)

    @property
    def last(self) -> int:
        """Number of the page's last row."""
        return min(self.offset + self.limit, self.total)

    @property
    def prev_url(self) -> str | None:
        """The previous page, if any."""
        return self.url(max(0, self.offset - self.limit)) if self.offset > 0 else None

    @property
    def next_url(self) -> str | None:
        """The next page, if any."""
        return self.url(self.offset + self.limit) if self.offset + self.limit < self.total else None

    @property
    def page(self) -> int:
        """This page's number (1-based)."""
        return self.offset // self.limit + 1

    @property
    def pages(self) -> int:
        """How many pages the list has."""
        return max(1, -(-self.total // self.limit))


def pager(request: Request, total: int, params: PageParams) -> Pager:
    """The pager of a list page, keeping the request's filters in its links."""
    query = tuple((k, v) for k, v in request.query_params.multi_items() if v != "")
    return Pager(path=request.url.path, query=query, total=total, offset=params.offset,
                 limit=params.limit)
