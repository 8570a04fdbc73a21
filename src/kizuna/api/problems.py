"""One error shape for the whole API: ``application/problem+json`` (RFC 9457).

Every :class:`~kizuna.errors.KizunaError` renders with its own status and
message; request validation errors list every bad field; anything unexpected is
a 500 without a stack trace (the trace goes to the server log).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson
import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from kizuna.dataio.validate import error_message
from kizuna.errors import KizunaError, NotAuthenticated, Problem, TooManyRequests

log = logging.getLogger("kizuna.api")

PROBLEM_JSON = "application/problem+json"


class ProblemResponse(JSONResponse):
    """A problem+json body, serialised with orjson."""

    media_type = PROBLEM_JSON

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def problem_response(
    request: Request,
    status: int,
    title: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> ProblemResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    if errors is not None:
        body["errors"] = errors
    return ProblemResponse(body, status_code=status, headers=headers)


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc[1:] if p != "__root__"]
    return ".".join(parts) or str(loc[0])


def validation_problems(errors: list[Any]) -> list[dict[str, Any]]:
    """Pydantic/FastAPI errors as problem entries: one per field, located.

    Messages are the import's (:func:`kizuna.dataio.validate.error_message`), so a
    bad value reads the same in a file's report and in an API answer; a rule over
    the whole record names the field it is about.
    """
    out = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        row_field = (error.get("ctx") or {}).get("field")
        if row_field and len(loc) == 1:
            loc = (*loc, row_field)
        where = {"body": "request body", "query": "query parameter", "path": "path parameter"}
        place = where.get(str(loc[0]), str(loc[0])) if loc else "request"
        field = _field_name(loc) if loc else None
        problem = Problem(
            message=error_message(error) if "type" in error else str(error.get("msg")),
            where=f"{place} {field}" if field and field != loc[0] else place,
            field=field,
        )
        out.append(problem.to_dict())
    return out


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json."""

    @app.exception_handler(KizunaError)
    async def _kizuna_error(request: Request, exc: KizunaError) -> ProblemResponse:
        body = exc.to_dict()
        headers = None
        if isinstance(exc, NotAuthenticated):
            headers = {"WWW-Authenticate": exc.scheme}
        elif isinstance(exc, TooManyRequests):
            headers = {"Retry-After": str(exc.retry_after)}
        if exc.status_code >= 500:
            log.error("request %s failed: %s", request.url.path, exc)
        return problem_response(
            request, exc.status_code, exc.title, exc.message, body.get("errors"), headers
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> ProblemResponse:
        errors = validation_problems(list(exc.errors()))
        count = len(errors)
        return problem_response(
            request,
            422,
            "Invalid input",
            f"the request has {count} invalid field{'s' if count != 1 else ''}",
            errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> ProblemResponse:
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
        return problem_response(
            request, exc.status_code, title, str(exc.detail), headers=exc.headers
        )

    @app.exception_handler(sa.exc.DataError)
    async def _data_error(request: Request, exc: sa.exc.DataError) -> ProblemResponse:
        # A value the database cannot hold (e.g. out of range): the client's input.
        return problem_response(request, 422, "Invalid input", f"value not storable: {exc.orig}")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> ProblemResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem_response(
            request, 500, "Internal error", "an unexpected error occurred; see the server log"
        )
