"""The framework-free auth core: role policy, passwords, tokens, write keys."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from kizuna.auth.keys import digest
from kizuna.auth.policy import Caller, Principal, account_scope, can_read, can_write
from kizuna.auth.sources import add_source, authenticate_write_key
from kizuna.auth.tokens import authenticate_token, create_token, list_tokens, revoke_token
from kizuna.auth.users import add_user, authenticate_password, list_users
from kizuna.errors import Conflict, InvalidInput, PermissionDenied
from kizuna.platform import Platform
from kizuna.store.auth_models import ApiToken, EventSource, UserCredential
from kizuna.store.models import TeamRole


def caller(role: TeamRole, scope: str = "all", member: str = "me") -> Caller:
    return Caller(Principal(member, member, role), csm_scope=scope)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("role", "scope", "read_mine", "read_other", "write_mine", "write_other", "sees"),
    [
        (TeamRole.ADMIN, "own", True, True, True, True, None),
        (TeamRole.MANAGER, "own", True, True, True, True, None),
        (TeamRole.CSM, "all", True, True, True, False, None),
        (TeamRole.CSM, "own", True, False, True, False, "me"),
        (TeamRole.VIEWER, "own", True, True, False, False, None),
    ],
)
def test_policy_table(
    role: TeamRole,
    scope: str,
    read_mine: bool,
    read_other: bool,
    write_mine: bool,
    write_other: bool,
    sees: str | None,
) -> None:
    c = caller(role, scope)
    assert (can_read(c, "me"), can_read(c, "other")) == (read_mine, read_other)
    assert (can_write(c, "me"), can_write(c, "other")) == (write_mine, write_other)
    assert account_scope(c) == sees
    assert can_write(caller(TeamRole.CSM), None) is False  # unowned accounts: managers only


def test_passwords_are_argon2_and_verified(platform: Platform) -> None:
    add_user(
        platform,
        member_id="aiko",
        name="Aiko",
        email="Aiko@X.io",
        role=TeamRole.CSM,
        password="a long password",
    )
    with platform.store.session() as s:
        stored = s.scalar(sa.select(UserCredential.password_hash))
    assert stored is not None and stored.startswith("$argon2id$")
    assert "a long password" not in stored
    assert authenticate_password(platform, "aiko@x.io", "a long password").member_id == "aiko"
    with pytest.raises(PermissionDenied, match="wrong e-mail or password"):
        authenticate_password(platform, "aiko@x.io", "wrong")
    with pytest.raises(Conflict):
        add_user(
            platform,
            member_id="aiko",
            name="A",
            email="aiko@x.io",
            role=TeamRole.CSM,
            password="a long password",
        )
    with pytest.raises(InvalidInput) as info:
        add_user(platform, member_id="", name="B", email="nope", role=TeamRole.CSM, password="s")
    assert [p.field for p in info.value.problems] == ["id", "email", "password"]
    assert [(u.id, u.has_password) for u in list_users(platform)] == [("aiko", True)]


def test_tokens_are_stored_hashed_shown_once_and_revocable(platform: Platform) -> None:
    add_user(platform, member_id="v", name="V", email="v@x.io", role=TeamRole.VIEWER)
    new = create_token(platform, "v", "ci")
    with platform.store.session() as s:
        hashes = list(s.scalars(sa.select(ApiToken.token_hash)))
    assert hashes == [digest(new.token)]
    assert authenticate_token(platform, new.token).role is TeamRole.VIEWER
    assert list_tokens(platform, "v")[0].last_used_at == platform.clock.now()
    revoke_token(platform, new.info.id)
    with pytest.raises(PermissionDenied, match="revoked"):
        authenticate_token(platform, new.token)


def test_write_keys_are_stored_hashed(platform: Platform) -> None:
    new = add_source(platform, "web")
    with platform.store.session() as s:
        assert list(s.scalars(sa.select(EventSource.write_key_hash))) == [digest(new.write_key)]
    assert authenticate_write_key(platform, new.write_key).name == "web"
    with pytest.raises(PermissionDenied):
        authenticate_write_key(platform, "kzw_guess")


def test_token_cache_trusts_a_token_for_ttl_seconds_and_forgets_revoked_ones() -> None:
    from kizuna.auth.policy import Principal
    from kizuna.auth.tokens import TokenCache
    from kizuna.store.models import TeamRole

    clock = [100.0]
    cache = TokenCache(ttl=5, size=2, now=lambda: clock[0])
    kim = Principal(member_id="kim", name="Kim", role=TeamRole.CSM)
    lee = Principal(member_id="lee", name="Lee", role=TeamRole.VIEWER)
    assert cache.get("kzt_a") is None
    cache.put("kzt_a", "t1", kim)
    clock[0] = 104.9
    assert cache.get("kzt_a") == kim
    clock[0] = 105.0
    assert cache.get("kzt_a") is None  # expired: the next request asks the store again
    cache.put("kzt_a", "t1", kim)
    cache.put("kzt_b", "t2", lee)
    cache.forget_token("t1")
    assert (cache.get("kzt_a"), cache.get("kzt_b")) == (None, lee)
    cache.put("kzt_c", "t3", kim)
    cache.put("kzt_d", "t4", kim)  # over size 2: the oldest entry goes
    assert (cache.get("kzt_b"), cache.get("kzt_c"), cache.get("kzt_d")) == (None, kim, kim)
    off = TokenCache(ttl=0)
    off.put("kzt_a", "t1", kim)
    assert off.get("kzt_a") is None
