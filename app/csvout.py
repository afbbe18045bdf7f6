"""CSV downloads that a spreadsheet opens as data, never as formulas.

A cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return, which
some spreadsheets skip before reading one) is taken as a formula by Excel, LibreOffice and
Google Sheets: a village name or a terminal's receipt detail could then run one on the
computer of whoever opens the export. Such text cells get a leading ``'``, which the
spreadsheet shows as text; numbers are left as they are.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

__all__ = ["spreadsheet_cell", "csv_text", "safe_writer", "SafeWriter", "FORMULA_START"]

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: Any) -> Any:
    """``value`` as a CSV cell: text that a spreadsheet would run as a formula gets a ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_text(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    """A header row and the rows as CSV (CRLF line ends), every cell made safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([spreadsheet_cell(h) for h in header])
    writer.writerows([spreadsheet_cell(v) for v in row] for row in rows)
    return buffer.getvalue()


class SafeWriter:
    """A ``csv.writer`` (CRLF line ends) that makes every cell safe as it writes it."""

    def __init__(self, stream: Any) -> None:
        self._writer = csv.writer(stream, lineterminator="\r\n")

    def writerow(self, row: Iterable[Any]) -> None:
        """Write one row."""
        self._writer.writerow([spreadsheet_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        """Write several rows."""
        for row in rows:
            self.writerow(row)


def safe_writer(stream: Any) -> SafeWriter:
    """A CSV writer for exports built row by row (see :func:`csv_text` for whole tables)."""
    return SafeWriter(stream)
