"""Service results as JSON, exactly as the CLI's ``--json`` prints them.

Dataclasses and pydantic models become objects, decimals numbers, dates ISO
strings, enums their values — the same conversion as ``kizuna ... --json``, so
a script can switch between the CLI and the API without renaming a key.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import orjson
from starlette.responses import JSONResponse


def to_jsonable(value: Any) -> Any:
    """Plain JSON values for a service result (the CLI's ``to_jsonable`` conversion)."""
    if hasattr(value, "model_dump"):
        return to_jsonable(value.model_dump())
    if hasattr(value, "__dataclass_fields__"):
        return {k: to_jsonable(getattr(value, k)) for k in value.__dataclass_fields__}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    return value


class ResultResponse(JSONResponse):
    """A service result serialised with orjson after :func:`to_jsonable`."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(to_jsonable(content))
