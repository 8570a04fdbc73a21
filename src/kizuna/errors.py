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


class KizunaError(Exception):
    """Base of all errors Kizuna raises on purpose."""

    status_code: int = 500
    title: str = "Internal error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

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
