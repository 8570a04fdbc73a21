"""Segment-compatible event collection on the real lake ingest."""

from __future__ import annotations

import base64

import pytest
from tests.api.conftest import Api, make_api

from kizuna.auth.sources import add_source, revoke_source
from kizuna.lake.layout import LakeLayout
from kizuna.lake.reader import read_events
from kizuna.platform import Platform


def basic(write_key: str) -> dict[str, str]:
    token = base64.b64encode(f"{write_key}:".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def write_key(api: Api) -> str:
    return add_source(api.platform, "web-app").write_key


def lake_ids(api: Api) -> list[str]:
    table = read_events(LakeLayout(api.platform.settings.lake_dir))
    return sorted(table.column("message_id").to_pylist())


def test_track_lands_in_the_lake_before_answering(api: Api, write_key: str) -> None:
    event = {
        "messageId": "m1",
        "userId": "u1",
        "event": "report_exported",
        "timestamp": "2025-06-01T10:00:00Z",
        "properties": {"rows": 10},
        "context": {"groupId": "acme"},
    }
    r = api.client.post("/v1/track", json=event, headers=basic(write_key))
    assert r.status_code == 200, r.text
    assert r.json() == {
        "success": True,
        "accepted": 1,
        "duplicates": 0,
        "quarantined": 0,
        "errors": [],
    }
    assert lake_ids(api) == ["m1"]
    again = api.client.post("/v1/track", json=event, headers=basic(write_key)).json()
    assert (again["accepted"], again["duplicates"]) == (0, 1)


def test_batch_reports_each_bad_event_and_lands_the_good(api: Api, write_key: str) -> None:
    ts = "2025-06-01T10:00:00Z"
    body = {
        "context": {"groupId": "acme"},
        "batch": [
            {"type": "track", "messageId": "b1", "userId": "u1", "event": "login", "timestamp": ts},
            {
                "type": "identify",
                "messageId": "b2",
                "userId": "u1",
                "timestamp": ts,
                "traits": {"plan": "pro"},
            },
            {"type": "track", "messageId": "b3", "userId": "u1", "timestamp": ts},
            {
                "type": "track",
                "messageId": "b4",
                "userId": "u1",
                "event": "login",
                "timestamp": "yesterday",
            },
            {
                "type": "group",
                "messageId": "b5",
                "userId": "u2",
                "groupId": "globex",
                "timestamp": ts,
            },
        ],
    }
    r = api.client.post("/v1/batch", json=body, headers=basic(write_key))
    assert r.status_code == 200, r.text
    result = r.json()
    assert (result["success"], result["accepted"], result["quarantined"]) == (False, 3, 2)
    assert [(e["where"], e.get("field")) for e in result["errors"]] == [
        ("api:web-app record 3", "event"),
        ("api:web-app record 4", "timestamp"),
    ]
    assert lake_ids(api) == ["b1", "b2", "b5"]


def test_write_key_is_required_and_checked(api: Api, write_key: str) -> None:
    event = {"messageId": "m1", "userId": "u", "event": "e", "timestamp": "2025-06-01T00:00:00Z"}
    r = api.client.post("/v1/track", json=event)
    assert (r.status_code, r.headers["www-authenticate"]) == (401, "Basic")
    r = api.client.post("/v1/track", json=event, headers=basic("kzw_wrong"))
    assert r.status_code == 401
    # an API token is not a write key
    assert api.client.post("/v1/track", json=event, headers=api.auth("admin")).status_code == 401
    source_id = api.get("admin", "/sources").json()[0]["id"]
    revoke_source(api.platform, source_id)
    assert api.client.post("/v1/track", json=event, headers=basic(write_key)).status_code == 401


def test_bad_bodies(api: Api, write_key: str) -> None:
    r = api.client.post("/v1/track", content=b"{not json", headers=basic(write_key))
    assert (r.status_code, r.json()["title"]) == (400, "Bad request")
    r = api.client.post("/v1/track", json=[1, 2], headers=basic(write_key))
    assert r.status_code == 422
    r = api.client.post("/v1/batch", json={"batch": "x"}, headers=basic(write_key))
    assert (r.status_code, r.json()["errors"]) == (
        422,
        [{"message": "expected a list of calls", "where": "body batch", "field": "batch"}],
    )


def test_body_size_limit(platform: Platform) -> None:
    for api in make_api(platform, event_body_limit=1000):
        key = add_source(api.platform, "big").write_key
        big = {"batch": [{"type": "track", "event": "x" * 2000}]}
        r = api.client.post("/v1/batch", json=big, headers=basic(key))
        assert r.status_code == 413
        assert r.json()["detail"].endswith("the limit is 1000")
        assert lake_ids(api) == []
