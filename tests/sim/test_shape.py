"""The simulated customer base tells a coherent story (300 accounts, seed 7)."""

from __future__ import annotations

import csv
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kizuna.sim import SimConfig, SimSummary, simulate


@dataclass
class SimOutput:
    summary: SimSummary
    out: Path
    tables: dict[str, list[dict[str, str]]]
    truth: pa.Table

    def events_glob(self) -> str:
        return str(self.out / "lake" / "events" / "event_date=*" / "*.parquet")


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def sim300(tmp_path_factory: pytest.TempPathFactory) -> SimOutput:
    out = tmp_path_factory.mktemp("sim300")
    summary = simulate(SimConfig(accounts=300, seed=7, activity_scale=0.5), out)
    names = ("team", "accounts", "contacts", "contracts", "tickets", "surveys", "activities")
    tables = {name: read_csv(out / f"{name}.csv") for name in names}
    tables["fx-rates"] = read_csv(out / "fx_rates.csv")
    return SimOutput(summary, out, tables, pq.read_table(out / "truth.parquet"))


START_US = int(datetime(2024, 7, 1, tzinfo=UTC).timestamp()) * 1_000_000
END_US = int(datetime(2025, 7, 1, tzinfo=UTC).timestamp()) * 1_000_000
ROLES = {"evaluator", "final_evaluator", "promoter", "end_user", "champion", "other"}


def _truth(sim: SimOutput) -> list[dict[str, object]]:
    return sim.truth.to_pylist()


def _db() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")  # event dates are UTC dates
    return con


def _mean(values: list[float]) -> float:
    return statistics.fmean(values)


def test_churned_accounts_were_less_engaged_than_renewed(sim300: SimOutput) -> None:
    truth = _truth(sim300)
    churned = [t for t in truth if t["outcome"] == "churned"]
    renewed = [t for t in truth if t["outcome"] in ("renewed", "expanded")]
    assert len(churned) >= 15 and len(renewed) >= 60
    latent_churned = _mean([float(t["engagement_before_renewal"]) for t in churned])  # type: ignore[arg-type]
    latent_renewed = _mean([float(t["engagement_before_renewal"]) for t in renewed])  # type: ignore[arg-type]
    assert latent_churned < latent_renewed - 0.1

    # observed: events per distinct user in the 12 weeks before the renewal date
    rows = (
        _db()
        .sql(
            f"""
        with t as (select * from read_parquet('{sim300.out / "truth.parquet"}')
                   where renewal_date is not null)
        select t.account_id, t.outcome,
               count(*) / count(distinct e.user_id) as events_per_user
        from t join read_parquet('{sim300.events_glob()}', hive_partitioning = false) e
          on e.account_id = t.account_id
         and e.timestamp::date between t.renewal_date::date - 84 and t.renewal_date::date
        group by all
        """
        )
        .fetchall()
    )
    per_user: dict[str, list[float]] = defaultdict(list)
    for _, outcome, value in rows:
        per_user[outcome].append(float(value))
    assert _mean(per_user["churned"]) < _mean(per_user["renewed"] + per_user["expanded"])

    # NPS answered in the window before the renewal
    outcome_of = {str(t["account_id"]): str(t["outcome"]) for t in truth}
    nps: dict[str, list[int]] = defaultdict(list)
    for row in sim300.tables["surveys"]:
        if row["kind"] == "nps":
            nps[outcome_of[row["account_id"]]].append(int(row["score"]))
    assert _mean(nps["churned"]) < _mean(nps["renewed"] + nps["expanded"]) - 0.5


def test_segments_are_skewed_in_size(sim300: SimOutput) -> None:
    segment = {a["id"]: a["segment"] for a in sim300.tables["accounts"]}
    counts = defaultdict(int)
    for s in segment.values():
        counts[s] += 1
    assert counts["smb"] > counts["mid-market"] > counts["enterprise"] > 0
    first_platform_arr: dict[str, float] = {}
    for line in sim300.tables["contracts"]:
        if line["product"] == "Platform" and line["currency"] == "USD":
            first_platform_arr.setdefault(line["account_id"], float(line["arr"]))
    by_segment: dict[str, list[float]] = defaultdict(list)
    for account, arr in first_platform_arr.items():
        by_segment[segment[account]].append(arr)
    assert statistics.median(by_segment["enterprise"]) > 10 * statistics.median(by_segment["smb"])
    assert statistics.median(by_segment["mid-market"]) > 2 * statistics.median(by_segment["smb"])


