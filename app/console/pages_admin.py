"""Console administration: users, repair crews, API keys, and each speaker with its token.

As everywhere in the console, the pages gather what the forms need and the forms act through
the API (``/api/v1/users``, ``/crews``, ``/api-keys``, ``/speakers``) with the user's own
permissions; a secret (an API key, a terminal token) is shown once, in the answer that made it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select

from app.console.deps import ConsoleUser, render, require_page
from app.console.i18n import ROLES as ROLE_LABELS
from app.console.listing import page_params, pager, search_words
from app.console.pages_content import area_choices
from app.db import DbSession
from app.maintenance import crews
from app.pagination import fetch_page
from app.speakers import service as speakers
from app.speakers.deps import FreshHeartbeats
from app.users import service as users
from app.users.models import ROLES, User

__all__ = ["router"]

router = APIRouter(prefix="/console", include_in_schema=False)


# ---------------------------------------------------------------- users


@router.get("/users")
def user_list(request: Request, user: ConsoleUser, session: DbSession, q: str | None = None,
              role: str | None = None) -> Any:
    """Every user, by username; search by name, filter by role; the form to add one."""
    require_page(user, "users:admin")
    role = role if role in ROLES else None
    params = page_params(request)
    rows, total = fetch_page(
        session, users.list_users(principal=user, q=search_words(q), role=role), params)
    return render(request, "users.html", user, items=[users.user_read(u) for u in rows],
                  q=q, role=role, pager=pager(request, total, params),
                  areas=area_choices(session, user))


@router.get("/users/{username}")
def user_detail(username: str, request: Request, user: ConsoleUser, session: DbSession) -> Any:
    """One user: name, role and area, a new password, disable or enable."""
    require_page(user, "users:admin")
    found = users.get_user(session=session, username=username)
    member_of = crews.crew_ids_of_user(session, found.username)
    crew_rows = crews.crews_read(session, [crews.get_crew(session=session, crew_id=c)
                                           for c in member_of])
    return render(request, "user_detail.html", user, item=users.user_read(found),
                  areas=area_choices(session, user), crews=crew_rows,
                  is_me=found.username == user.name)


# ---------------------------------------------------------------- crews


def _crew_users(session: Any, principal: Any) -> list[User] | None:
    """Crew members to tick (admins see users; others type usernames: no user list for them)."""
    if not principal.can("users:admin"):
        return None
    return list(session.scalars(select(User).where(User.role == "crew", User.disabled.is_(False))
                                .order_by(User.username).limit(1000)))


@router.get("/crews")
def crew_list(request: Request, user: ConsoleUser, session: DbSession) -> Any:
    """Repair crews with their towns and members; the form to form one."""
    require_page(user, "tickets:read")
    params = page_params(request)
    rows, total = fetch_page(session, crews.list_crews(principal=user), params)
    return render(request, "crews.html", user, items=crews.crews_read(session, rows),
                  pager=pager(request, total, params), item=None,
                  towns=area_choices(session, user, "town"), crew_users=_crew_users(session, user))


@router.get("/crews/{crew_id}")
def crew_detail(crew_id: str, request: Request, user: ConsoleUser, session: DbSession) -> Any:
    """One crew: rename it, change its towns and members, or disband it."""
    require_page(user, "tickets:read")
    found = crews.get_crew_in_scope(session=session, principal=user, crew_id=crew_id)
    return render(request, "crew_detail.html", user, item=crews.crew_read(session, found),
                  towns=area_choices(session, user, "town"), crew_users=_crew_users(session, user))


# ---------------------------------------------------------------- API keys


@router.get("/api-keys")
def api_key_list(request: Request, user: ConsoleUser, session: DbSession) -> Any:
    """API keys (never their secrets), newest first; the form to issue one."""
    require_page(user, "users:admin")
    params = page_params(request)
    rows, total = fetch_page(session, users.list_api_keys(), params)
    return render(request, "api_keys.html", user, items=[users.api_key_read(k) for k in rows],
                  pager=pager(request, total, params), areas=area_choices(session, user))


# ---------------------------------------------------------------- speakers


@router.get("/speakers/new")
def speaker_new(request: Request, user: ConsoleUser, session: DbSession) -> Any:
    """Register a speaker; its terminal token is shown once, with the line that sets it up."""
    require_page(user, "speakers:write")
    return render(request, "speaker_new.html", user,
                  villages=area_choices(session, user, "village"))


@router.get("/speakers/{speaker_id}", dependencies=[FreshHeartbeats])
def speaker_detail(speaker_id: str, request: Request, user: ConsoleUser,
                   session: DbSession) -> Any:
    """One speaker: its state, rename or relocate it, move it, maintenance, token, retire."""
    require_page(user, "speakers:read")
    found = speakers.get_speaker_in_scope(session=session, principal=user, speaker_id=speaker_id)
    return render(request, "speaker_detail.html", user,
                  item=speakers.speakers_read(session, [found])[0],
                  villages=area_choices(session, user, "village"), roles=ROLE_LABELS)
