"""Metric values on a hand-built event set, worked out by hand (window edges included)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from metrics_handbuilt import AS_OF, DEFINITIONS, seed

from kizuna.metrics import compute_metrics, read_metric_values
from kizuna.metrics.definitions import parse_definitions
from kizuna.platform import Platform
from kizuna.store.models import Account, ContractLine

# Window (D-28, D] = business days 2025-06-03 .. 2025-06-30.
# acme in window: e1 login u1 (06-30), e2 login u2 (06-03), e5 export u1 rows 1200 (06-20),
#   e6 export u2 rows "300" (06-25), e7 report u2 (06-25), e8 page_view u1 (06-25)
#   -> 6 events, users {u1,u2}, days {06-03, 06-20, 06-25, 06-30}.
#   e3 (06-02, exactly 28 days before) and e4 (07-01, after D) never count.
# acme at D-28 = 06-02: window 05-06..06-02 holds e3 and e9 -> 2 events; change (6-2)/2 = +200 %.
# beta: b1 login u9 and b2 api_call without user on 06-29; seats 2 (the 4-seat line is cancelled).
# gamma: no events, no contract.
EXPECTED = {
    "acme": {
        "events_28d": 6.0,
        "logins_28d": 2.0,
        "logins_7d": 1.0,
        "active_users_28d": 2.0,
        "active_days_28d": 4.0,
        "rows_exported_28d": 1500.0,
        "big_exports_28d": 1.0,
        "events_per_user_28d": 3.0,
        "reports_per_user_28d": 0.5,
        "seat_share_28d": 0.2,  # 2 users / 10 seats live at D (the 5-seat line starts 07-01)
        "breadth_28d": 2.0,
        "days_since_login": 0.0,
        "tenure": 364.0,  # 2024-07-01 -> 2025-06-30
        "logins_per_day": 0.5,
        "events_change": 200.0,
    },
    "beta": {
        "events_28d": 2.0,
        "logins_28d": 1.0,
        "logins_7d": 1.0,
        "active_users_28d": 1.0,
        "active_days_28d": 1.0,
        "rows_exported_28d": 0.0,
        "big_exports_28d": 0.0,
        "events_per_user_28d": 2.0,
        "reports_per_user_28d": 0.0,
        "seat_share_28d": 0.5,
        "breadth_28d": 0.0,
        "days_since_login": 1.0,
        "tenure": 180.0,  # 2025-01-01 -> 2025-06-30 (cancelled lines still started the tenure)
        "logins_per_day": 1.0,
        "events_change": None,  # nothing 28 days earlier: no base to compare with
    },
    "gamma": {
        "events_28d": 0.0,
        "logins_28d": 0.0,
        "logins_7d": 0.0,
        "active_users_28d": 0.0,
        "active_days_28d": 0.0,
        "rows_exported_28d": 0.0,
        "big_exports_28d": 0.0,
        "events_per_user_28d": None,
        "reports_per_user_28d": None,
        "seat_share_28d": None,
        "breadth_28d": 0.0,
        "days_since_login": None,
        "tenure": None,
        "logins_per_day": None,
        "events_change": None,
    },
}


def values_by_account(platform: Platform, as_of: date) -> dict[str, dict[str, float | None]]:
    out: dict[str, dict[str, float | None]] = {}
    for row in read_metric_values(platform, as_of=as_of).to_pylist():
        value = row["value"]
        out.setdefault(row["account_id"], {})[row["metric"]] = (
            None if value is None else round(value, 9)
        )
    return out


def test_every_kind_by_hand(platform: Platform) -> None:
    seed(platform)
    metrics = parse_definitions(DEFINITIONS, "test")
    run = compute_metrics(platform, AS_OF, metrics)
    assert run.as_of == [AS_OF]
    assert run.accounts == 3
    assert values_by_account(platform, AS_OF) == EXPECTED


def test_many_dates_in_one_run_match_single_dates(platform: Platform) -> None:
    seed(platform)
    metrics = parse_definitions(DEFINITIONS, "test")
    days = [date(2025, 6, 2), date(2025, 6, 9), AS_OF]
    compute_metrics(platform, days, metrics)
    together = {d: values_by_account(platform, d) for d in days}
    for d in days:
        compute_metrics(platform, d, metrics)
        assert values_by_account(platform, d) == together[d]
    assert together[AS_OF] == EXPECTED
    # as of 06-02: e3 (06-02 23:59:59) and e9 (06-01) are in; later events are not.
    assert together[date(2025, 6, 2)]["acme"]["events_28d"] == 2.0
    assert together[date(2025, 6, 2)]["acme"]["days_since_login"] == 0.0
    assert together[date(2025, 6, 9)]["acme"]["days_since_login"] == 6.0  # last login 06-03


def test_recomputing_a_date_replaces_its_values(platform: Platform) -> None:
    seed(platform)
    metrics = parse_definitions(DEFINITIONS, "test")
    compute_metrics(platform, AS_OF, metrics)
    compute_metrics(platform, AS_OF, metrics)
    table = read_metric_values(platform, as_of=AS_OF)
    assert table.num_rows == 3 * len(metrics.names)
    one = read_metric_values(platform, account_id="acme", metrics=["tenure"]).to_pylist()
    assert one == [{"account_id": "acme", "as_of": AS_OF, "metric": "tenure", "value": 364.0}]


@pytest.mark.parametrize(
    ("timestamp", "counted"),
    [
        ("2025-06-30T14:59:59Z", True),  # 23:59:59 on D in Tokyo
        ("2025-06-30T15:00:00Z", False),  # 00:00 on 07-01 in Tokyo: after D
        ("2025-06-02T15:00:00Z", True),  # 00:00 on 06-03 in Tokyo: first day of the window
        ("2025-06-02T14:59:59Z", False),  # 23:59:59 on 06-02 in Tokyo: 28 days before, out
    ],
)
def test_business_timezone_decides_the_day(
    sqlite_platform: Platform, timestamp: str, counted: bool
) -> None:
    platform = sqlite_platform
    platform.settings = platform.settings.model_copy(update={"timezone": "Asia/Tokyo"})
    with platform.store.session() as session:
        from kizuna.store.models import Account

        session.add(Account(id="acme", name="Acme"))
    from kizuna.lake.ingest import ingest_records

    ingest_records(
        platform,
        [{"message_id": "m", "account_id": "acme", "event": "login", "timestamp": timestamp}],
        source="test",
    )
    metrics = parse_definitions(
        {"metrics": [{"name": "logins_28d", "kind": "count", "window_days": 28}]}, "test"
    )
    compute_metrics(platform, AS_OF, metrics)
    assert values_by_account(platform, AS_OF) == {"acme": {"logins_28d": 1.0 if counted else 0.0}}


def test_default_set_runs_on_the_hand_built_data(platform: Platform) -> None:
    seed(platform)
    run = compute_metrics(platform, AS_OF)
    values = values_by_account(platform, AS_OF)
    assert run.metrics == sorted(values["acme"], key=run.metrics.index)
    assert values["acme"]["logins_28d"] == 2.0
    assert values["acme"]["rows_exported_28d"] == 1500.0
    assert values["acme"]["session_seconds_28d"] == 31.0
    assert values["gamma"]["events_28d"] == 0.0


def test_percent_changes_of_every_kind_compare_with_the_base_days_earlier(
    platform: Platform,
) -> None:
    """A change against N days earlier equals 100 * (v(D) - v(D-N)) / v(D-N) of its base,
    whether the base is read N days back from the prefix table (event kinds) or computed
    as of D - N and joined (seats, tenure, ratios, changes of changes)."""
    seed(platform)
    bases = [m["name"] for m in DEFINITIONS["metrics"] if m["kind"] != "pct_change"]
    lags = {"events_28d": 28, "days_since_login": 10, "seat_share_28d": 7, "tenure": 5}
    changes = [
        {"name": f"{b}_chg", "kind": "pct_change", "of": b, "days_earlier": lags.get(b, 3)}
        for b in bases
    ]
    changes.append(
        {"name": "events_chg_chg", "kind": "pct_change", "of": "events_28d_chg", "days_earlier": 2}
    )
    metrics = parse_definitions({"metrics": DEFINITIONS["metrics"] + changes}, "test")
    days = [date(2025, 6, 9), date(2025, 6, 20), AS_OF]
    compute_metrics(platform, days, metrics)
    together = {d: values_by_account(platform, d) for d in days}
    lag_days = {c["days_earlier"] for c in changes}
    compute_metrics(
        platform, sorted({d - timedelta(days=n) for d in days for n in lag_days}), metrics
    )
    for change in changes:
        name, base, lag = change["name"], change["of"], change["days_earlier"]
        for d in days:
            earlier = values_by_account(platform, d - timedelta(days=lag))
            for account, now in together[d].items():
                then = earlier[account][base]
                expected = (
                    None
                    if then is None or now[base] is None or then == 0
                    else (now[base] - then) / then * 100.0
                )
                assert now[name] == pytest.approx(expected), (name, account, d)


def test_accounts_removed_from_the_store_get_no_values(platform: Platform) -> None:
    """Events of an account since removed stay in the lake but yield no values; the
    others' values do not change."""
    seed(platform)
    metrics = parse_definitions(DEFINITIONS, "test")
    compute_metrics(platform, AS_OF, metrics)  # the roll-up now knows acme's events
    with platform.store.session() as s:
        s.execute(sa.delete(ContractLine).where(ContractLine.account_id == "acme"))
        s.execute(sa.delete(Account).where(Account.id == "acme"))
    run = compute_metrics(platform, AS_OF, metrics)
    assert run.accounts == 2
    values = values_by_account(platform, AS_OF)
    assert values == {k: v for k, v in EXPECTED.items() if k != "acme"}
