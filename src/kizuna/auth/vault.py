"""Secrets Kizuna must *use* — the SMTP password, the webhook signing key, a Slack
incoming-webhook URL — encrypted at rest with Fernet (``cryptography``).

Secrets Kizuna only *verifies* (passwords, API tokens, source write keys, share
links) are hashed instead (:mod:`kizuna.auth.keys`, :mod:`kizuna.auth.users`).

The key comes from ``KIZUNA_SECRETS_KEY`` (never from the store it protects);
several comma-separated keys allow rotation: the first encrypts, all decrypt, and
:func:`rotate_secrets` re-encrypts everything under the first. Without a key,
storing or reading a secret stops with a :class:`~kizuna.errors.ConfigError` that
says how to make one. A value in the environment (``KIZUNA_SMTP_PASSWORD``, ...)
wins over a stored one (:func:`resolve_secret`). Values never appear in listings,
logs or the audit log — only names and dates.

The outbox never holds a secret: a Slack message's target names the secret
(``secret:notify_slack_url``), resolved when it is sent.

Plaintext from before: :func:`import_env_file` moves secrets out of an environment
file (keeping a backup copy beside it, owner-only), and :func:`encrypt_outbox_targets`
encrypts the Slack URLs older outbox rows carry (``enc:`` + a Fernet token).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from kizuna.errors import ConfigError, InvalidInput, NotFound, Problem, not_one_of
from kizuna.platform import Platform
from kizuna.settings import Settings
from kizuna.store.actions_models import OutboxMessage, StoredSecret

__all__ = [
    "ENCRYPTED_PREFIX",
    "SECRET_NAMES",
    "SETTING_PREFIX",
    "SecretInfo",
    "delete_secret",
    "encrypt_outbox_targets",
    "import_env_file",
    "list_secrets",
    "new_key",
    "open_target",
    "resolve_secret",
    "rotate_secrets",
    "set_secret",
    "target_reference",
]

#: what may be stored, and the setting (environment variable) that overrides it
SECRET_NAMES: dict[str, str] = {
    "smtp_password": "KIZUNA_SMTP_PASSWORD",
    "notify_webhook_secret": "KIZUNA_NOTIFY_WEBHOOK_SECRET",
    "notify_slack_url": "KIZUNA_NOTIFY_SLACK_URL",
}
ENCRYPTED_PREFIX = "enc:"
SETTING_PREFIX = "secret:"
_NO_KEY = (
    "no encryption key for stored secrets: set KIZUNA_SECRETS_KEY "
    "(make one with 'kizuna secret new-key' and keep it outside the data folder)"
)


def new_key() -> str:
    """A fresh Fernet key (URL-safe base64 of 32 random bytes)."""
    return Fernet.generate_key().decode()


def _cipher(settings: Settings) -> MultiFernet:
    if settings.secrets_key is None or not settings.secrets_key.get_secret_value().strip():
        raise ConfigError(_NO_KEY, code="secrets_no_key")
    keys = [k.strip() for k in settings.secrets_key.get_secret_value().split(",") if k.strip()]
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except ValueError:
        raise ConfigError(
            "KIZUNA_SECRETS_KEY is not a Fernet key (32 bytes, URL-safe base64; "
            "make one with 'kizuna secret new-key')",
            code="secrets_bad_key",
        ) from None


def _decrypt(settings: Settings, token: str, name: str) -> str:
    try:
        return _cipher(settings).decrypt(token.encode()).decode()
    except InvalidToken:
        raise ConfigError(
            f"the stored secret {name} does not decrypt with KIZUNA_SECRETS_KEY "
            "(a key was removed before 'kizuna secret rotate'?)"
        ) from None


def _check_name(name: str) -> None:
    if name not in SECRET_NAMES:
        raise InvalidInput(
            "unknown secret",
            [not_one_of("name", name, SECRET_NAMES)],
        )


@dataclass(frozen=True, slots=True)
class SecretInfo:
    """A stored secret as listings show it: never its value."""

    name: str
    env: str
    stored: bool
    from_environment: bool
    updated_at: datetime | None
    updated_by: str | None


def _env_value(settings: Settings, name: str) -> str | None:
    value = getattr(settings, name, None)
    if value is None:
        return None
    raw = value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
    return raw or None


def list_secrets(platform: Platform) -> list[SecretInfo]:
    """Every secret Kizuna knows of: stored (encrypted), set in the environment, or neither."""
    with platform.store.session() as session:
        stored = {s.name: s for s in session.scalars(sa.select(StoredSecret))}
    out = []
    for name, env in SECRET_NAMES.items():
        row = stored.get(name)
        out.append(
            SecretInfo(
                name, env, row is not None, _env_value(platform.settings, name) is not None,
                row.updated_at if row else None, row.updated_by if row else None,
            )
        )  # fmt: skip
    return out


def set_secret(platform: Platform, name: str, value: str, actor: str | None) -> SecretInfo:
    """Store ``value`` encrypted under ``name`` (replacing any earlier value)."""
    _check_name(name)
    if not value or len(value) > 4000 or any(ord(c) < 32 for c in value):
        raise InvalidInput(
            "invalid secret",
            [
                Problem(
                    "a secret is 1 to 4000 printable characters",
                    field="value",
                    code="text_length",
                    params={"max": 4000},
                )
            ],
        )
    token = _cipher(platform.settings).encrypt(value.encode()).decode()
    now = platform.clock.now()
    with platform.store.session() as session:
        row = session.get(StoredSecret, name)
        if row is None:
            session.add(StoredSecret(name=name, ciphertext=token, updated_by=actor, updated_at=now))
        else:
            row.ciphertext, row.updated_by, row.updated_at = token, actor, now
    return next(s for s in list_secrets(platform) if s.name == name)


def delete_secret(platform: Platform, name: str) -> None:
    """Forget a stored secret."""
    _check_name(name)
    with platform.store.session() as session:
        row = session.get(StoredSecret, name)
        if row is None:
            raise NotFound(f"no stored secret {name}", code="unknown",
                           params={"table": "secrets", "value": name})  # fmt: skip
        session.delete(row)


def resolve_secret(platform: Platform, name: str) -> str | None:
    """The secret to use: the environment's value, else the stored one decrypted, else None."""
    _check_name(name)
    own = _env_value(platform.settings, name)
    if own is not None:
        return own
    with platform.store.session() as session:
        row = session.get(StoredSecret, name)
        token = row.ciphertext if row is not None else None
    return _decrypt(platform.settings, token, name) if token is not None else None


