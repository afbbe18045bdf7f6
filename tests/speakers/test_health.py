"""The health rule's two forms agree: the pure function and its SQL, on a real database."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.areas.schemas import AreaCreate
from app.areas.service import create_area
from app.auth.permissions import SYSTEM
from app.db import session_scope
from app.speakers.health import (
    FAULT,
    MAINTENANCE,
    OFFLINE,
    ONLINE,
    STATUSES,
    derive_status,
    healthy_clause,
    heard_recently,
    silent_clause,
    sounds_healthy,
    status_clause,
)
from app.speakers.models import Speaker

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
TIMEOUT = 180.0
# Never heard, just heard, heard just inside, exactly at and just past the timeout, long ago.
HEARD = [None, NOW, NOW - timedelta(seconds=TIMEOUT - 1), NOW - timedelta(seconds=TIMEOUT),
         NOW - timedelta(seconds=TIMEOUT, microseconds=1), NOW - timedelta(days=3)]
REPORTED = [None, "ok", "fault"]


def _speakers() -> dict[str, tuple[bool, datetime | None, str | None]]:
    """One speaker per combination of the rule's inputs, stored; their inputs by id."""
    cases = {}
    with session_scope() as session:
        for code, level, parent in (("hd", "district", None), ("ht", "town", "hd"),
                                    ("hv", "village", "ht")):
            create_area(session=session, principal=SYSTEM, data=AreaCreate(
                code=code, name=code, level=level, parent=parent))  # type: ignore[arg-type]
        for n, (maintenance, heard, reported) in enumerate(
                itertools.product((False, True), HEARD, REPORTED)):
            speaker = Speaker(id=f"spk_h{n}", serial=f"H-{n}", village_code="hv",
                              maintenance=maintenance, last_heard_at=heard,
                              last_status=reported)
            session.add(speaker)
            cases[speaker.id] = (maintenance, heard, reported)
    return cases


def _matching(clause: object) -> set[str]:
    with session_scope() as session:
        return set(session.scalars(select(Speaker.id).where(clause)))  # type: ignore[arg-type]


def test_the_sql_form_of_each_status_matches_the_pure_rule(env: dict[str, str]) -> None:
    cases = _speakers()
    for status in STATUSES:
        expected = {sid for sid, (maintenance, heard, reported) in cases.items()
                    if derive_status(maintenance=maintenance, last_heard_at=heard,
                                     last_status=reported, now=NOW, timeout_s=TIMEOUT) == status}
        assert _matching(status_clause(status, NOW, TIMEOUT)) == expected, status
    # Every case has exactly one status, and each status occurs: the grid covers the rule.
    assert {derive_status(maintenance=m, last_heard_at=h, last_status=r, now=NOW,
                          timeout_s=TIMEOUT) for m, h, r in cases.values()} == set(STATUSES)


def test_silence_and_sounding_healthy_match_their_sql(env: dict[str, str]) -> None:
    cases = _speakers()
    silent = {sid for sid, (_m, heard, _r) in cases.items()
              if not heard_recently(heard, now=NOW, timeout_s=TIMEOUT)}
    healthy = {sid for sid, (_m, heard, reported) in cases.items()
               if sounds_healthy(heard, reported, now=NOW, timeout_s=TIMEOUT)}
    assert _matching(silent_clause(NOW, TIMEOUT)) == silent
    assert _matching(healthy_clause(NOW, TIMEOUT)) == healthy
    # In maintenance a speaker still sounds healthy: a repair proves itself.
    assert any(cases[sid][0] for sid in healthy)


def test_the_rule_at_its_edges() -> None:
    def status(heard: datetime | None, reported: str | None = "ok",
               maintenance: bool = False) -> str:
        return derive_status(maintenance=maintenance, last_heard_at=heard, last_status=reported,
                             now=NOW, timeout_s=TIMEOUT)

    assert status(None) == OFFLINE
    assert status(NOW - timedelta(seconds=TIMEOUT)) == ONLINE  # exactly the timeout: still heard
    assert status(NOW - timedelta(seconds=TIMEOUT + 1)) == OFFLINE
    assert status(NOW, "fault") == FAULT
    assert status(NOW - timedelta(days=1), "fault") == OFFLINE  # a silent fault: nobody knows
    assert status(NOW, "ok", maintenance=True) == MAINTENANCE
