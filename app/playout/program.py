"""Program versions: bumping them with the orders that changed, and telling waiters after commit."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.events import emit
from app.playout.models import VillageProgram

__all__ = ["bump_program_versions", "program_version"]


def bump_program_versions(session: Session, village_codes: Iterable[str]) -> None:
    """Increase the program version of each village, in the caller's transaction.

    Emits ``orders.changed`` so the terminal protocol can wake long-polls once the
    transaction commits.
    """
    codes = sorted(set(village_codes))
    if not codes:
        return
    existing = set(session.scalars(
        select(VillageProgram.village_code).where(VillageProgram.village_code.in_(codes))
    ))
    for code in codes:
        if code not in existing:
            session.add(VillageProgram(village_code=code, version=1))
    if existing:
        session.execute(
            update(VillageProgram)
            .where(VillageProgram.village_code.in_(existing))
            .values(version=VillageProgram.version + 1)
            .execution_options(synchronize_session=False)
        )
    session.flush()
    emit(session, "orders.changed", village_codes=set(codes))


def program_version(session: Session, village_code: str) -> int:
    """The current program version of a village (0 before its first order)."""
    return session.scalar(
        select(VillageProgram.version).where(VillageProgram.village_code == village_code)
    ) or 0
