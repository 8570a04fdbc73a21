"""``/ops``: the run log for admins, starting a run, and Prometheus at ``/ops/metrics``."""

from __future__ import annotations

import time
from datetime import date

from fastapi.testclient import TestClient
from tests.api.conftest import Api, make_api
from tests.api.test_collect import basic

from kizuna.api import create_app
from kizuna.auth.audit import list_audit
from kizuna.auth.sources import add_source
from kizuna.daily import StepOutcome, run_daily
from kizuna.ops import DAILY_LOCK, StoreLock
from kizuna.ops.prom import token_hash
from kizuna.platform import Platform

DAY = date(2025, 6, 30)


def _steps() -> dict[str, object]:
    return {
        "metrics": lambda p, days: StepOutcome("3 metrics", rows=30),
        "health": lambda p, days: "scored",
    }


def test_admins_read_the_run_log_others_are_refused_and_audited(api: Api) -> None:
    done = run_daily(api.platform, [DAY], steps=_steps(), trigger="cli")  # type: ignore[arg-type]
    r = api.get("admin", "/ops/runs")
    assert r.status_code == 200, r.text
    [run] = r.json()
    assert {k: run[k] for k in ("id", "first_date", "last_date", "trigger", "status", "dates")} == {
        "id": done.run_id,
        "first_date": "2025-06-30",
        "last_date": "2025-06-30",
        "trigger": "cli",
        "status": "succeeded",
        "dates": 1,
    }
    assert [(s["step"], s["status"], s["rows"], s["detail"]) for s in run["steps"]] == [
        ("metrics", "succeeded", 30, "3 metrics"),
        ("health", "succeeded", None, "scored"),
    ]
    assert api.get("admin", f"/ops/runs/{done.run_id}").json() == run
    assert api.get("admin", "/ops/runs/999999").status_code == 404
    assert api.get("admin", "/ops/runs", params={"status": "failed"}).json() == []
    assert api.get("admin", "/ops/runs", params={"status": "weird"}).status_code == 422
    for user in ("manager", "csm-a", "viewer"):
        assert api.get(user, "/ops/runs").status_code == 403
    denied = [a for a in list_audit(api.platform) if not a.allowed]
    assert {(a.actor_id, a.resource) for a in denied} >= {("viewer", "/ops/runs")}


def test_an_admin_starts_a_run_in_the_background_once_at_a_time(api: Api) -> None:
    other = StoreLock(api.platform.store, DAILY_LOCK, "daily@elsewhere:1:x")
    assert other.acquire()
    busy = api.post("admin", "/ops/runs", json={"as_of": "2025-06-30"})
    assert busy.status_code == 409 and "daily@elsewhere:1:x" in busy.text
    other.release()
    assert api.post("viewer", "/ops/runs", json={"as_of": "2025-06-30"}).status_code == 403
    bad = api.post("admin", "/ops/runs", json={"start": "2025-06-30", "end": "2025-06-01"})
    assert bad.status_code == 422 and "end is before start" in bad.text
    started = api.post("admin", "/ops/runs", json={"as_of": "2025-06-30"})
    assert started.status_code == 202, started.text
    assert started.json() == {"dates": ["2025-06-30"], "status": "started"}
    deadline = time.monotonic() + 600
    runs = api.get("admin", "/ops/runs").json()
    while (not runs or runs[0]["status"] == "running") and time.monotonic() < deadline:
        time.sleep(0.2)
        runs = api.get("admin", "/ops/runs").json()
    assert runs[0]["trigger"] == "api" and runs[0]["status"] in ("succeeded", "failed")
    assert [s["step"] for s in runs[0]["steps"]][:2] == ["lake", "metrics"]
    audit = [a for a in list_audit(api.platform) if a.resource == "daily_run"]
    assert [(a.actor_id, a.action, a.detail) for a in audit] == [("admin", "run", "2025-06-30")]


def test_prometheus_metrics_need_the_scrape_token_or_an_allowed_address(
    platform: Platform,
) -> None:
    token = "scrape-me-please-0123456789"
    for api in make_api(platform, ops_metrics_token_hash=token_hash(token)):
        run_daily(api.platform, [DAY], steps=_steps())  # type: ignore[arg-type]
        key = add_source(api.platform, "web-app").write_key
        event = {
            "userId": "u1",
            "event": "report_exported",
            "timestamp": "2025-06-01T10:00:00Z",
            "context": {"groupId": "acme"},
        }
        sent = [
            {**event, "type": "track", "messageId": "a"},
            {**event, "type": "track", "messageId": "b"},
            {**event, "type": "track", "messageId": "c", "timestamp": "1990-01-01T00:00:00Z"},
        ]
        assert (
            api.client.post("/v1/batch", json={"batch": sent}, headers=basic(key)).json()[
                "quarantined"
            ]
            == 1
        )
        api.get("admin", "/accounts/acme")
        assert api.client.get("/ops/metrics").status_code == 401
        wrong = api.client.get("/ops/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        r = api.client.get("/ops/metrics", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        text = r.text
        assert 'kizuna_events_total{outcome="accepted"} 2.0' in text
        assert 'kizuna_events_total{outcome="quarantined"} 1.0' in text
        route = 'method="GET",route="/accounts/{record_id}"'
        assert f'kizuna_http_requests_total{{{route},status="200"}} 1.0' in text
        assert f"kizuna_http_request_duration_seconds_count{{{route}}} 1.0" in text
        assert 'kizuna_daily_runs_total{status="succeeded"} 1.0' in text
        assert 'kizuna_daily_step_rows{step="metrics"} 30.0' in text
        assert 'kizuna_daily_step_seconds{step="health"}' in text
        assert "kizuna_daily_run_last_success_timestamp_seconds" in text
    allowed = platform.settings.model_copy(update={"ops_metrics_addresses": ["10.0.0.0/8"]})
    app = create_app(Platform(settings=allowed, store=platform.store, clock=platform.clock))
    with TestClient(app, client=("10.1.2.3", 5000)) as inside:
        assert inside.get("/ops/metrics").status_code == 200
    with TestClient(app, client=("192.168.1.9", 5000)) as outside:
        assert outside.get("/ops/metrics").status_code == 401
