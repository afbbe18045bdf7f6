"""Lists bound as one parameter and read back as rows, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.db import session_scope
from app.rowsets import rowset


def test_rows_come_back_whole_and_in_order(env: dict[str, str]) -> None:
    ids = [f"id{n}" for n in range(2000)]
    villages = [f"v{n % 7}" for n in range(2000)]
    villages[3] = "村, \"引号\" and \\ back"  # any text survives the trip
    with session_scope() as session:
        rows = rowset(session, id=ids, village=villages)
        read = session.execute(select(rows.c.id, rows.c.village, rows.c.ordinal)
                               .order_by(rows.c.ordinal)).all()
        none = rowset(session, code=[])
        empty = session.execute(select(none.c.code)).all()
    assert [tuple(r) for r in read] == list(zip(ids, villages, range(1, 2001), strict=True))
    assert empty == []


def test_columns_of_different_lengths_are_refused(env: dict[str, str]) -> None:
    with session_scope() as session, pytest.raises(ValueError):
        rowset(session, id=["a", "b"], village=["x"])
