"""Names instead of codes: what the console shows for an area, a user, a speaker or an actor.

Templates get a :class:`Names` for the request (``names.area(code)``…): the name, with the
code on hover (``title``), so a clerk reads 东一村 and can still find ``330102001``.
Lookups go through the request's session (its identity map answers repeats) and are cached.
"""

from __future__ import annotations

from collections.abc import Iterable

from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.areas.models import Area
from app.playlists.models import Playlist
from app.speakers.models import Speaker
from app.users.models import User

__all__ = ["Names", "SYSTEM_ACTORS"]

SYSTEM_ACTORS = {"system:cunxiang": "系统", "system:apply": "系统（播出计划文件）"}


def _hover(name: str, code: str) -> Markup:
    if name == code:
        return Markup('<span class="named">{}</span>').format(name)
    return Markup('<span class="named" title="{}">{}</span>').format(code, name)


class Names:
    """Display names looked up on demand for one page."""

    def __init__(self, session: Session | None) -> None:
        self._session = session
        self._areas: dict[str, str] = {}
        self._users: dict[str, str] = {}

    def preload_areas(self, codes: Iterable[str]) -> None:
        """Fetch many area names in one query (lists of rows)."""
        wanted = {c for c in codes if c and c not in self._areas}
        if wanted and self._session is not None:
            rows = self._session.execute(
                select(Area.code, Area.name).where(Area.code.in_(wanted))).all()
            self._areas.update({code: name for code, name in rows})

    def area_name(self, code: str | None) -> str:
        """An area's name (its code when unknown)."""
        if not code:
            return "—"
        if code not in self._areas:
            found = self._session.get(Area, code) if self._session is not None else None
            self._areas[code] = found.name if found is not None else code
        return self._areas[code]

    def area(self, code: str | None) -> Markup:
        """An area's name with its code on hover."""
        return _hover(self.area_name(code), code) if code else Markup("—")

    def areas(self, codes: Iterable[str] | None, limit: int = 6) -> Markup:
        """Several areas, 、-separated (the rest counted)."""
        codes = list(codes or [])
        self.preload_areas(codes)
        shown = Markup("、").join(self.area(c) for c in codes[:limit])
        more = len(codes) - limit
        return shown + Markup(f" 等 {len(codes)} 处") if more > 0 else shown

    def user_name(self, username: str | None) -> str:
        """A user's name (the username when they have none)."""
        if not username:
            return "—"
        if username not in self._users:
            name = (self._session.scalar(select(User.name).where(User.username == username))
                    if self._session is not None else None)
            self._users[username] = name or username
        return self._users[username]

    def user(self, username: str | None) -> Markup:
        """A user's name with the username on hover."""
        return _hover(self.user_name(username), username) if username else Markup("—")

    def actor(self, actor: str | None) -> Markup:
        """Who did something, from the audit form ``kind:name`` (``user:li`` → 李明)."""
        if not actor:
            return Markup("—")
        if actor in SYSTEM_ACTORS:
            return _hover(SYSTEM_ACTORS[actor], actor)
        kind, _, name = actor.partition(":")
        if kind == "user":
            return self.user(name)
        if kind == "api_key":
            return _hover(f"接口密钥「{name}」", actor)
        if kind == "terminal":
            return _hover(f"终端 {name}", actor)
        if kind == "system":
            return _hover("系统", actor)
        return Markup(escape(actor))

    def speaker(self, speaker_id: str | None) -> Markup:
        """A speaker's name (or serial), with serial and location on hover."""
        if not speaker_id:
            return Markup("—")
        found = self._session.get(Speaker, speaker_id) if self._session is not None else None
        if found is None:
            return Markup(escape(speaker_id))
        hover = " · ".join(p for p in (found.serial, found.location) if p)
        return _hover(found.name or found.serial, hover)

    def playlist(self, playlist_id: str | None) -> Markup:
        """A playlist's name."""
        found = (self._session.get(Playlist, playlist_id)
                 if self._session is not None and playlist_id else None)
        return _hover(found.name, playlist_id or "") if found is not None else Markup("—")
