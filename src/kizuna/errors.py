"""Kizuna's one exception tree.

Every error a user can cause or meet derives from :class:`KizunaError` and knows
the HTTP status it maps to, so the API, the web UI and the CLI render the same
message (the CLI prints it and exits non-zero)::

    KizunaError (500)
    ├── ConfigError (500)            settings or definition files are unusable
    ├── InvalidInput (422)           input failed validation; carries every Problem
    │   └── ImportRejected (422)     an import file had bad rows; nothing landed
    ├── NotFound (404)               an id that does not exist
    ├── Conflict (409)               the request contradicts what is stored
    │   └── BackupError (409)        a backup cannot be written or an archive restored
    ├── PermissionDenied (403)       the caller may not do this
    ├── NotAuthenticated (401)       no credentials, or ones that identify nobody
    ├── PayloadTooLarge (413)        a request body over the configured limit
    ├── TooManyRequests (429)        too many failed logins: wait retry_after seconds
    ├── BadRequest (400)             a request that is not well-formed (API)
    ├── StoreNotReady (503)          the store is missing or not migrated
    └── MissingExtra (500)           an optional dependency is not installed
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from dataclasses import field as dataclass_field
from typing import Any


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input, located as precisely as we can.

    ``where`` is a human-readable location such as ``contracts.csv row 7,
    column arr`` and ``field`` the machine-readable field name when there is one.
    """

    message: str
    where: str = ""
    field: str | None = None
    row: int | None = None
    #: What is wrong, as a stable id (e.g. ``unknown_reference``), and the values the
    #: message names: each edge words the problem in its own language from these.
    code: str | None = dataclass_field(default=None, compare=False)
    params: Mapping[str, Any] | None = dataclass_field(default=None, compare=False)

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message

    def to_dict(self) -> dict[str, Any]:
        """The problem as the API and ``--json`` show it (its words, where; code and values
        are for the edges that word problems themselves, such as the web UI)."""
        return {
            k: v
            for k, v in asdict(self).items()
            if k not in ("code", "params") and v is not None and v != ""
        }


def not_one_of(field: str, value: Any, allowed: Iterable[str], message: str = "") -> Problem:
    """``value`` of ``field`` is none of ``allowed`` (code ``not_allowed``); the message
    defaults to "<field> must be one of <allowed>"."""
    expected = ", ".join(allowed)
    return Problem(
        message or f"{field} must be one of {expected}",
        field=field,
        code="not_allowed",
        params={"value": value, "expected": expected},
    )


def unreadable(exc: OSError, where: str) -> Problem:
    """A file that cannot be read (the operating system's reason)."""
    reason = exc.strerror or str(exc)
    return Problem(reason, where, code="unreadable", params={"error": reason})


def yaml_problem(exc: Exception, where: str) -> Problem:
    """A YAML syntax error in ``where``, located at its line when the parser says it."""
    mark = getattr(exc, "problem_mark", None)
    loc = f"{where} line {mark.line + 1}" if mark is not None else where
    first = str(exc).splitlines()[0]
    return Problem(first, loc, code="yaml_syntax", params={"error": first})


class CodedValueError(ValueError):
    """A definition validator's ``ValueError`` that also says what is wrong as a ``code``
    and the values its message names; pydantic keeps it in the error's context, so the
    loader can give its :class:`Problem` the code (its message stays the same)."""

    def __init__(self, message: str, code: str, **params: Any) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


def validation_code(error: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The code and values of one pydantic error (an item of ``ValidationError.errors()``).

    A :class:`CodedValueError` gives its own; any other error is ``pydantic.<type>`` with
    the error's context and the value it refused (``input``, when it is a plain value).
    """
    ctx = dict(error.get("ctx") or {})
    raised = ctx.get("error")
    if isinstance(raised, CodedValueError):
        return raised.code, dict(raised.params)
    params = {k: v if isinstance(v, str | int | float) else str(v) for k, v in ctx.items()}
    value = error.get("input")
    if isinstance(value, str | int | float | bool):
        params.setdefault("input", value)
    return f"pydantic.{error.get('type')}", params


class KizunaError(Exception):
    """Base of all errors Kizuna raises on purpose."""

    status_code: int = 500
    title: str = "Internal error"
    #: What went wrong as a stable id and the values ``message`` names, like a
    #: :class:`Problem`'s: the web UI words the error from these in its language.
    code: str | None = None
    params: Mapping[str, Any] | None = None

    def __init__(
        self, message: str, *, code: str | None = None, params: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.params = params

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "status": self.status_code, "detail": self.message}


class ConfigError(KizunaError):
    """Settings or a definition file cannot be used."""

    title = "Configuration error"


class InvalidInput(KizunaError):
    """Input failed validation. Carries every problem found, not only the first."""

    status_code = 422
    title = "Invalid input"

    def __init__(self, message: str, problems: Iterable[Problem] = ()) -> None:
        self.problems: Sequence[Problem] = tuple(problems)
        super().__init__(message)

    def __str__(self) -> str:
        if not self.problems:
            return self.message
        lines = [self.message, *(f"  - {p}" for p in self.problems)]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        body = super().to_dict()
        body["errors"] = [p.to_dict() for p in self.problems]
        return body


class ImportRejected(InvalidInput):
    """An import file had bad rows; with strict validation nothing landed."""

    title = "Import rejected"


class NotFound(KizunaError):
    status_code = 404
    title = "Not found"


class Conflict(KizunaError):
    status_code = 409
    title = "Conflict"


class BackupError(Conflict):
    """A backup could not be written, or an archive cannot be restored here."""

    title = "Backup or restore failed"


class PermissionDenied(KizunaError):
    status_code = 403
    title = "Permission denied"


class NotAuthenticated(KizunaError):
    """No credentials, or credentials that identify nobody (HTTP 401)."""

    status_code = 401
    title = "Not authenticated"

    def __init__(self, message: str, scheme: str = "Bearer") -> None:
        super().__init__(message)
        self.scheme = scheme


class PayloadTooLarge(KizunaError):
    """A request body over the configured limit (HTTP 413)."""

    status_code = 413
    title = "Payload too large"


class TooManyRequests(KizunaError):
    """Too many attempts (failed logins); ``retry_after`` seconds until the next is heard."""

    status_code = 429
    title = "Too many requests"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class BadRequest(KizunaError):
    """A request that is not even well-formed, e.g. a body that is not JSON (HTTP 400)."""

    status_code = 400
    title = "Bad request"


class StoreNotReady(KizunaError):
    status_code = 503
    title = "Store not ready"


class MissingExtra(KizunaError):
    """An optional dependency is needed, e.g. ``pip install 'kizuna[spark]'``."""

    title = "Missing optional dependency"

    def __init__(self, extra: str, feature: str) -> None:
        super().__init__(f"{feature} needs the optional extra: pip install 'kizuna[{extra}]'")
        self.extra = extra
