"""Program versions: bumping them with the orders that changed, and telling waiters after commit."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Table, literal, select, true
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.db import utcnow
from app.playout.models import VillageProgram
from app.rowsets import rowset
from app.runtime.events import emit

__all__ = ["bump_program_versions", "program_version"]


def bump_program_versions(session: Session, village_codes: Iterable[str]) -> None:
    """Increase the program version of each village, in the caller's transaction.

    One ``INSERT … SELECT … ON CONFLICT DO UPDATE SET version = version + 1`` for all of
    them, the codes bound as one list (:func:`app.rowsets.rowset`): a village without a row
    starts at 1, and two transactions bumping the same new village never collide on its
    primary key. Codes go in sorted order, so row locks are always taken in the same order.
    Emits ``orders.changed`` so the terminal protocol can wake long-polls once the
    transaction commits.
    """
    codes = sorted(set(village_codes))
    if not codes:
        return
    session.flush()  # rows added through the ORM (a speaker's move) must exist first
    now = utcnow()
    connection = session.connection()
    insert = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
    table = VillageProgram.__table__
    assert isinstance(table, Table)
    rows = rowset(connection, code=codes)
    # WHERE: SQLite reads "ON CONFLICT" after a bare SELECT … FROM as a join's ON.
    source = (select(rows.c.code, literal(1), literal(now, table.c.updated_at.type))
              .where(true()).order_by(rows.c.ordinal))
    statement = insert(table).from_select(["village_code", "version", "updated_at"], source)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.village_code],
        set_={"version": table.c.version + 1, "updated_at": statement.excluded.updated_at},
    )
    connection.execute(statement)
    for loaded in [o for o in session.identity_map.values() if isinstance(o, VillageProgram)]:
        session.expire(loaded)  # the statement went past the ORM: reload on next access
    emit(session, "orders.changed", village_codes=set(codes))


def program_version(session: Session, village_code: str) -> int:
    """The current program version of a village (0 before its first order)."""
    return session.scalar(
        select(VillageProgram.version).where(VillageProgram.village_code == village_code)
    ) or 0

