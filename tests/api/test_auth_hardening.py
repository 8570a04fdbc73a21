"""Logins and sessions under attack (issue 13): each test failed before its fix."""

from __future__ import annotations

from datetime import timedelta

from tests.api.conftest import PASSWORD, Api

from kizuna.auth.users import add_user, set_active, set_password
from kizuna.clock import FixedClock
from kizuna.store.models import TeamMember, TeamRole

EMAIL = "csm-a@vendor.example"


def login(api: Api, password: str, email: str = EMAIL, client: str | None = None):  # type: ignore[no-untyped-def]
    headers = {"X-Forwarded-For": client} if client else None
    return api.client.post(
        "/auth/login", json={"email": email, "password": password}, headers=headers
    )


# -- 4. login throttling -------------------------------------------------------


def test_failed_logins_back_off_with_429_and_retry_after(api: Api) -> None:
    clock = api.platform.clock
    assert isinstance(clock, FixedClock)
    answers = [login(api, "wrong password!").status_code for _ in range(7)]
    # 5 wrong passwords are heard (401); then the next ones are refused unheard
    assert answers == [401] * 5 + [429, 429]
    refused = login(api, PASSWORD)  # even the right password, while blocked
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "30"
    assert refused.json()["detail"] == "too many failed logins; try again in 30 seconds"
    # the block ends: one more failure doubles it (30 s, then 60 s)
    start = clock.now()
    clock.set(start + timedelta(seconds=31))
    assert login(api, "wrong again!!").status_code == 401
    assert login(api, PASSWORD).headers["Retry-After"] == "60"
    # waiting always ends it, and a good login clears the account's counters
    clock.set(start + timedelta(seconds=31 + 61))
    assert login(api, PASSWORD).status_code == 200
    assert login(api, "wrong password!").status_code == 401


def test_backoff_is_capped_so_nobody_is_locked_out_for_good(api: Api) -> None:
    clock = api.platform.clock
    assert isinstance(clock, FixedClock)
    for _ in range(20):  # an attacker who waits out every block
        assert login(api, "guess guess guess").status_code == 401
        blocked = login(api, "guess guess guess")
        if blocked.status_code == 429:
            assert int(blocked.headers["Retry-After"]) <= 900
            clock.set(clock.now() + timedelta(seconds=int(blocked.headers["Retry-After"])))
    # the real user waits at most the cap after the last failure
    clock.set(clock.now() + timedelta(seconds=900))
    assert login(api, PASSWORD).status_code == 200


def test_the_counters_are_in_the_store_shared_by_every_worker(api: Api) -> None:
    from fastapi.testclient import TestClient

    from kizuna.api import create_app

    other = TestClient(create_app(api.platform), base_url="https://testserver")
    with other:
        for client in (api.client, other, api.client, other, api.client):
            r = client.post("/auth/login", json={"email": EMAIL, "password": "nope nope nope"})
            assert r.status_code == 401
        r = other.post("/auth/login", json={"email": EMAIL, "password": PASSWORD})
        assert r.status_code == 429


# -- 6. sessions end on the server ---------------------------------------------


def _session(api: Api) -> str:
    r = login(api, PASSWORD)
    assert r.status_code == 200, r.text
    return str(r.json()["csrf_token"])


def test_logging_out_ends_the_session_for_a_copied_cookie(api: Api) -> None:
    csrf = _session(api)
    stolen = api.client.cookies["kizuna_session"]
    assert api.client.post("/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    r = api.client.get("/auth/me", headers={"Cookie": f"kizuna_session={stolen}"})
    assert (r.status_code, r.json()["detail"]) == (401, "the session has ended: log in again")


def test_a_password_change_or_deactivation_ends_every_session(api: Api) -> None:
    _session(api)
    assert api.client.get("/auth/me").status_code == 200
    set_password(api.platform, "csm-a", "a brand new password")
    assert api.client.get("/auth/me").status_code == 401
    api.client.cookies.clear()
    assert login(api, "a brand new password").status_code == 200
    assert api.client.get("/auth/me").status_code == 200
    set_active(api.platform, "csm-a", False)
    set_active(api.platform, "csm-a", True)  # reactivated: the old session stays ended
    assert api.client.get("/auth/me").status_code == 401


def test_logout_needs_the_csrf_token(api: Api) -> None:
    _session(api)
    assert api.client.post("/auth/logout").status_code == 403
    assert api.client.get("/auth/me").status_code == 200


# -- 11. user add keeps an existing member's name ------------------------------


def test_adding_a_login_for_an_existing_member_keeps_their_name(api: Api) -> None:
    with api.platform.store.session() as session:
        session.add(TeamMember(id="hana", name="Hana Suzuki", role=TeamRole.CSM, active=True))
    add_user(
        api.platform,
        member_id="hana",
        name=None,
        email="hana@vendor.example",
        role=TeamRole.CSM,
        password=PASSWORD,
    )
    with api.platform.store.session() as session:
        assert session.get(TeamMember, "hana").name == "Hana Suzuki"  # type: ignore[union-attr]


def test_an_admin_deactivates_or_resets_a_user_through_the_api(api: Api) -> None:
    _session(api)
    r = api.client.patch(
        "/users/csm-a", json={"active": False}, headers=api.auth("admin") | {"Cookie": ""}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["id"], r.json()["active"]) == ("csm-a", False)
    assert api.client.get("/auth/me").status_code == 401  # the session ended
    assert api.patch("csm-b", "/users/csm-a", json={"active": True}).status_code == 403
    assert api.patch("admin", "/users/nobody", json={"active": True}).status_code == 404
    assert api.patch("admin", "/users/csm-a", json={"active": True}).json()["active"] is True
    assert api.patch("admin", "/users/csm-a", json={"password": "short"}).status_code == 422
