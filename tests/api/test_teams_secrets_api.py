"""``/teams``, ``/me/preferences``, ``/secrets``, ``/contacts/{id}/preferences``: roles,
scope (out of the caller's book = 404), audit, and secrets that never come back out."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from pydantic import SecretStr

from kizuna.auth import vault
from kizuna.auth.audit import list_audit
from kizuna.platform import Platform
from kizuna.store.actions_models import StoredSecret
from kizuna.store.models import Contact

from .conftest import Api, make_api

KEY = Fernet.generate_key().decode()


@pytest.fixture
def keyed_api(platform: Platform) -> Iterator[Api]:
    yield from make_api(platform, secrets_key=SecretStr(KEY))


def test_teams_managed_by_managers_read_by_everyone(api: Api) -> None:
    denied = api.post("csm-a", "/teams", {"id": "smb-pool", "name": "SMB pool"})
    assert denied.status_code == 403
    made = api.post("manager", "/teams", {"id": "smb-pool", "name": "SMB pool"})
    assert made.status_code == 201
    assert made.json() == {"id": "smb-pool", "name": "SMB pool", "members": [], "active_ctas": 0}
    assert api.post("manager", "/teams", {"id": "smb-pool", "name": "x"}).status_code == 409
    assert api.post("manager", "/teams", {"id": "Bad Id", "name": "x"}).status_code == 422
    r = api.client.put("/teams/smb-pool/members/csm-a", headers=api.auth("admin"),
                       json={"role": "lead"})  # fmt: skip
    assert r.status_code == 200
    api.client.put("/teams/smb-pool/members/csm-b", headers=api.auth("manager"))
    team = api.get("viewer", "/teams/smb-pool").json()
    assert [(m["member_id"], m["role"]) for m in team["members"]] == [
        ("csm-a", "lead"), ("csm-b", "member")
    ]  # fmt: skip
    assert api.client.put("/teams/smb-pool/members/nobody",
                          headers=api.auth("manager")).status_code == 404  # fmt: skip
    assert api.patch("manager", "/teams/smb-pool", {"name": "SMB"}).json()["name"] == "SMB"
    assert api.delete("csm-b", "/teams/smb-pool/members/csm-b").status_code == 403
    assert api.delete("manager", "/teams/smb-pool/members/csm-b").status_code == 200
    mine = api.get("csm-a", "/me/preferences").json()
    assert mine == {"member_id": "csm-a", "language": None,
                    "teams": [{"id": "smb-pool", "name": "SMB", "role": "lead"}]}  # fmt: skip
    assert api.delete("manager", "/teams/smb-pool").status_code == 200
    assert api.get("csm-a", "/teams").json() == []
    audit = [(a.actor_id, a.resource, a.action, a.allowed) for a in list_audit(api.platform)]
    assert ("csm-a", "teams", "create", False) in audit
    assert ("manager", "teams", "member_set", True) in audit


def test_my_language_and_an_admin_setting_someone_elses(api: Api) -> None:
    r = api.client.put("/me/preferences", headers=api.auth("csm-b"), json={"language": "ja"})
    assert r.status_code == 200 and r.json()["language"] == "ja"
    bad = api.client.put("/me/preferences", headers=api.auth("csm-b"), json={"language": "fr"})
    assert bad.status_code == 422
    other = api.client.put("/users/csm-a/preferences", headers=api.auth("csm-b"),
                           json={"language": "ja"})  # fmt: skip
    assert other.status_code == 403
    done = api.client.put("/users/csm-a/preferences", headers=api.auth("admin"),
                          json={"language": "ja"})  # fmt: skip
    assert done.json()["language"] == "ja"


def test_contact_preferences_follow_the_account_scope(scoped_api: Api) -> None:
    with scoped_api.platform.store.session() as s:
        s.add_all([Contact(id="c-acme", account_id="acme", name="Ann", email="ann@acme.example"),
                   Contact(id="c-globex", account_id="globex", name="Gus")])  # fmt: skip
    own = scoped_api.get("csm-a", "/contacts/c-acme/preferences")
    assert own.json() == {"contact_id": "c-acme", "account_id": "acme", "name": "Ann",
                          "language": "en", "opted_out": False}  # fmt: skip
    # another CSM's contact is "not found", like an unknown one
    other = scoped_api.get("csm-a", "/contacts/c-globex/preferences")
    unknown = scoped_api.get("csm-a", "/contacts/nobody/preferences")
    assert (other.status_code, unknown.status_code) == (404, 404)
    assert other.json()["detail"] == unknown.json()["detail"].replace("nobody", "c-globex")
    r = scoped_api.patch("csm-a", "/contacts/c-acme/preferences",
                         {"language": "ja", "opted_out": True})  # fmt: skip
    assert r.json()["language"] == "ja" and r.json()["opted_out"] is True
    # nobody but the contact undoes an opt-out
    undo = scoped_api.patch("csm-a", "/contacts/c-acme/preferences", {"opted_out": False})
    assert undo.status_code == 422
    assert scoped_api.patch("viewer", "/contacts/c-acme/preferences",
                            {"language": "en"}).status_code == 403  # fmt: skip


def test_secrets_are_admin_only_encrypted_and_never_returned(keyed_api: Api) -> None:
    api = keyed_api
    value = "smtp-pa55word-xyz"
    denied = api.client.put("/secrets/smtp_password", headers=api.auth("manager"),
                            json={"value": value})  # fmt: skip
    assert denied.status_code == 403
    r = api.client.put("/secrets/smtp_password", headers=api.auth("admin"), json={"value": value})
    assert r.status_code == 200 and value not in r.text
    listed = api.get("admin", "/secrets").json()
    assert [(s["name"], s["stored"]) for s in listed] == [
        ("smtp_password", True), ("notify_webhook_secret", False), ("notify_slack_url", False)
    ]  # fmt: skip
    with api.platform.store.session() as s:
        stored = s.scalar(sa.select(StoredSecret.ciphertext))
    assert stored is not None and value not in stored
    assert Fernet(KEY).decrypt(stored.encode()).decode() == value
    assert vault.resolve_secret(api.platform, "smtp_password") == value
    unknown = api.client.put("/secrets/root", headers=api.auth("admin"), json={"value": "x"})
    assert unknown.status_code == 422
    assert value not in str([a.detail for a in list_audit(api.platform)])
    assert api.delete("admin", "/secrets/smtp_password").status_code == 200
    assert api.delete("admin", "/secrets/smtp_password").status_code == 404


def test_a_missing_key_is_a_clear_error(api: Api) -> None:
    r = api.client.put("/secrets/smtp_password", headers=api.auth("admin"), json={"value": "x"})
    assert r.status_code == 500
    assert "KIZUNA_SECRETS_KEY" in r.json()["detail"]


def test_cta_reasons_in_the_language_asked_for(api: Api) -> None:
    home = api.platform.settings.home
    home.mkdir(parents=True, exist_ok=True)
    (home / "rules.yaml").write_text(
        "rules:\n  - {id: seg, name: Enterprise, name_ja: エンタープライズ, type: activity,\n"
        "     when: {fact: segment, eq: enterprise}}\n",
        "utf-8",
    )
    from kizuna.actions import run_rules

    run_rules(api.platform)
    (en,) = api.get("csm-a", "/ctas").json()
    assert en["reason"] == "Enterprise: segment is enterprise (= enterprise)"
    (ja,) = api.get("csm-a", "/ctas?lang=ja").json()
    assert ja["reason"] == "エンタープライズ: セグメントはエンタープライズ（= エンタープライズ）"
    one = api.get("csm-a", f"/ctas/{en['id']}?lang=ja").json()
    assert one["reason"] == ja["reason"]
    assert api.get("csm-a", "/ctas?lang=fr").status_code == 422
