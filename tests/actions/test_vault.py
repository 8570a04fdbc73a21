"""Stored secrets: Fernet at rest, the key from settings, a clear error without it,
rotation, plaintext moved out of an environment file (with a backup), older outbox rows
encrypted, and the sender using stored secrets (SMTP login against aiosmtpd, a signed
webhook) without the outbox ever holding one."""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography.fernet import Fernet
from pydantic import SecretStr

from kizuna.actions.notify import deliver_pending
from kizuna.actions.outbox import enqueue
from kizuna.auth import vault
from kizuna.errors import ConfigError
from kizuna.platform import Platform
from kizuna.store.actions_models import OutboxMessage, StoredSecret

from .conftest import Mailbox, free_port

KEY1, KEY2 = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def _keyed(platform: Platform, key: str | None, **more: Any) -> Platform:
    update = {"secrets_key": SecretStr(key) if key else None, **more}
    return Platform(platform.settings.model_copy(update=update), platform.store, platform.clock)


def test_without_a_key_storing_stops_with_advice(platform: Platform) -> None:
    with pytest.raises(ConfigError, match="set KIZUNA_SECRETS_KEY"):
        vault.set_secret(platform, "smtp_password", "x", "admin")
    with pytest.raises(ConfigError, match="not a Fernet key"):
        vault.set_secret(_keyed(platform, "short"), "smtp_password", "x", "admin")


def test_rotation_and_a_removed_key(platform: Platform) -> None:
    old = _keyed(platform, KEY1)
    vault.set_secret(old, "notify_webhook_secret", "hook-key", "admin")
    both = _keyed(platform, f"{KEY2},{KEY1}")
    assert vault.resolve_secret(both, "notify_webhook_secret") == "hook-key"
    assert vault.rotate_secrets(both) == 1
    new = _keyed(platform, KEY2)
    assert vault.resolve_secret(new, "notify_webhook_secret") == "hook-key"
    with pytest.raises(ConfigError, match="does not decrypt"):
        vault.resolve_secret(old, "notify_webhook_secret")
    # the environment's value wins over the stored one
    env = _keyed(platform, KEY2, notify_webhook_secret=SecretStr("from-env"))
    assert vault.resolve_secret(env, "notify_webhook_secret") == "from-env"


def test_import_env_file_moves_plaintext_with_a_backup(platform: Platform, tmp_path: Path) -> None:
    env = tmp_path / "kizuna.env"
    original = (
        "KIZUNA_SMTP_HOST=mail.example\n"
        'export KIZUNA_SMTP_PASSWORD="p@ss word"\n'
        "KIZUNA_NOTIFY_SLACK_URL=https://hooks.example/T000/B000/XXXX\n"
    )
    env.write_text(original)
    os.chmod(env, 0o640)
    keyed = _keyed(platform, KEY1)
    done = vault.import_env_file(keyed, env, "admin")
    assert done.stored == ["notify_slack_url", "smtp_password"]
    assert done.backup.read_text() == original  # nothing lost
    assert oct(done.backup.stat().st_mode & 0o777) == "0o600"
    text = env.read_text()
    assert "p@ss word" not in text and "XXXX" not in text
    assert text.startswith("KIZUNA_SMTP_HOST=mail.example\n# KIZUNA_SMTP_PASSWORD moved")
    assert oct(env.stat().st_mode & 0o777) == "0o640"
    assert vault.resolve_secret(keyed, "smtp_password") == "p@ss word"
    with platform.store.session() as s:
        assert "p@ss word" not in str(s.scalars(sa.select(StoredSecret.ciphertext)).all())
    # without a key nothing is touched
    env2 = tmp_path / "other.env"
    env2.write_text("KIZUNA_SMTP_PASSWORD=x\n")
    with pytest.raises(ConfigError):
        vault.import_env_file(platform, env2, None)
    assert env2.read_text() == "KIZUNA_SMTP_PASSWORD=x\n"
    assert list(tmp_path.glob("other.env.bak-*")) == []


class _Hook:
    def __init__(self) -> None:
        self.got: list[tuple[str, str, bytes]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                owner.got.append((self.path, self.headers.get("X-Kizuna-Signature", ""), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def hook() -> Iterator[_Hook]:
    h = _Hook()
    yield h
    h.server.shutdown()
    h.server.server_close()


class _Auth:
    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and data.password == b"stored-smtp-pw"
        return AuthResult(success=ok, handled=False)


def test_the_sender_uses_stored_secrets_and_the_outbox_holds_none(
    platform: Platform, hook: _Hook
) -> None:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port, authenticator=_Auth(),
                            auth_require_tls=False)  # fmt: skip
    controller.start()
    try:
        keyed = _keyed(platform, KEY1, smtp_host="127.0.0.1", smtp_port=port,
                       smtp_starttls=False, smtp_user="kizuna")  # fmt: skip
        vault.set_secret(keyed, "smtp_password", "stored-smtp-pw", "admin")
        vault.set_secret(keyed, "notify_webhook_secret", "stored-hook-key", "admin")
        vault.set_secret(keyed, "notify_slack_url", f"{hook.url}/slack/T0/B0/secret", "admin")
        now = keyed.clock.now()
        with keyed.store.session() as s:
            enqueue(s, "email", "ann@x.example", {"to": "ann@x.example", "subject": "Hi",
                                                  "body": "b"}, now)  # fmt: skip
            enqueue(s, "webhook", f"{hook.url}/hook", {"event": "x"}, now)
            enqueue(s, "slack", vault.target_reference("notify_slack_url"), {"text": "t"}, now)
            # an older row: a Slack URL in plain text
            enqueue(s, "slack", f"{hook.url}/slack/old/secret", {"text": "old"}, now)
        assert vault.encrypt_outbox_targets(keyed) == 1
        with keyed.store.session() as s:
            targets = " ".join(s.scalars(sa.select(OutboxMessage.target)))
        assert "secret" not in targets.replace("secret:notify_slack_url", "")
        report = deliver_pending(keyed)
        assert (report.sent, report.failed, report.retried) == (4, 0, 0)
        assert [m["To"] for m in box.messages] == ["ann@x.example"]
        paths = sorted(p for p, _, _ in hook.got)
        assert paths == ["/hook", "/slack/T0/B0/secret", "/slack/old/secret"]
        (signature, body) = next((sig, b) for p, sig, b in hook.got if p == "/hook")
        expected = hmac.new(b"stored-hook-key", body, hashlib.sha256).hexdigest()
        assert signature == f"sha256={expected}"
        # without the key the failure says why, in the outbox
        with keyed.store.session() as s:
            enqueue(s, "slack", vault.target_reference("notify_slack_url"), {"text": "t"}, now)
        unkeyed = _keyed(keyed, None)
        deliver_pending(unkeyed)
        with keyed.store.session() as s:
            error = s.scalar(sa.select(OutboxMessage.last_error).where(
                OutboxMessage.last_error.is_not(None)))  # fmt: skip
        assert error is not None and "KIZUNA_SECRETS_KEY" in error
    finally:
        controller.stop()