def rotate_secrets(platform: Platform) -> int:
    """Re-encrypt every stored secret and sealed outbox target under the first key."""
    cipher = _cipher(platform.settings)
    count = 0
    with platform.store.session() as session:
        for row in session.scalars(sa.select(StoredSecret)):
            try:
                row.ciphertext = cipher.rotate(row.ciphertext.encode()).decode()
            except InvalidToken:
                raise ConfigError(f"the stored secret {row.name} does not decrypt") from None
            count += 1
        for message in session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.target.like(f"{ENCRYPTED_PREFIX}%"))
        ):
            sealed = message.target.removeprefix(ENCRYPTED_PREFIX).encode()
            message.target = ENCRYPTED_PREFIX + cipher.rotate(sealed).decode()
            count += 1
    return count


def target_reference(name: str) -> str:
    """An outbox target naming a secret (resolved when sending) instead of holding it."""
    _check_name(name)
    return f"{SETTING_PREFIX}{name}"


def open_target(platform: Platform, target: str) -> str:
    """The address an outbox row goes to: a named secret resolved now, a sealed target
    decrypted, or (a webhook URL, an e-mail address, an older row) the target itself."""
    if target.startswith(SETTING_PREFIX):
        value = resolve_secret(platform, target.removeprefix(SETTING_PREFIX))
        if value is None:
            raise ConfigError(f"{target.removeprefix(SETTING_PREFIX)} is not configured")
        return value
    if target.startswith(ENCRYPTED_PREFIX):
        return _decrypt(platform.settings, target.removeprefix(ENCRYPTED_PREFIX), "outbox target")
    return target


def encrypt_outbox_targets(platform: Platform) -> int:
    """Encrypt the plaintext Slack URLs of older outbox rows; returns how many."""
    cipher = _cipher(platform.settings)
    count = 0
    with platform.store.session() as session:
        for message in session.scalars(
            sa.select(OutboxMessage).where(
                OutboxMessage.channel == "slack",
                sa.not_(OutboxMessage.target.like(f"{ENCRYPTED_PREFIX}%")),
                sa.not_(OutboxMessage.target.like(f"{SETTING_PREFIX}%")),
            )
        ):
            plain = message.target
            sealed = ENCRYPTED_PREFIX + cipher.encrypt(plain.encode()).decode()
            if cipher.decrypt(sealed.removeprefix(ENCRYPTED_PREFIX).encode()).decode() != plain:
                raise ConfigError("encryption round trip failed; nothing changed")
            message.target = sealed
            count += 1
    return count


@dataclass(frozen=True, slots=True)
class EnvImport:
    """What :func:`import_env_file` moved, and where the original file was kept."""

    stored: list[str]
    backup: Path


def import_env_file(platform: Platform, path: Path, actor: str | None) -> EnvImport:
    """Move the secrets of an environment file (``KEY=value`` lines) into the store.

    Every value is stored encrypted and read back before the file changes; the
    original is first copied to ``<file>.bak-<timestamp>`` (owner-only, beside it),
    then the file is rewritten with those lines commented out. Nothing is lost:
    the values are in the store, and the backup keeps the original file.
    """
    try:
        lines = path.read_text("utf-8").splitlines(keepends=True)
    except OSError as exc:
        raise InvalidInput(
            f"cannot read {path}", [Problem(exc.strerror or str(exc), where=str(path))]
        ) from None
    by_env = {env: name for name, env in SECRET_NAMES.items()}
    found: dict[str, tuple[int, str]] = {}
    for i, line in enumerate(lines):
        key, sep, value = line.strip().removeprefix("export ").partition("=")
        if sep and key.strip() in by_env:
            raw = value.strip()
            if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
                raw = raw[1:-1]
            found[by_env[key.strip()]] = (i, raw)
    if not found:
        raise InvalidInput(
            f"no secrets in {path}",
            [Problem(f"expected one of {', '.join(SECRET_NAMES.values())}", where=str(path))],
        )
    _cipher(platform.settings)  # a clear error before anything is touched
    stamp = platform.clock.now().strftime("%Y%m%dT%H%M%S")
    backup = path.with_name(f"{path.name}.bak-{stamp}")
    fd = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle, path.open("rb") as original:
        shutil.copyfileobj(original, handle)
    for name, (_, value) in found.items():
        set_secret(platform, name, value, actor)
        with platform.store.session() as session:
            row = session.get(StoredSecret, name)
            assert row is not None
            if _decrypt(platform.settings, row.ciphertext, name) != value:
                raise ConfigError(f"{name} did not read back; {path} was not changed")
    for name, (i, _) in found.items():
        lines[i] = f"# {SECRET_NAMES[name]} moved to Kizuna's encrypted store ({stamp})\n"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(lines), "utf-8")
    os.chmod(tmp, path.stat().st_mode & 0o777)
    os.replace(tmp, path)
    return EnvImport(sorted(found), backup)
