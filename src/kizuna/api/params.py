"""Path and query parameters shared by the routes, validated at the boundary.

Ids never contain control characters (the import's rule, see
:mod:`kizuna.dataio.schemas`); other text never contains NUL (PostgreSQL cannot
store or compare it). A parameter breaking either rule is a 422 problem, never
a query that fails in the database.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Path, Query

#: No C0/C1 control characters and no DEL (ids).
ID_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]+$"
#: No NUL (free text).
TEXT_PATTERN = r"^[^\x00]*$"

RecordId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=ID_PATTERN, description="The record's id.")
]
AccountId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=ID_PATTERN, description="The account's id.")
]
AsOf = Annotated[
    date | None,
    Query(description="The date (YYYY-MM-DD); default: the newest data, or today."),
]
