"""The people and devices of a schedule file: ``users``, ``crews`` and ``speakers``.

They let a file (the demo district above all) bring its own staff, reviewer and crew logins,
the crew serving its towns, and a loudspeaker or two::

    users:     [{username, password, role, area?, name?}]
    crews:     [{name, towns: [town codes], members: [usernames]}]
    speakers:  [{serial, village, name?, location?, lat?, lon?}]

As with the rest of a file, applying is idempotent and goes through the API's service
functions (and checks). A user's password is only used to create the user: applying again
never resets it. A new speaker's terminal token is returned (shown once, by the command);
an existing speaker keeps its token (issue a new one in the console or with
``POST /api/v1/speakers/{id}/token``). ``cunxiang export`` writes none of them back out.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.permissions import SYSTEM
from app.maintenance import crews
from app.maintenance.models import Crew
from app.maintenance.schemas import CrewCreate, CrewUpdate
from app.speakers import service as speakers
from app.speakers.models import Speaker
from app.speakers.schemas import SpeakerCreate, SpeakerUpdate
from app.users.models import User
from app.users.schemas import UserCreate, UserUpdate
from app.users.service import create_user, update_user

__all__ = ["UserEntry", "CrewEntry", "SpeakerEntry", "apply_user", "apply_crew",
           "apply_speaker"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserEntry(_Strict):
    """A login: its password is used only when the user is created."""

    username: str
    password: str
    role: Literal["admin", "staff", "reviewer", "crew"]
    area: str | None = None
    name: str | None = None


class CrewEntry(_Strict):
    """A repair crew: the towns it serves and its members' usernames."""

    name: str
    towns: list[str] = []
    members: list[str] = []


class SpeakerEntry(_Strict):
    """A loudspeaker terminal in a village."""

    serial: str
    village: str
    name: str | None = None
    location: str | None = None
    lat: float | None = None
    lon: float | None = None


def apply_user(session: Session, entry: UserEntry) -> str:
    """Create the user, or bring its role, area and name in line (never its password)."""
    user = session.scalar(select(User).where(User.username == entry.username))
    if user is None:
        create_user(session=session, principal=SYSTEM, data=UserCreate(**entry.model_dump()))
        return "created"
    if (user.role, user.area_code, user.name) == (entry.role, entry.area, entry.name):
        return "unchanged"
    update_user(session=session, principal=SYSTEM, username=entry.username,
                data=UserUpdate(role=entry.role, area=entry.area, name=entry.name))
    return "updated"


def apply_crew(session: Session, entry: CrewEntry) -> str:
    """Create the crew, or give it the file's towns and members."""
    crew = session.scalar(select(Crew).where(Crew.name == entry.name))
    if crew is None:
        crews.create_crew(session=session, principal=SYSTEM, data=CrewCreate(**entry.model_dump()))
        return "created"
    current = crews.crew_read(session, crew)
    if (sorted(current.towns), sorted(current.members)) == (sorted(entry.towns),
                                                             sorted(entry.members)):
        return "unchanged"
    crews.update_crew(session=session, principal=SYSTEM, crew_id=crew.id,
                      data=CrewUpdate(towns=entry.towns, members=entry.members))
    return "updated"


def apply_speaker(session: Session, entry: SpeakerEntry) -> tuple[str, str | None]:
    """Register the speaker (its new token returned) or bring its village, name and place in
    line with the file; returns the outcome and the token (None unless created)."""
    speaker = session.scalar(select(Speaker).where(Speaker.serial == entry.serial,
                                                   Speaker.retired_at.is_(None)))
    if speaker is None:
        _, token = speakers.create_speaker(session=session, principal=SYSTEM,
                                           data=SpeakerCreate(**entry.model_dump()))
        return "created", token
    wanted = entry.model_dump(exclude={"serial"})
    current = {"village": speaker.village_code, "name": speaker.name,
               "location": speaker.location, "lat": speaker.lat, "lon": speaker.lon}
    if current == wanted:
        return "unchanged", None
    speakers.update_speaker(session=session, principal=SYSTEM, speaker_id=speaker.id,
                            data=SpeakerUpdate(**wanted))
    return "updated", None
