"""Console page of the pronunciation lexicon: the entries, a form to add one and hear it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from app.console.deps import ConsoleUser, render, require_page
from app.console.pages_content import area_choices
from app.db import DbSession
from app.pronunciations import service

__all__ = ["router"]

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/pronunciations")
def pronunciation_list(request: Request, user: ConsoleUser, session: DbSession) -> Any:
    """Entries inside the user's area; staff add one, hear it at once and remove one."""
    require_page(user, "content:read")
    request.state.principal = user
    rows = session.scalars(service.list_pronunciations(session=session, principal=user)
                           .limit(2000))
    return render(request, "pronunciations.html", user,
                  items=[service.to_read(row) for row in rows],
                  areas=area_choices(session, user))
