"""``/risk``: roles, per-account scope, audit and problem+json over a trained model."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date

import pytest
import sqlalchemy as sa
from tests.api.conftest import Api, make_api
from tests.risk.conftest import build_base

from kizuna.ops.locks import StoreLock, lock_holder
from kizuna.platform import Platform
from kizuna.risk import RiskConfig, score, train
from kizuna.risk.jobs import TRAIN_LOCK
from kizuna.store.auth_models import AuditRecord
from kizuna.store.models import Account

AS_OF = date(2025, 6, 30)


@pytest.fixture
def risk_api(platform: Platform) -> Iterator[Api]:
    for api in make_api(platform, csm_scope="own"):
        build_base(platform, n=150)
        with platform.store.session() as s:
            s.execute(sa.update(Account).where(Account.id == "T0001").values(owner_id="csm-a"))
        train(platform, AS_OF, RiskConfig(n_boot=50))
        score(platform, AS_OF)
        yield api


def test_risk_routes(risk_api: Api) -> None:
    api = risk_api
    listed = api.get("admin", "/risk/accounts", params={"limit": 5}).json()
    assert listed["as_of"] == "2025-06-30" and listed["count"] == 5
    p = [a["probability"] for a in listed["accounts"]]
    assert p == sorted(p, reverse=True)
    # a scoped CSM lists and reads only their own accounts
    mine = api.get("csm-a", "/risk/accounts").json()
    assert [a["account_id"] for a in mine["accounts"]] == ["T0001"]
    shown = api.get("csm-a", "/risk/accounts/T0001", params={"lang": "ja"})
    assert shown.status_code == 200
    body = shown.json()
    assert body["account_id"] == "T0001" and len(body["drivers"]) == 5
    assert body["band_label"] in ("高リスク", "中リスク", "低リスク")
    hidden = api.get("csm-a", "/risk/accounts/T0002")
    missing = api.get("csm-a", "/risk/accounts/NOPE")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.headers["content-type"].startswith("application/problem+json")
    models = api.get("viewer", "/risk/models").json()["models"]
    ev = api.get("viewer", "/risk/evaluation", params={"version": models[0]["version"]}).json()
    assert ev["version"] == models[0]["version"] and ev["backtest"]["n"] >= 30
    bad = api.get("viewer", "/risk/evaluation", params={"version": "../x"})
    assert bad.status_code == 422
    # scoring and training need a manager; denials and runs are audited
    assert api.post("csm-a", "/risk/score").status_code == 403
    assert api.post("viewer", "/risk/train").status_code == 403
    done = api.post("manager", "/risk/score", params={"as_of": "2025-05-31"})
    assert done.status_code == 200 and done.json()["as_of"] == "2025-05-31"
    with api.platform.store.session() as s:
        audit = s.execute(
            sa.select(AuditRecord.actor_id, AuditRecord.action, AuditRecord.allowed).where(
                AuditRecord.resource == "risk"
            )
        ).all()
    assert sorted(tuple(a) for a in audit) == [
        ("csm-a", "read", False),  # T0002, outside the book: "not found", and audited
        ("csm-a", "score", False),
        ("manager", "score", True),
        ("viewer", "train", False),
    ]


def test_training_runs_in_the_background_once_at_a_time(platform: Platform) -> None:
    for api in make_api(platform, csm_scope="own"):
        build_base(platform, n=150)
        other = StoreLock(platform.store, TRAIN_LOCK, "risk-train@elsewhere:1:x")
        assert other.acquire()
        busy = api.post("manager", "/risk/train", params={"as_of": "2025-06-30"})
        assert busy.status_code == 409 and "risk-train@elsewhere:1:x" in busy.text
        other.release()
        assert api.post("csm-a", "/risk/train").status_code == 403
        assert api.get("csm-a", "/risk/jobs").status_code == 403
        started = api.post("manager", "/risk/train", params={"as_of": "2025-06-30"})
        assert started.status_code == 202, started.text
        job = started.json()
        assert started.headers["location"] == f"/risk/jobs/{job['id']}"
        assert (job["status"], job["as_of"], job["requested_by"]) == (
            "running",
            "2025-06-30",
            "manager",
        )
        deadline = time.monotonic() + 600
        while job["status"] == "running" and time.monotonic() < deadline:
            time.sleep(0.2)
            job = api.get("manager", f"/risk/jobs/{job['id']}").json()
        assert job["status"] == "succeeded", job
        while lock_holder(platform.store, TRAIN_LOCK) is not None and time.monotonic() < deadline:
            time.sleep(0.1)  # the server's thread frees the lock once the child has exited
        assert lock_holder(platform.store, TRAIN_LOCK) is None
        models = api.get("viewer", "/risk/models").json()["models"]
        assert [m["version"] for m in models] == [job["version"]]
        assert job["backtest"]["auc"] == models[0]["backtest"]
        listed = api.get("admin", "/risk/jobs").json()["jobs"]
        assert [j["id"] for j in listed] == [job["id"]]
        assert api.get("admin", "/risk/jobs/20250101T000000-abcdef").status_code == 404
        assert api.get("admin", "/risk/jobs/..%2Fx").status_code in (404, 422)
        with platform.store.session() as s:
            audit = s.execute(
                sa.select(AuditRecord.actor_id, AuditRecord.action, AuditRecord.detail).where(
                    AuditRecord.resource == "risk", AuditRecord.allowed.is_(True)
                )
            ).all()
        assert [tuple(a) for a in audit] == [("manager", "train", f"job {job['id']}")]
