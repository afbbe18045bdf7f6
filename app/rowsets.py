"""Thousands of rows in one statement: Python lists bound as one JSON parameter and read back
as a table (``json_each`` on SQLite, ``json_array_elements … WITH ORDINALITY`` on PostgreSQL).

An urgent broadcast writes one order and one program version per village, up to a
province's 15,000. An ``executemany`` of that many rows costs a round trip (or a pass of the
driver) and SQLAlchemy's per-row type processing for every row; an
``INSERT … SELECT … FROM`` :func:`rowset` sends the rows as one JSON text (encoded in C,
bound as one string: cheaper for the driver than an array parameter it checks element by
element) and every value the rows share once, so the database does the per-row work.

Only text columns: ids and area codes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import String, Subquery, bindparam, cast, func, select
from sqlalchemy.dialects.postgresql import JSON
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

__all__ = ["rowset"]


def rowset(bind: Session | Connection, **columns: Sequence[str]) -> Subquery:
    """A subquery with one row per position of the equally long ``columns``, in their order:
    its columns are named like the keyword arguments, plus ``ordinal`` (1, 2, …)."""
    names = list(columns)
    if len({len(values) for values in columns.values()}) != 1:
        raise ValueError("rowset columns must be equally long")
    rows = bindparam("rowset", json.dumps(list(zip(*columns.values(), strict=True)),
                                          separators=(",", ":")), type_=String, unique=True)
    dialect = bind.get_bind().dialect.name if isinstance(bind, Session) else bind.dialect.name
    if dialect == "postgresql":
        table = func.json_array_elements(cast(rows, JSON)).table_valued(
            "value", with_ordinality="ordinal").render_derived()
        picked = [table.c.value.op("->>")(i).label(name) for i, name in enumerate(names)]
        return select(*picked, table.c.ordinal).subquery()
    each = func.json_each(rows).table_valued("key", "value")
    picked = [func.json_extract(each.c.value, f"$[{i}]").label(name)
              for i, name in enumerate(names)]
    return select(*picked, (each.c.key + 1).label("ordinal")).subquery()
