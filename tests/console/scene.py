"""A district with a past, for the browser tests of the look-back pages (reports, map, tickets).

Everything a person does goes through the HTTP API of the live server; only what happened
*before* the test (speakers registered ten days ago, old outages and repairs) is written to
the database directly, since the clock of a live server cannot be moved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from tests.conftest import ADMIN_PASSWORD, PASSWORD

__all__ = ["Scene", "DAY"]

DAY = timedelta(days=1)
AREAS = [("d1", "青山区", "district", None), ("t1", "东镇", "town", "d1"),
         ("t2", "西镇", "town", "d1"), ("v11", "东一村", "village", "t1"),
         ("v12", "东二村", "village", "t1"), ("v21", "西一村", "village", "t2")]
# serial, village, name, lat, lon: v11 has two, v12 one (to be silent), v21 one.
SPEAKERS = [("SN-11A", "v11", "村委会大喇叭", 30.2741, 120.1551),
            ("SN-11B", "v11", "晒谷场音柱", 30.2762, 120.1580),
            ("SN-12A", "v12", "东二村口", 30.2690, 120.1702),
            ("SN-21A", "v21", "西一村小学", 30.2588, 120.1302)]


@dataclass
class Scene:
    """The district d1, its users, four speakers and their tokens."""

    url: str
    http: httpx.Client = field(init=False)
    headers: dict[str, str] = field(init=False)
    speakers: dict[str, dict[str, Any]] = field(default_factory=dict)
    crew: str | None = None  # the crew serving both towns, once formed

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.url, timeout=30)
        token = self.call("POST", "/api/v1/auth/token",
                          json={"username": "admin", "password": ADMIN_PASSWORD}, auth=False)
        self.headers = {"Authorization": f"Bearer {token['access_token']}"}

    def call(self, method: str, path: str, *, auth: bool = True, **kwargs: Any) -> Any:
        """One API call that must succeed; its JSON answer."""
        response = self.http.request(method, path, headers=self.headers if auth else None,
                                     **kwargs)
        assert response.status_code in (200, 201), (path, response.text)
        return response.json()

    def build(self, users: tuple[tuple[str, str, str | None], ...] = ()) -> Scene:
        """Areas, users (username, role, area) and the four speakers."""
        for code, name, level, parent in AREAS:
            self.call("POST", "/api/v1/areas",
                      json={"code": code, "name": name, "level": level, "parent": parent})
        for username, role, area in users:
            self.call("POST", "/api/v1/users", json={"username": username, "password": PASSWORD,
                                                     "role": role, "area": area})
        for serial, village, name, lat, lon in SPEAKERS:
            self.speakers[serial] = self.call("POST", "/api/v1/speakers", json={
                "serial": serial, "village": village, "name": name, "lat": lat, "lon": lon})
        return self

    def form_crew(self, member: str) -> str:
        """One crew serving both towns, with ``member`` in it."""
        self.crew = self.call("POST", "/api/v1/crews", json={
            "name": "青山维修队", "towns": ["t1", "t2"], "members": [member]})["id"]
        return self.crew

    def beat(self, serial: str, **body: Any) -> None:
        """A heartbeat from the speaker's terminal."""
        token = self.speakers[serial]["token"]
        response = self.http.post("/terminal/v1/heartbeat", json={"status": "ok",
                                  "power": "mains", **body},
                                  headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text

    def terminal(self, serial: str, method: str, path: str, **kwargs: Any) -> Any:
        """A terminal protocol call with the speaker's token."""
        token = self.speakers[serial]["token"]
        response = self.http.request(method, path, headers={"Authorization": f"Bearer {token}"},
                                     **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    def backdate(self, days: int, now: datetime, heard: tuple[str, ...]) -> None:
        """Pretend the areas and speakers were registered ``days`` ago, the ``heard`` ones
        heard since."""
        from sqlalchemy import update

        from app.areas.models import Area
        from app.db import session_scope
        from app.speakers.models import Speaker, SpeakerHeartbeat

        since = now - days * DAY
        with session_scope() as session:
            session.execute(update(Area).values(created_at=since))
            session.execute(update(Speaker).values(created_at=since))
            for serial in heard:
                session.add(SpeakerHeartbeat(speaker_id=self.speakers[serial]["id"], at=since,
                                             received_at=since, status="ok", power="mains"))

    def past_outage(self, serial: str, cause: str, start: datetime, hours: float,
                    repaired: bool = True) -> None:
        """A detected outage (and a ticket closed when it ended, if ``repaired``)."""
        from app.db import session_scope
        from app.maintenance.models import Outage, Ticket

        speaker = self.speakers[serial]
        end = start + timedelta(hours=hours)
        village = speaker["village"]
        town = "t2" if village == "v21" else "t1"
        with session_scope() as session:
            ticket = None
            if repaired:
                ticket = Ticket(speaker_id=speaker["id"], village_code=village, town_code=town,
                                area_path=f"d1/{town}/{village}", status="closed",
                                priority="normal", cause=cause, opened_at=start,
                                crew_id=self.crew,
                                due_at=start + 3 * DAY, resolved_at=end, closed_at=end,
                                resolution="修复")
                session.add(ticket)
                session.flush()
            session.add(Outage(speaker_id=speaker["id"], village_code=village, source="detected",
                               cause=cause, last_heard_at=start, opened_at=start,
                               closed_at=end, ticket_id=ticket.id if ticket else None))

    def recovered_ticket(self, serial: str, cause: str, opened: datetime,
                         back: datetime) -> str:
        """An open ticket whose detected outage closed at ``back``, as the sweep leaves it."""
        from app.db import session_scope
        from app.maintenance.models import Outage, Ticket, TicketEvent

        speaker = self.speakers[serial]
        village = speaker["village"]
        town = "t2" if village == "v21" else "t1"
        with session_scope() as session:
            ticket = Ticket(speaker_id=speaker["id"], village_code=village, town_code=town,
                            area_path=f"d1/{town}/{village}", status="open", priority="high",
                            cause=cause, opened_at=opened, due_at=opened + DAY,
                            crew_id=self.crew)
            session.add(ticket)
            session.flush()
            session.add(Outage(speaker_id=speaker["id"], village_code=village, source="detected",
                               cause=cause, last_heard_at=opened, opened_at=opened,
                               closed_at=back, ticket_id=ticket.id))
            session.add_all([TicketEvent(ticket_id=ticket.id, kind="opened", at=opened,
                                         actor="system:cunxiang"),
                             TicketEvent(ticket_id=ticket.id, kind="recovered", at=back,
                                         actor="system:cunxiang")])
            return ticket.id

    def daily_schedule(self, name: str, targets: list[str], times: list[str]) -> str:
        """An approved, rendered announcement in a playlist, scheduled daily at ``times``."""
        import time

        ann = self.call("POST", "/api/v1/announcements", json={
            "title": name, "body": "各位村民：请注意防火，上山不带火种。", "area": "d1"})
        self.call("POST", f"/api/v1/announcements/{ann['id']}/submit")
        self.call("POST", "/api/v1/users", json={"username": "shen", "password": PASSWORD,
                                                 "role": "reviewer", "area": "d1"})
        token = self.call("POST", "/api/v1/auth/token", auth=False,
                          json={"username": "shen", "password": PASSWORD})["access_token"]
        approved = self.http.post(f"/api/v1/announcements/{ann['id']}/approve",
                                  headers={"Authorization": f"Bearer {token}"})
        assert approved.status_code == 200, approved.text
        deadline = time.monotonic() + 60
        while (self.call("GET", f"/api/v1/announcements/{ann['id']}")["audio"] or {}).get(
                "status") != "ready":
            assert time.monotonic() < deadline, "the announcement was not rendered in 60 s"
            time.sleep(0.2)
        playlist = self.call("POST", "/api/v1/playlists", json={
            "name": name, "area": "d1", "items": [{"announcement": ann["id"]}]})
        return str(self.call("POST", "/api/v1/schedules", json={
            "name": name, "playlist": playlist["id"], "targets": targets, "times": times})["id"])
