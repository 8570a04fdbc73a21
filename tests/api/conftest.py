"""Fixtures for API tests: an app on the parametrised store with one user per role.

Book of accounts: ``acme`` is owned by CSM ``csm-a``, ``globex`` by CSM
``csm-b``; ``initech`` has no owner.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from kizuna.api import create_app
from kizuna.auth.tokens import create_token
from kizuna.auth.users import add_user, hash_password
from kizuna.platform import Platform
from kizuna.store.auth_models import UserCredential
from kizuna.store.models import Account, TeamRole

PASSWORD = "correct horse battery"
# argon2 is slow on purpose: hash once per test session, not once per user per test.
PASSWORD_HASH = hash_password(PASSWORD)
ROLES = {
    "admin": TeamRole.ADMIN,
    "manager": TeamRole.MANAGER,
    "csm-a": TeamRole.CSM,
    "csm-b": TeamRole.CSM,
    "viewer": TeamRole.VIEWER,
}


@dataclass
class Api:
    """A test client plus a bearer token per user."""

    client: TestClient
    platform: Platform
    tokens: dict[str, str]

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def get(self, user: str, url: str, **kw: object):  # type: ignore[no-untyped-def]
        return self.client.get(url, headers=self.auth(user), **kw)  # type: ignore[arg-type]

    def post(self, user: str, url: str, json: object = None, **kw: object):  # type: ignore[no-untyped-def]
        return self.client.post(url, headers=self.auth(user), json=json, **kw)  # type: ignore[arg-type]

    def patch(self, user: str, url: str, json: object = None):  # type: ignore[no-untyped-def]
        return self.client.patch(url, headers=self.auth(user), json=json)

    def delete(self, user: str, url: str):  # type: ignore[no-untyped-def]
        return self.client.delete(url, headers=self.auth(user))


def seed_people_and_accounts(platform: Platform) -> dict[str, str]:
    tokens = {}
    for member_id, role in ROLES.items():
        add_user(
            platform,
            member_id=member_id,
            name=member_id.title(),
            email=f"{member_id}@vendor.example",
            role=role,
        )
        tokens[member_id] = create_token(platform, member_id, "tests").token
    with platform.store.session() as session:
        session.add_all([UserCredential(member_id=m, password_hash=PASSWORD_HASH) for m in ROLES])
        session.add_all(
            [
                Account(id="acme", name="Acme", segment="enterprise", owner_id="csm-a"),
                Account(id="globex", name="Globex", segment="smb", owner_id="csm-b"),
                Account(id="initech", name="Initech", segment="smb"),
            ]
        )
    return tokens


def make_api(platform: Platform, **settings: object) -> Iterator[Api]:
    if settings:
        platform = dataclasses.replace(
            platform, settings=platform.settings.model_copy(update=settings)
        )
    tokens = seed_people_and_accounts(platform)
    app = create_app(platform)
    with TestClient(app, base_url="https://testserver") as client:
        yield Api(client=client, platform=platform, tokens=tokens)


@pytest.fixture
def api(platform: Platform) -> Iterator[Api]:
    """CSMs read every account (csm_scope=all)."""
    yield from make_api(platform)


@pytest.fixture
def scoped_api(platform: Platform) -> Iterator[Api]:
    """CSMs read only their own book (csm_scope=own)."""
    yield from make_api(platform, csm_scope="own")
