"""Random secrets and their stored digests."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from kizuna.settings import Settings


def new_secret(prefix: str) -> str:
    """A random 256-bit secret, URL-safe, with a recognisable prefix (``kzt_``, ``kzw_``)."""
    return prefix + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """The SHA-256 hex digest kept in the store instead of the secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_id() -> str:
    """A short public identifier for a token or source (safe to show and log)."""
    return secrets.token_hex(8)


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)


def session_secret(settings: Settings) -> str:
    """The key that signs session cookies: the setting, or one kept in the data folder.

    Every worker of ``kizuna serve`` reads the same file, so sessions survive
    restarts and work across workers.
    """
    if settings.secret_key:
        return settings.secret_key
    path: Path = settings.home / "secret_key"
    if not path.exists():
        settings.home.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker won the race
            return path.read_text().strip()
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()
