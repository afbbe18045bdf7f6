"""Repair crews (镇台联动): the towns each serves and its members; who a ticket goes to."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Select, delete, or_, select
from sqlalchemy.orm import Session

from app.areas.models import Area
from app.audit.service import record
from app.auth.permissions import Principal
from app.auth.scope import within
from app.db import utcnow
from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.maintenance.models import (
    Crew,
    CrewMember,
    CrewTown,
    Ticket,
    TicketEvent,
    ticket_in_progress,
)
from app.maintenance.schemas import CrewCreate, CrewRead, CrewUpdate
from app.users.models import User

__all__ = [
    "crew_read",
    "crews_read",
    "create_crew",
    "list_crews",
    "get_crew",
    "get_crew_in_scope",
    "update_crew",
    "delete_crew",
    "crew_ids_of_user",
    "crew_for_towns",
    "towns_of_crews",
]


def crews_read(session: Session, crews: Iterable[Crew]) -> list[CrewRead]:
    """Client views of crews, with their towns and members looked up at once."""
    crews = list(crews)
    ids = [c.id for c in crews]
    towns: dict[str, list[str]] = {i: [] for i in ids}
    members: dict[str, list[str]] = {i: [] for i in ids}
    if ids:
        for crew_id, town in session.execute(
            select(CrewTown.crew_id, CrewTown.town_code).where(CrewTown.crew_id.in_(ids))
            .order_by(CrewTown.town_code)
        ):
            towns[crew_id].append(town)
        for crew_id, username in session.execute(
            select(CrewMember.crew_id, User.username).join(User, User.id == CrewMember.user_id)
            .where(CrewMember.crew_id.in_(ids)).order_by(User.username)
        ):
            members[crew_id].append(username)
    return [CrewRead(id=c.id, name=c.name, towns=towns[c.id], members=members[c.id],
                     created_at=c.created_at) for c in crews]


def crew_read(session: Session, crew: Crew) -> CrewRead:
    """The client view of one crew."""
    return crews_read(session, [crew])[0]


def _towns(session: Session, principal: Principal, codes: list[str]) -> list[Area]:
    areas = {a.code: a for a in session.scalars(select(Area).where(Area.code.in_(codes)))}
    errors = [{"field": "towns", "detail": f"{code!r} is not a town"}
              for code in codes if code not in areas or areas[code].level != "town"]
    if errors:
        raise InvalidInput("every entry of towns must be a town's code", fields=errors)
    outside = [code for code in codes if not principal.covers(areas[code].path)]
    if outside:
        raise Forbidden(f"town(s) {', '.join(outside)} are outside your area")
    return [areas[code] for code in codes]


def _members(session: Session, usernames: list[str]) -> list[User]:
    users = {u.username: u for u in session.scalars(
        select(User).where(User.username.in_(usernames)))}
    missing = [name for name in usernames if name not in users]
    if missing:
        raise InvalidInput("every member must be an existing username",
                           fields=[{"field": "members", "detail": f"no user {name!r}"}
                                   for name in missing])
    return [users[name] for name in usernames]


def _check_towns_free(session: Session, crew_id: str | None, codes: list[str]) -> None:
    taken = session.execute(
        select(CrewTown.town_code, CrewTown.crew_id)
        .where(CrewTown.town_code.in_(codes), CrewTown.crew_id != (crew_id or ""))
    ).all()
    if taken:
        town, other = taken[0]
        raise Conflict(f"town {town!r} is already served by crew {other!r}", crew=other,
                       town=town)


def _check_name_free(session: Session, crew_id: str | None, name: str) -> None:
    other = session.scalar(select(Crew.id).where(Crew.name == name, Crew.id != (crew_id or "")))
    if other is not None:
        raise Conflict(f"a crew named {name!r} exists", crew=other)


def _set_towns(session: Session, crew: Crew, towns: list[Area]) -> None:
    session.execute(delete(CrewTown).where(CrewTown.crew_id == crew.id))
    session.add_all(CrewTown(crew_id=crew.id, town_code=t.code) for t in towns)
    session.flush()


def _set_members(session: Session, crew: Crew, users: list[User]) -> None:
    session.execute(delete(CrewMember).where(CrewMember.crew_id == crew.id))
    session.add_all(CrewMember(crew_id=crew.id, user_id=u.id) for u in users)
    session.flush()


def _assign_waiting_tickets(session: Session, principal: Principal, crew: Crew,
                            towns: list[str]) -> None:
    """Tickets of these towns that no crew held (none served the town) now go to this one."""
    if not towns:
        return
    waiting = session.scalars(select(Ticket).where(
        Ticket.town_code.in_(towns), ticket_in_progress(),
        or_(Ticket.crew_id.is_(None), Ticket.crew_id != crew.id))).all()
    for ticket in waiting:
        ticket.crew_id = crew.id
        session.add(TicketEvent(ticket_id=ticket.id, kind="assigned", at=utcnow(),
                                actor=principal.actor, detail={"crew": crew.id}))


def create_crew(*, session: Session, principal: Principal, data: CrewCreate) -> Crew:
    """Form a crew serving towns; open tickets of those towns are assigned to it."""
    towns = _towns(session, principal, data.towns)
    users = _members(session, data.members)
    _check_name_free(session, None, data.name)
    _check_towns_free(session, None, data.towns)
    crew = Crew(name=data.name)
    session.add(crew)
    session.flush()
    _set_towns(session, crew, towns)
    _set_members(session, crew, users)
    _assign_waiting_tickets(session, principal, crew, data.towns)
    record(session=session, actor=principal.actor, action="create", entity="crew",
           entity_id=crew.id, after=crew_read(session, crew).model_dump())
    return crew


def _scope(principal: Principal) -> Select[tuple[str]]:
    """Ids of crews the principal may see: serving a town in its area, or its own."""
    inside = select(CrewTown.crew_id).join(Area, Area.code == CrewTown.town_code)
    if principal.area_path is not None:
        inside = inside.where(within(Area.path, principal.area_path))
    mine = select(CrewMember.crew_id).join(User, User.id == CrewMember.user_id) \
        .where(User.username == principal.name)
    return inside.union(mine)  # type: ignore[return-value]


def list_crews(*, principal: Principal) -> Select[Crew]:
    """Crews the principal may see, by name."""
    stmt = select(Crew)
    if principal.area_path is not None or principal.role == "crew":
        stmt = stmt.where(Crew.id.in_(_scope(principal)))
    return stmt.order_by(Crew.name)


def get_crew(*, session: Session, crew_id: str) -> Crew:
    """One crew; 404 when unknown."""
    crew = session.get(Crew, crew_id)
    if crew is None:
        raise NotFound(f"crew {crew_id!r} does not exist")
    return crew


def get_crew_in_scope(*, session: Session, principal: Principal, crew_id: str) -> Crew:
    """One crew the principal may see; 404 / 403 otherwise."""
    crew = get_crew(session=session, crew_id=crew_id)
    if principal.area_path is None and principal.role != "crew":
        return crew
    visible = session.scalar(select(Crew.id).where(Crew.id == crew_id,
                                                   Crew.id.in_(_scope(principal))))
    if visible is None:
        raise Forbidden(f"crew {crew_id!r} serves no town in your area")
    return crew


def _check_may_change(session: Session, principal: Principal, crew: Crew) -> None:
    """A crew serving towns outside the principal's area is someone else's to change."""
    current = crew_read(session, crew).towns
    _towns(session, principal, current)


def update_crew(*, session: Session, principal: Principal, crew_id: str,
                data: CrewUpdate) -> Crew:
    """Rename a crew or replace its towns or members."""
    crew = get_crew(session=session, crew_id=crew_id)
    _check_may_change(session, principal, crew)
    before = crew_read(session, crew).model_dump()
    if data.name is not None and data.name != crew.name:
        _check_name_free(session, crew.id, data.name)
        crew.name = data.name
    if data.towns is not None:
        towns = _towns(session, principal, data.towns)
        _check_towns_free(session, crew.id, data.towns)
        _set_towns(session, crew, towns)
        _assign_waiting_tickets(session, principal, crew, data.towns)
    if data.members is not None:
        _set_members(session, crew, _members(session, data.members))
    crew.updated_at = utcnow()
    session.flush()
    record(session=session, actor=principal.actor, action="update", entity="crew",
           entity_id=crew.id, before=before, after=crew_read(session, crew).model_dump())
    return crew


def delete_crew(*, session: Session, principal: Principal, crew_id: str) -> None:
    """Disband a crew; its tickets wait for the next crew to serve their towns."""
    crew = get_crew(session=session, crew_id=crew_id)
    _check_may_change(session, principal, crew)
    before = crew_read(session, crew).model_dump()
    session.execute(delete(CrewTown).where(CrewTown.crew_id == crew.id))
    session.execute(delete(CrewMember).where(CrewMember.crew_id == crew.id))
    for ticket in session.scalars(select(Ticket).where(Ticket.crew_id == crew.id)):
        ticket.crew_id = None
    session.delete(crew)
    record(session=session, actor=principal.actor, action="delete", entity="crew",
           entity_id=crew_id, before=before)


def crew_ids_of_user(session: Session, username: str) -> list[str]:
    """The crews a user belongs to."""
    return list(session.scalars(
        select(CrewMember.crew_id).join(User, User.id == CrewMember.user_id)
        .where(User.username == username)))


def crew_for_towns(session: Session, towns: Iterable[str]) -> dict[str, str]:
    """The crew serving each town (towns no crew serves are absent)."""
    codes = list(set(towns))
    if not codes:
        return {}
    return dict(session.execute(
        select(CrewTown.town_code, CrewTown.crew_id).where(CrewTown.town_code.in_(codes))).all())


def towns_of_crews(session: Session, crew_ids: Iterable[str]) -> list[str]:
    """The towns served by these crews."""
    ids = list(crew_ids)
    if not ids:
        return []
    return list(session.scalars(select(CrewTown.town_code).where(CrewTown.crew_id.in_(ids))))
