"""Benchmark: seed 004's fifteen metrics for a year by segment at the M size (100k accounts).

Prepares (once, cached under ``bench/data/revenue-M/``) a copy of the M store
(``/work/coord/data/M`` by default; never modified in place) upgraded to the
current revision, then:

* the demo's deal history for the year (:mod:`kizuna.sim.opportunities`: every
  line that ended gets a renewal opportunity, won when a line of the same
  account and product follows within 31 days, else lost; every renewal that
  grew ARR a won upsell), and the renewals ahead opened by the real service;
* the inputs the daily run hands on, written with the product's own writers:
  a health snapshot and the usage metric values on the period's last day, and
  the book's onboarding report (synthetic outcomes for every account whose
  contract started in the year — the daily run's lifecycle step computes the
  real one once; the framework only regroups it).

Then times ``framework(..., by="segment")`` for the year (wall and CPU, after a
warm-up; the ledger is loaded inside the timing) against the naive way in the
same run: per segment, a filtered ledger and every figure recomputed from ORM
rows. Checks both give the same figures.

    python bench/revenue/run.py [--source /work/coord/data/M] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import platform as pyplatform
import shutil
import statistics
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import sqlalchemy as sa

from kizuna.clock import FixedClock
from kizuna.health.snapshots import SNAPSHOT_SCHEMA, write_snapshot
from kizuna.lifecycle.onboarding import AccountOnboarding, OnboardingReport, summarise
from kizuna.metrics.store import write_values
from kizuna.platform import Platform
from kizuna.retention import Ledger, LedgerFilters, renewals, retention_rates
from kizuna.revenue import framework, load_definition, open_renewals
from kizuna.settings import Settings
from kizuna.sim.opportunities import simulate_opportunities
from kizuna.store.db import Store
from kizuna.store.models import Account, SurveyKind, SurveyResponse, Ticket, TicketStatus
from kizuna.store.revenue_models import Opportunity, OpportunityStatus

START, END = date(2024, 7, 1), date(2025, 6, 30)
ROOT = Path(__file__).resolve().parents[1] / "data" / "revenue-M"


def machine() -> str:
    cpu = "unknown CPU"
    for ln in Path("/proc/cpuinfo").read_text().splitlines():
        if ln.startswith("model name"):
            cpu = ln.split(":", 1)[1].strip()
            break
    mem = next(
        int(ln.split()[1])
        for ln in Path("/proc/meminfo").read_text().splitlines()
        if ln.startswith("MemTotal")
    )
    python = pyplatform.python_version()
    return f"{cpu}, {os.cpu_count()} cores, {mem / 1024**2:.0f} GB RAM, Python {python}"


def platform_at(home: Path, day: date) -> Platform:
    settings = Settings(home=home)
    clock = FixedClock(datetime(day.year, day.month, day.day, 12, tzinfo=UTC))
    return Platform(settings, Store(settings.store_url), clock)


def prepare(source: Path) -> Path:
    home = ROOT / "home"
    done = ROOT / "prepared"
    if done.exists():
        return home
    shutil.rmtree(ROOT, ignore_errors=True)
    home.mkdir(parents=True)
    shutil.copy(source / "kizuna.sqlite3", home / "kizuna.sqlite3")
    t0 = time.perf_counter()
    Store(Settings(home=home).store_url).upgrade()
    print(f"prepare: upgraded the copy in {time.perf_counter() - t0:.1f} s")
    definition = load_definition()
    p = platform_at(home, END)
    t0 = time.perf_counter()
    closed = simulate_opportunities(p, START, END + timedelta(days=1), seed=42)
    print(
        f"prepare: {closed:,} closed deals (the demo's history) in {time.perf_counter() - t0:.1f} s"
    )
    t0 = time.perf_counter()
    opened = open_renewals(p, definition, END).opened
    print(f"prepare: {opened:,} renewal opportunities opened in {time.perf_counter() - t0:.1f} s")
    with p.store.engine.connect() as conn:
        accounts = [r[0] for r in conn.execute(sa.text("SELECT id FROM accounts ORDER BY id"))]
    rng = np.random.default_rng(18)
    # the daily run's inputs on the period's last day
    ids = pa.array(accounts, pa.string())
    n = len(accounts)
    scores = rng.uniform(10, 100, n)
    bands = np.where(scores < 50, "red", np.where(scores < 75, "yellow", "green"))
    adoption = rng.uniform(0, 100, n)
    _write_health(p, ids, scores, bands, adoption)
    write_values(
        p.settings.home,
        pa.table(
            {
                "as_of": pa.array([END] * n, pa.date32()),
                "account_id": ids,
                "events_28d": pa.array(rng.poisson(40, n) * (rng.random(n) < 0.85)).cast(
                    pa.float64()
                ),
                "feature_breadth_28d": pa.array(rng.uniform(0, 1, n)),
            }
        ),
        ["events_28d", "feature_breadth_28d"],
    )
    p.close()
    done.write_text("ok")
    return home


def _write_health(p: Platform, ids: pa.Array, scores: Any, bands: Any, adoption: Any) -> None:
    rows = {
        name: pa.nulls(len(ids), SNAPSHOT_SCHEMA.field(name).type) for name in SNAPSHOT_SCHEMA.names
    }
    rows["account_id"] = ids
    rows["as_of"] = pa.array([END] * len(ids), pa.date32())
    rows["score"] = pa.array(scores)
    rows["band"] = pa.array(bands.tolist())
    rows["groups"] = pa.array(
        [
            [{"name": "adoption", "weight": 30.0, "effective_weight": 30.0, "score": float(a)}]
            for a in adoption
        ],
        SNAPSHOT_SCHEMA.field("groups").type,
    )
    write_snapshot(p.settings, END, pa.table(rows, schema=SNAPSHOT_SCHEMA))


def onboarding_input(p: Platform) -> OnboardingReport:
    """A stand-in for the report the daily run's lifecycle hands on: every account whose
    first contract started in the year, with synthetic outcomes."""
    with p.store.engine.connect() as conn:
        firsts = conn.execute(
            sa.text(
                "SELECT a.id, a.segment, MIN(c.start_date) FROM accounts a JOIN contract_lines c "
                "ON c.account_id = a.id GROUP BY a.id, a.segment"
            )
        ).all()
    rng = np.random.default_rng(4)
    rows = []
    for account_id, segment, first in firsts:
        start = first if isinstance(first, date) else date.fromisoformat(first)
        if not START <= start <= END:
            continue
        ttv = int(rng.integers(5, 120)) if rng.random() < 0.8 else None
        rows.append(
            AccountOnboarding(
                account_id=account_id,
                segment=segment,
                cohort=start.strftime("%Y-%m"),
                contract_start=start,
                first_value_on=start + timedelta(days=ttv) if ttv else None,
                time_to_value_days=ttv,
                activated_on=None,
                activated_in_window=bool(rng.random() < 0.7),
                planned_finish=start + timedelta(days=60),
                finished_on=None,
                on_time=bool(rng.random() < 0.6),
                overdue_milestones=0,
            )
        )
    return OnboardingReport(
        start=START,
        end=END,
        as_of=END,
        activation_window_days=30,
        tracking_started=None,
        untracked_accounts=0,
        overall=summarise(rows),
        by_segment={},
        by_cohort={},
        accounts=rows,
    )


def naive(p: Platform, onboarding: OnboardingReport) -> dict[str, dict[str, Any]]:
    """Per segment: a filtered ledger and every figure from ORM rows, one segment at a time."""
    from kizuna.health.snapshots import read_snapshot
    from kizuna.metrics.store import read_values

    out: dict[str, dict[str, Any]] = {}
    with p.store.session() as s:
        segments = sorted({a.segment for a in s.execute(sa.select(Account)).scalars()} - {None})
    lo = datetime(START.year, START.month, START.day, tzinfo=UTC)
    hi = datetime(END.year, END.month, END.day, tzinfo=UTC) + timedelta(days=1)
    for seg in segments:
        f: dict[str, Any] = {}
        with p.store.session() as s:
            members = {
                a.id for a in s.execute(sa.select(Account).where(Account.segment == seg)).scalars()
            }
            tickets = [
                t
                for t in s.execute(sa.select(Ticket)).scalars()
                if t.account_id in members and lo <= t.opened_at < hi
            ]
            f["resolution_rate"] = (
                sum(
                    1
                    for t in tickets
                    if t.status in (TicketStatus.SOLVED, TicketStatus.CLOSED)
                    and t.closed_at
                    and t.closed_at < hi
                )
                / len(tickets)
                if tickets
                else None
            )
            answers = [
                r.score
                for r in s.execute(sa.select(SurveyResponse)).scalars()
                if r.account_id in members and r.kind == SurveyKind.NPS and lo <= r.answered_at < hi
            ]
            f["nps"] = (
                round(
                    100
                    * (sum(a >= 9 for a in answers) - sum(a <= 6 for a in answers))
                    / len(answers),
                    2,
                )
                if answers
                else None
            )
            opps = [
                o
                for o in s.execute(sa.select(Opportunity)).scalars()
                if o.account_id in members and o.closed_on and START <= o.closed_on <= END
            ]
            won = sum(o.status == OpportunityStatus.WON for o in opps)
            f["close_rate"] = won / len(opps) if opps else None
        with Ledger.load(p.store, p.settings, filters=LedgerFilters(segment=seg)) as ledger:
            r = retention_rates(ledger, START, END).rates
            f["retention_rate"] = float(r.grr) if r.grr is not None else None
            t = renewals(ledger, START, END, as_of=END).totals
            f["final_renewal_rate"] = (
                float(t.decided_renewal_rate) if t.decided_renewal_rate is not None else None
            )
        snap = read_snapshot(p.settings, END)
        assert snap is not None
        bands: dict[str, int] = defaultdict(int)
        for row in snap.to_pylist():
            if row["account_id"] in members:
                bands[row["band"]] += 1
        f["bands"] = dict(bands)
        values = read_values(p.settings.home, END, metrics=["events_28d"]).to_pylist()
        mine = [v for v in values if v["account_id"] in members]
        f["product_usage"] = (
            sum(1 for v in mine if v["value"] and v["value"] > 0) / len(mine) if mine else None
        )
        ttv = sorted(
            a.time_to_value_days
            for a in onboarding.accounts
            if a.account_id in members and a.time_to_value_days is not None
        )
        f["time_to_value"] = statistics.median(ttv) if ttv else None
        out[seg] = f
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", type=Path, default=Path("/work/coord/data/M"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-naive", action="store_true")
    args = parser.parse_args()
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.2f}")
    home = prepare(args.source)
    p = platform_at(home, END)
    onboarding = onboarding_input(p)
    with p.store.engine.connect() as conn:
        counts = {
            t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar()
            for t in ("accounts", "contract_lines", "opportunities", "tickets", "survey_responses")
        }
    print(
        "book: "
        + ", ".join(f"{k} {v:,}" for k, v in counts.items())
        + f", onboardings {len(onboarding.accounts):,}"
    )
    framework(p, START, END, by="segment", onboarding=onboarding)  # warm-up
    walls, cpus = [], []
    for _ in range(args.repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        report = framework(p, START, END, by="segment", onboarding=onboarding)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    print(
        f"framework, a year by segment: wall {min(walls):.2f} s "
        f"(median {statistics.median(walls):.2f}), CPU {min(cpus):.2f} s"
    )
    for g in report.groups:
        vals = {m.id: m.value for m in g.metrics}
        print(
            f"  {g.key}: "
            + ", ".join(
                f"{k}={v if v is None or isinstance(v, str) else round(v, 4)}"
                for k, v in vals.items()
            )
        )
    if not args.no_naive:
        w0, c0 = time.perf_counter(), time.process_time()
        slow = naive(p, onboarding)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        print(
            f"naive, per segment from ORM rows (9 of the figures): "
            f"wall {wall:.2f} s, CPU {cpu:.2f} s"
        )
        for g in report.groups:
            vals = {m.id: m.value for m in g.metrics}
            n = slow[str(g.key)]
            for key in (
                "resolution_rate",
                "close_rate",
                "retention_rate",
                "final_renewal_rate",
                "product_usage",
                "time_to_value",
                "nps",
            ):
                a, b = vals[key], n[key]
                assert (a is None and b is None) or abs(float(a) - float(b)) < 1e-4, (
                    g.key,
                    key,
                    a,
                    b,
                )
            parts = {m.id: m.parts for m in g.metrics}["health_distribution"]
            assert {k: parts[k] for k in ("red", "yellow", "green")} == {
                k: n["bands"].get(k, 0) for k in ("red", "yellow", "green")
            }
        print("naive and framework agree on every figure compared")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    p.close()


if __name__ == "__main__":
    main()
