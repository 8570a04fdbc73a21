"""CSV meant to be opened in a spreadsheet: cells neutralised against formula injection.

A cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
is read by Excel, LibreOffice and Google Sheets as a formula, so an account
named ``=HYPERLINK(...)`` could run or leak something on the reader's machine.
OWASP's rule (CSV Injection): prefix such a text cell with a single quote,
which spreadsheets show as text. Numbers are left alone (``-1200`` stays a
number). ``kizuna export`` does not use this: it writes values verbatim for
round trips.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

__all__ = ["spreadsheet_cell", "spreadsheet_csv"]

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: Any) -> Any:
    """``value`` as a CSV cell that a spreadsheet shows as the text it is."""
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def spreadsheet_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A header row and ``rows`` as CSV text with every cell neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([spreadsheet_cell(h) for h in header])
    for row in rows:
        writer.writerow([spreadsheet_cell(v) for v in row])
    return out.getvalue()
