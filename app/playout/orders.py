"""Writing play orders: the only code that inserts or updates ``play_orders`` for another part.

Playout owns the table; schedules (routine orders) and broadcasts (urgent ones) decide what
to issue, withdraw or end, and call these functions to write it, in the caller's session
and transaction. Reads stay free: any part may select orders.

- :func:`insert_orders` — rows as the caller built them, ``ON CONFLICT DO NOTHING`` on their
  identity (one executemany per 5,000): the schedules' issuing.
- :func:`insert_village_orders` — one order per village sharing every other value, one
  ``INSERT … SELECT`` over the codes bound as one list (:mod:`app.rowsets`): an urgent
  broadcast to a province's 15,000 villages.
- :func:`set_orders` — new values for orders by id (withdraw, revive, refresh).
- :func:`end_broadcast_orders` — a broadcast's orders in some states move to an end state.

None of them bumps program versions: the caller bumps those of the villages it changed, once,
after all its writes (:func:`app.playout.program.bump_program_versions`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Table, insert, literal, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.db import utcnow
from app.ids import new_ids
from app.playout.models import PlayOrder
from app.rowsets import rowset

__all__ = ["ROUTINE_IDENTITY", "insert_orders", "insert_village_orders", "set_orders",
           "end_broadcast_orders"]

# The unique identity of a routine order (a schedule's occurrence in a village).
ROUTINE_IDENTITY = ("schedule_id", "village_code", "start_at")
_CHUNK = 500


def _chunks(values: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _table() -> Table:
    return cast(Table, PlayOrder.__table__)


def insert_orders(
    session: Session, rows: Sequence[dict[str, Any]], identity: Iterable[str] = ROUTINE_IDENTITY
) -> None:
    """Insert order rows with ``ON CONFLICT DO NOTHING`` on their identity (one executemany).

    ``identity`` names the unique constraint's columns: (schedule_id, village_code, start_at)
    for routine orders, (broadcast_id, village_code) for urgent ones. Callers holding the
    schedule's lock know which rows are new; the clause is what makes a duplicate impossible
    whatever happens. (No RETURNING: on PostgreSQL it would turn the executemany into huge
    multi-row statements that cost more to build than the insert itself.)
    """
    if not rows:
        return
    connection = session.connection()
    insert_ = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
    statement = insert_(_table()).on_conflict_do_nothing(index_elements=list(identity))
    for chunk in _chunks(rows, 5000):
        connection.execute(statement, list(chunk))


def insert_village_orders(
    session: Session, villages: Sequence[str], shared: Mapping[str, Any]
) -> None:
    """One new order per village, alike but for its id and village, in one ``INSERT …
    SELECT``: the ids and villages travel as one list each, the ``shared`` column values
    (kind, times, media, level…) once."""
    if not villages:
        return
    table = _table()
    rows = rowset(session, id=new_ids("ord", len(villages)), village=villages)
    values = [literal(value, table.c[name].type) for name, value in shared.items()]
    session.execute(insert(table).from_select(
        ["id", "village_code", *shared], select(rows.c.id, rows.c.village, *values)))


def set_orders(session: Session, ids: Sequence[str], values: Mapping[str, Any]) -> None:
    """Give the orders ``ids`` these column ``values`` (loaded objects are not refreshed)."""
    for chunk in _chunks(ids):
        session.execute(
            update(PlayOrder).where(PlayOrder.id.in_(chunk)).values(**values)
            .execution_options(synchronize_session=False)
        )


def end_broadcast_orders(
    session: Session, broadcast_id: str, state: str, from_states: Sequence[str]
) -> None:
    """Move the broadcast's orders that are in one of ``from_states`` to ``state``."""
    session.execute(
        update(PlayOrder)
        .where(PlayOrder.broadcast_id == broadcast_id, PlayOrder.state.in_(from_states))
        .values(state=state, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