def test_low_engagement_brings_more_tickets(sim300: SimOutput) -> None:
    tickets = defaultdict(int)
    urgent = defaultdict(int)
    for t in sim300.tables["tickets"]:
        tickets[t["account_id"]] += 1
        urgent[t["account_id"]] += t["priority"] in ("high", "urgent")
    # within a segment (ticket rates differ by segment), the less engaged half files more
    low_total = high_total = 0
    for segment in ("smb", "mid-market"):
        truth = sorted(
            (
                t
                for t in _truth(sim300)
                if t["segment"] == segment and t["engagement_mean"] is not None
            ),
            key=lambda t: float(t["engagement_mean"]),  # type: ignore[arg-type]
        )
        half = len(truth) // 2
        low_total += sum(tickets[str(t["account_id"])] for t in truth[:half])
        high_total += sum(tickets[str(t["account_id"])] for t in truth[half:])
    assert low_total > 1.2 * high_total
    all_truth = sorted(_truth(sim300), key=lambda t: float(t["engagement_mean"] or 0))  # type: ignore[arg-type]
    third = len(all_truth) // 3
    share = [
        sum(urgent[str(t["account_id"])] for t in part)
        / max(1, sum(tickets[str(t["account_id"])] for t in part))
        for part in (all_truth[:third], all_truth[-third:])
    ]
    assert share[0] > share[1]


def test_onboarding_is_visible_and_sometimes_late_or_never(sim300: SimOutput) -> None:
    truth = {str(t["account_id"]): t for t in _truth(sim300)}
    kinds = defaultdict(int)
    for t in truth.values():
        kinds[str(t["onboarding"])] += 1
    assert kinds["on_time"] > 0 and kinds["late"] > 0 and kinds["never"] > 0
    assert kinds["before_window"] > kinds["on_time"]
    milestones = (
        _db()
        .sql(
            f"""select account_id, event, min(timestamp)::date
            from read_parquet('{sim300.events_glob()}')
            where event like 'onboarding_%' group by all"""
        )
        .fetchall()
    )
    first_value = {a: d for a, e, d in milestones if e == "onboarding_first_value"}
    kickoff = {a for a, e, _ in milestones if e == "onboarding_kickoff"}
    for account, t in truth.items():
        if t["onboarding"] == "never" or t["onboarding"] == "before_window":
            assert account not in first_value
        if t["onboarding"] in ("on_time", "late", "never") and date.fromisoformat(
            str(t["contract_start"])
        ) <= date(2025, 6, 20):
            assert account in kickoff
        if account in first_value:
            due = date.fromisoformat(str(t["first_value_due"]))
            assert (first_value[account] <= due) == (t["onboarding"] == "on_time")
    assert any(t["onboarding"] == "late" and a in first_value for a, t in truth.items())
    kickoff_notes = [
        a for a in sim300.tables["activities"] if a["text"].startswith("Kick-off meeting")
    ]
    assert {a["account_id"] for a in kickoff_notes} == kickoff


