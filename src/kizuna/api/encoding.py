"""Service results as JSON, exactly as the CLI's ``--json`` prints them.

Dataclasses and pydantic models become objects, decimals numbers, dates ISO
strings, enums their values — the same conversion as ``kizuna ... --json``, so
a script can switch between the CLI and the API without renaming a key.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse

from kizuna.jsonable import to_jsonable


class ResultResponse(JSONResponse):
    """A service result serialised with orjson after :func:`to_jsonable`."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(to_jsonable(content))
