"""Thousands of rows in one statement: Python lists bound as one parameter and read back as
a table (``json_each`` on SQLite, ``unnest … WITH ORDINALITY`` on PostgreSQL).

An urgent broadcast writes one order and one program version per village, up to a
province's 15,000. An ``executemany`` of that many rows costs a round trip (or a pass of the
driver) and SQLAlchemy's per-row type processing for every row; an
``INSERT … SELECT … FROM`` :func:`rowset` sends each list once and every value shared by
the rows once, so the database does the per-row work, in C.

Only text columns: ids and area codes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import ARRAY, String, Subquery, bindparam, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

__all__ = ["rowset"]


def rowset(bind: Session | Connection, **columns: Sequence[str]) -> Subquery:
    """A subquery with one row per position of the equally long ``columns``, in their order:
    its columns are named like the keyword arguments, plus ``ordinal`` (1, 2, …)."""
    names = list(columns)
    lengths = {len(values) for values in columns.values()}
    if len(lengths) != 1:
        raise ValueError("rowset columns must be equally long")
    dialect = bind.get_bind().dialect.name if isinstance(bind, Session) else bind.dialect.name
    if dialect == "postgresql":
        arrays = [bindparam(f"rowset_{name}", list(values), type_=ARRAY(String), unique=True)
                  for name, values in columns.items()]
        table = func.unnest(*arrays).table_valued(
            *names, with_ordinality="ordinal").render_derived()
        return select(*[table.c[name] for name in names], table.c.ordinal).subquery()
    rows = json.dumps(list(zip(*columns.values(), strict=True)), ensure_ascii=False)
    each = func.json_each(bindparam("rowset_rows", rows, type_=String, unique=True)).table_valued(
        "key", "value")
    picked = [func.json_extract(each.c.value, f"$[{i}]").label(name)
              for i, name in enumerate(names)]
    return select(*picked, (each.c.key + 1).label("ordinal")).subquery()
