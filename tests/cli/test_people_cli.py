"""``kizuna team``, ``kizuna user language``, ``kizuna contact prefs`` and ``kizuna secret``,
as a user runs them."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from kizuna.cli import run
from kizuna.platform import Platform
from kizuna.settings import Settings
from kizuna.store.actions_models import StoredSecret
from kizuna.store.models import Account, Contact, TeamMember


def _json(capsys: pytest.CaptureFixture[str]) -> object:
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def home(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    home = tmp_path / "data"
    assert run(["--home", str(home), "init"]) == 0
    platform = Platform.from_settings(Settings(home=home))
    with platform.store.session() as s:
        s.add_all([TeamMember(id="t1", name="Aiko"), TeamMember(id="t2", name="Ben")])
        s.add(Account(id="acme", name="Acme"))
        s.flush()
        s.add(Contact(id="c1", account_id="acme", name="Ann", email="ann@acme.example"))
    platform.close()
    capsys.readouterr()
    return home


def test_teams_and_languages(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    h = ["--home", str(home)]
    assert run([*h, "team", "create", "smb-pool", "--name", "SMB pool"]) == 0
    assert run([*h, "team", "add", "smb-pool", "t1", "--role", "lead"]) == 0
    assert run([*h, "team", "add", "smb-pool", "t2"]) == 0
    capsys.readouterr()
    assert run([*h, "team", "list", "--json"]) == 0
    assert _json(capsys) == [{"id": "smb-pool", "name": "SMB pool", "active_ctas": 0, "members": [
        {"member_id": "t1", "name": "Aiko", "role": "lead"},
        {"member_id": "t2", "name": "Ben", "role": "member"}]}]  # fmt: skip
    assert run([*h, "team", "add", "smb-pool", "t2", "--role", "boss"]) == 1
    assert "role must be one of lead, member" in capsys.readouterr().err
    assert run([*h, "team", "remove", "smb-pool", "t2"]) == 0
    assert run([*h, "user", "language", "t1", "ja"]) == 0
    assert run([*h, "user", "language", "t1", "fr"]) == 1
    capsys.readouterr()
    assert run([*h, "contact", "prefs", "c1", "--language", "ja", "--opt-out", "--json"]) == 0
    assert _json(capsys) == {"contact_id": "c1", "account_id": "acme", "name": "Ann",
                             "language": "ja", "opted_out": True}  # fmt: skip
    assert run([*h, "team", "delete", "smb-pool"]) == 0


def test_secrets(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    h = ["--home", str(home)]
    monkeypatch.setattr("sys.stdin", io.StringIO("pw-1\n"))
    assert run([*h, "secret", "set", "smtp_password", "--stdin"]) == 1
    assert "set KIZUNA_SECRETS_KEY" in capsys.readouterr().err
    assert run([*h, "secret", "new-key"]) == 0
    key = capsys.readouterr().out.strip()
    Fernet(key)  # a valid key
    monkeypatch.setenv("KIZUNA_SECRETS_KEY", key)
    monkeypatch.setattr("sys.stdin", io.StringIO("pw-1\n"))
    assert run([*h, "secret", "set", "smtp_password", "--stdin", "--by", "ops"]) == 0
    capsys.readouterr()
    assert run([*h, "secret", "list", "--json"]) == 0
    listed = _json(capsys)
    assert isinstance(listed, list) and listed[0]["name"] == "smtp_password"
    assert listed[0]["stored"] is True and "pw-1" not in json.dumps(listed)
    env = home / "kizuna.env"
    env.write_text("KIZUNA_NOTIFY_WEBHOOK_SECRET=hook-key\n")
    assert run([*h, "secret", "import-env", str(env)]) == 0
    assert "hook-key" not in env.read_text()
    assert len(list(home.glob("kizuna.env.bak-*"))) == 1
    monkeypatch.setenv("KIZUNA_SECRETS_KEY", f"{Fernet.generate_key().decode()},{key}")
    assert run([*h, "secret", "rotate"]) == 0
    assert "re-encrypted 2 values" in capsys.readouterr().out
    assert run([*h, "secret", "migrate", "--backup", str(home.parent / "b.tar")]) == 0
    assert (home.parent / "b.tar").exists()
    platform = Platform.from_settings(Settings(home=home))
    with platform.store.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(StoredSecret)) == 2
    platform.close()
