"""A team that loaded only accounts, contracts and its own events gets a working model.

The lake holds ``widget_opened`` and ``invoice_sent``, which no shipped metric
names: ``kizuna risk train`` derives metrics for them (no metric file written
by hand), learns that few widget openings mean churn, and scores every account.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from tests.risk.conftest import build_base

from kizuna.cli import run
from kizuna.clock import FixedClock
from kizuna.metrics import load_definitions
from kizuna.platform import Platform
from kizuna.risk.derived import suggest_metrics
from kizuna.settings import Settings
from kizuna.store.db import Store


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("risk-home")
    settings = Settings(home=home)
    store = Store(settings.store_url)
    store.upgrade()
    platform = Platform(
        settings=settings, store=store, clock=FixedClock(datetime(2025, 6, 30, 12, tzinfo=UTC))
    )
    build_base(platform, n=200)
    store.dispose()
    return home


def _cli(home: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = run(["--home", str(home), *args])
    captured = capsys.readouterr()
    return code, captured.out if code == 0 else captured.err


def test_suggest_derives_the_standard_set_for_unknown_event_types(home: Path) -> None:
    found = suggest_metrics(Settings(home=home).lake_dir, load_definitions(None), cap=1)
    assert found.derived_for == ["widget_opened"]  # the most frequent type
    assert found.left_out == ["invoice_sent"]
    assert found.covered == []
    assert [m.name for m in found.metrics.metrics] == [
        "widget_opened_28d",
        "widget_opened_per_user_28d",
        "widget_opened_28d_change",
        "days_since_widget_opened",
    ]
    assert [m.kind for m in found.metrics.metrics] == [
        "count",
        "per_user",
        "pct_change",
        "days_since_last",
    ]


def test_metrics_suggest_writes_a_definition_file(
    home: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "derived.yaml"
    code, out = _cli(home, capsys, "metrics", "suggest", "--write", str(target), "--json")
    assert code == 0, out
    result = json.loads(out)
    assert result["derived_for"] == ["widget_opened", "invoice_sent"]
    assert result["left_out"] == []
    assert load_definitions(target).names == [m["name"] for m in result["metrics"]]


def test_train_score_show_without_a_metric_file(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _cli(
        home, capsys, "risk", "train", "--as-of", "2025-06-30", "--json", "--bootstrap", "100"
    )
    assert code == 0, out
    result = json.loads(out)
    backtest = result["evaluation"]["backtest"]
    assert backtest is not None and backtest["n"] >= 30
    # engagement drives churn through the derived widget metrics: far better than chance
    assert backtest["auc"] > 0.75
    assert backtest["top_decile_lift"] > 1.5
    models = json.loads(_cli(home, capsys, "risk", "models", "--json")[1])
    assert models[0]["version"] == result["version"]
    code, out = _cli(home, capsys, "risk", "evaluate", "--json")
    view = json.loads(out)
    assert "m:widget_opened_28d" in {f for i in view["importance"] for f in i["members"]}
    assert "widget_opened_28d" in view["derived_metrics"]
    code, out = _cli(home, capsys, "risk", "score", "--as-of", "2025-06-30", "--json")
    assert code == 0, out
    scored = json.loads(out)
    # accounts with ARR on 2025-06-30: every account that did not churn
    assert scored["accounts"] == 200 - _churned(home)
    code, out = _cli(home, capsys, "risk", "show", "T0001", "--json", "--lang", "ja")
    assert code == 0, out
    shown = json.loads(out)
    assert shown["as_of"] == "2025-06-30"
    assert len(shown["drivers"]) == 5
    assert all(d["text"] for d in shown["drivers"])
    missing = _cli(home, capsys, "risk", "show", "NOPE")
    assert missing[0] == 1 and "NOPE" in missing[1]


def _churned(home: Path) -> int:
    import sqlalchemy as sa

    store = Store(Settings(home=home).store_url)
    try:
        with store.engine.connect() as conn:
            live = conn.execute(
                sa.text(
                    "select count(distinct account_id) from contract_lines "
                    "where start_date <= :d and end_date >= :d"
                ),
                {"d": date(2025, 6, 30)},
            ).scalar_one()
    finally:
        store.dispose()
    return 200 - int(live)
