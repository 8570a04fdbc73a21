"""A small customer base whose product events the shipped metrics do not know.

Accounts hold one-year contract lines renewing between January and May 2025.
Each account has an engagement level ``e``: it sends ``widget_opened`` events
about ``0.5 + 6e`` times a day and ``invoice_sent`` now and then; at its
renewal it churns when ``e`` (plus a little noise) is low, contracts by 40 %
in a middle band, and renews flat otherwise. Churned accounts stop sending
events. The events are written straight into the lake layout, as the
simulator does.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa

from kizuna.lake.layout import EVENT_SCHEMA, LakeLayout, atomic_write_parquet
from kizuna.platform import Platform
from kizuna.store.models import Account, ContractLine

EVENTS_FROM = date(2024, 10, 1)
EVENTS_TO = date(2025, 6, 30)


def add_months(day: date, months: int) -> date:
    m = day.month - 1 + months
    return date(day.year + m // 12, m % 12 + 1, 1)


def build_base(platform: Platform, n: int = 150, seed: int = 3) -> dict[str, dict[str, object]]:
    """Store accounts and lines, land events; return each account's truth."""
    rng = np.random.default_rng(seed)
    truth: dict[str, dict[str, object]] = {}
    accounts, lines = [], []
    for i in range(n):
        aid = f"T{i:04d}"
        e = float(rng.random())
        start = date(2024, 1 + i % 5, 1)
        renewal = add_months(start, 12)
        noisy = e + rng.normal(0, 0.08)
        outcome = "churned" if noisy < 0.35 else "contracted" if noisy < 0.5 else "renewed"
        accounts.append(Account(id=aid, name=f"Test {i}", segment=["smb", "mid"][i % 2]))
        arr = Decimal(1000 + 100 * (i % 7))
        lines.append(
            ContractLine(id=f"{aid}-1", account_id=aid, product="core", arr=arr,
                         currency="USD", quantity=10, start_date=start,
                         end_date=renewal - timedelta(days=1))
        )  # fmt: skip
        if outcome != "churned":
            new_arr = arr * Decimal("0.6") if outcome == "contracted" else arr
            lines.append(
                ContractLine(id=f"{aid}-2", account_id=aid, product="core", arr=new_arr,
                             currency="USD", quantity=10, start_date=renewal,
                             end_date=add_months(renewal, 12) - timedelta(days=1),
                             renews_line_id=f"{aid}-1")
            )  # fmt: skip
        truth[aid] = {"e": e, "renewal": renewal, "outcome": outcome}
    with platform.store.session() as session:
        session.add_all(accounts)
        session.flush()
        session.add_all(lines)
    write_events(platform.settings.lake_dir, truth, seed)
    return truth


def write_events(lake_dir: Path, truth: dict[str, dict[str, object]], seed: int) -> None:
    rng = np.random.default_rng(seed + 1)
    layout = LakeLayout(lake_dir)
    day = EVENTS_FROM
    n = 0
    ids = sorted(truth)
    e = np.array([float(truth[a]["e"]) for a in ids])  # type: ignore[arg-type]
    last = [truth[a]["renewal"] if truth[a]["outcome"] == "churned" else EVENTS_TO for a in ids]
    while day <= EVENTS_TO:
        live = np.array([day < stop for stop in last])  # type: ignore[operator]
        widgets = rng.poisson(0.5 + 6 * e) * live
        invoices = rng.poisson(0.3, len(ids)) * live
        rows: dict[str, list[object]] = {k: [] for k in EVENT_SCHEMA.names}
        base = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
        for j, aid in enumerate(ids):
            for kind, count in (("widget_opened", widgets[j]), ("invoice_sent", invoices[j])):
                for k in range(int(count)):
                    n += 1
                    rows["message_id"].append(f"t{seed}-{n}")
                    rows["account_id"].append(aid)
                    rows["user_id"].append(f"{aid}-u{k % 3}")
                    rows["event"].append(kind)
                    rows["timestamp"].append(base + timedelta(minutes=k))
                    rows["properties"].append(None)
        if rows["message_id"]:
            table = pa.table(rows, schema=EVENT_SCHEMA)
            atomic_write_parquet(table, layout.partition_dir(day) / "part-test-000000.parquet")
        day += timedelta(days=1)
