"""The daily runs page (admin): last run with each step's duration, failures, recent runs,
"run now", in English and Japanese."""

from __future__ import annotations

import re
import time
from datetime import date

import pytest
from fastapi.testclient import TestClient
from tests.web.conftest import login

from kizuna.daily import DailyStepFailed, StepOutcome, run_daily
from kizuna.ops import DAILY_LOCK, StoreLock, list_runs
from kizuna.platform import Platform

DAY = date(2025, 6, 30)


def _broken(_: Platform, days: list[date]) -> str:
    raise RuntimeError("scorecard exploded")


def test_admins_see_the_last_run_its_steps_and_failures(
    client: TestClient, web_platform: Platform
) -> None:
    ok = {
        "metrics": lambda p, d: StepOutcome("3 metrics", rows=1234),
        "health": lambda p, d: "scored",
    }
    run_daily(web_platform, [DAY], steps=ok)  # type: ignore[arg-type]
    with pytest.raises(DailyStepFailed):
        run_daily(web_platform, [DAY], steps={**ok, "health": _broken})  # type: ignore[arg-type]
    [failed, succeeded] = list_runs(web_platform.store)

    login(client, "carl")
    assert "/ui/runs" not in client.get("/ui/accounts").text  # not in a CSM's navigation
    assert client.get("/ui/runs").status_code == 403
    client.cookies.clear()
    login(client, "ada")
    assert 'href="/ui/runs"' in client.get("/ui/accounts").text
    page = client.get("/ui/runs", headers={"Accept-Language": "en"}).text
    last = page[page.index('id="last-run"') : page.index('id="failures"')]
    assert 'data-status="failed"' in last and "Command line" in last
    assert re.search(r'data-step="metrics">\s*<td>Metrics</td>\s*<td>Succeeded</td>', last)
    assert "1,234" in last  # rows
    assert re.search(r'data-step="health">\s*<td>Health scores</td>\s*<td>Failed</td>', last)
    assert "RuntimeError: scorecard exploded" in last
    failures = page[page.index('id="failures"') : page.index('id="recent-runs"')]
    assert f"Run {failed.id} for" in failures and "“Health scores”" in failures
    recent = page[page.index('id="recent-runs"') :]
    assert f'data-run="{failed.id}"' in recent and f'data-run="{succeeded.id}"' in recent
    japanese = client.get("/ui/runs", headers={"Accept-Language": "ja"}).text
    assert "日次実行" in japanese and "ヘルススコア" in japanese and "失敗" in japanese
    assert "前回の実行" in japanese and "コマンドライン" in japanese


def test_run_now_starts_todays_run_once_at_a_time(
    client: TestClient, web_platform: Platform
) -> None:
    login(client, "ada")
    page = client.get("/ui/runs").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    assert client.post("/ui/runs", data={"csrf_token": "x"}).status_code == 403
    other = StoreLock(web_platform.store, DAILY_LOCK, "daily@elsewhere:1:x")
    assert other.acquire()
    busy = client.post("/ui/runs", data={"csrf_token": csrf})
    assert busy.status_code == 409 and "Another daily run is in progress" in busy.text
    assert "disabled" in client.get("/ui/runs").text
    other.release()
    started = client.post("/ui/runs", data={"csrf_token": csrf})
    assert started.status_code == 202 and "started" in started.text
    deadline = time.monotonic() + 600
    runs = list_runs(web_platform.store)
    while (not runs or runs[0].status == "running") and time.monotonic() < deadline:
        time.sleep(0.2)
        runs = list_runs(web_platform.store)
    assert runs[0].trigger == "api" and runs[0].first_date == web_platform.today()
    assert runs[0].status in ("succeeded", "failed")