def test_every_reference_resolves(sim300: SimOutput) -> None:
    tables = sim300.tables
    for name, rows in tables.items():
        if name != "fx-rates":
            ids = [r["id"] for r in rows]
            assert len(ids) == len(set(ids)), name
    team = {r["id"] for r in tables["team"]}
    seen: set[str] = set()
    for member in tables["team"]:
        assert member["manager_id"] == "" or member["manager_id"] in seen
        seen.add(member["id"])
    seen = set()
    for account in tables["accounts"]:
        assert account["parent_id"] == "" or account["parent_id"] in seen  # parent first
        assert account["owner_id"] in team
        assert isinstance(orjson.loads(account["attributes"]), dict)
        seen.add(account["id"])
    accounts = seen
    assert any(a["parent_id"] for a in tables["accounts"])
    contact_account = {c["id"]: c["account_id"] for c in tables["contacts"]}
    assert set(contact_account.values()) == accounts
    assert {c["success_role"] for c in tables["contacts"]} == ROLES
    lines: dict[str, dict[str, str]] = {}
    currencies = {r["currency"] for r in tables["fx-rates"]} | {"USD"}
    for line in tables["contracts"]:
        assert line["account_id"] in accounts
        assert date.fromisoformat(line["end_date"]) >= date.fromisoformat(line["start_date"])
        assert line["status"] in ("active", "ended", "cancelled", "pending")
        assert line["currency"] in currencies
        if line["renews_line_id"]:
            renewed = lines[line["renews_line_id"]]  # an earlier row
            assert renewed["account_id"] == line["account_id"]
            assert renewed["product"] == line["product"]
            assert date.fromisoformat(renewed["end_date"]) + timedelta(
                days=1
            ) == date.fromisoformat(line["start_date"])
        lines[line["id"]] = line
    for ticket in tables["tickets"]:
        assert ticket["account_id"] in accounts
        assert ticket["priority"] in ("low", "normal", "high", "urgent")
        assert ticket["status"] in ("open", "pending", "solved", "closed")
        assert (ticket["closed_at"] == "") == (ticket["status"] in ("open", "pending"))
        assert ticket["opened_at"].endswith("Z")
        if ticket["closed_at"]:
            assert ticket["closed_at"] >= ticket["opened_at"]
        assert ticket["csat"] == "" or 1 <= int(ticket["csat"]) <= 5
    for answer in tables["surveys"]:
        assert contact_account[answer["contact_id"]] == answer["account_id"]
        assert 0 <= int(answer["score"]) <= (10 if answer["kind"] == "nps" else 5)
    for activity in tables["activities"]:
        assert activity["account_id"] in accounts and activity["author_id"] in team
        assert activity["kind"] in ("meeting", "call", "email", "note")


def test_events_only_while_a_contract_is_live(sim300: SimOutput) -> None:
    ranges: dict[str, list[tuple[date, date]]] = defaultdict(list)
    for line in sim300.tables["contracts"]:
        ranges[line["account_id"]].append(
            (date.fromisoformat(line["start_date"]), date.fromisoformat(line["end_date"]))
        )
    per_day = (
        _db()
        .sql(
            f"""select account_id, timestamp::date as d, epoch_us(min(timestamp)),
                   epoch_us(max(timestamp)), count(*),
                   count(distinct message_id)
            from read_parquet('{sim300.events_glob()}') group by all"""
        )
        .fetchall()
    )
    grace = timedelta(days=3)
    total = 0
    for account, day, first, last, count, distinct in per_day:
        assert any(s - grace <= day <= e + grace for s, e in ranges[account]), (account, day)
        assert START_US <= first <= last < END_US
        assert count == distinct
        total += count
    assert total == sim300.summary.events
    churned = {
        str(t["account_id"]): str(t["renewal_date"])
        for t in _truth(sim300)
        if t["outcome"] == "churned" and not t["reactivated"]
    }
    after_churn = [a for a, d, *_ in per_day if a in churned and d > date.fromisoformat(churned[a])]
    assert after_churn == []
    ids = (
        _db()
        .sql(
            "select count(distinct message_id), count(distinct event) "
            f"from read_parquet('{sim300.events_glob()}')"
        )
        .fetchall()
    )
    assert ids[0][0] == total and ids[0][1] >= 15


def test_summary_counts_match_files(sim300: SimOutput) -> None:
    summary = sim300.summary
    assert summary.rows == {name: len(rows) for name, rows in sim300.tables.items()}
    assert sum(summary.accounts_by_segment.values()) == 300
    assert summary.start_date == date(2024, 7, 1) and summary.end_date == date(2025, 6, 30)
    assert (
        summary.first_event_at is not None and summary.first_event_at.date() >= summary.start_date
    )
    assert summary.last_event_at is not None and summary.last_event_at.date() <= summary.end_date
