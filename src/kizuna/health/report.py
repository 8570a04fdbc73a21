"""Reading health back: one account explained, with trend and top movers; a filtered list.

"Why did this account's health drop?" is answered by comparing the measures'
weighted contributions on two snapshot dates: the score change is exactly the
sum of the contribution changes (a measure missing on one side contributes 0
there), so the measures with the largest changes are the ones that moved it.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from kizuna.errors import InvalidInput, NotFound
from kizuna.health.snapshots import account_history, read_snapshot, snapshot_dates
from kizuna.settings import Settings

TREND_DAYS = (7, 30)
TOP_MOVERS = 3
#: When no snapshot exists exactly n days back, the newest one up to this many days
#: older stands in (so weekly snapshots still give a 30-day change).
BASELINE_SLACK_DAYS = 6
BANDS = ("red", "yellow", "green")


def latest_snapshot_date(settings: Settings, on_or_before: date | None = None) -> date:
    """The newest snapshot date (not after ``on_or_before`` when given)."""
    dates = [d for d in snapshot_dates(settings) if on_or_before is None or d <= on_or_before]
    if not dates:
        raise NotFound("no health snapshots yet: run 'kizuna health compute --as-of DATE'")
    return dates[-1]


def baseline_date(settings: Settings, as_of: date, days: int) -> date | None:
    """The snapshot date to compare ``as_of`` with for an ``days``-day change: exactly
    ``days`` earlier, else the newest snapshot at most :data:`BASELINE_SLACK_DAYS` older."""
    target = as_of - timedelta(days=days)
    earliest = target - timedelta(days=BASELINE_SLACK_DAYS)
    found = [d for d in snapshot_dates(settings) if earliest <= d <= target]
    return found[-1] if found else None


def _row(settings: Settings, as_of: date, account_id: str) -> dict[str, Any] | None:
    table = read_snapshot(settings, as_of, account_id=account_id)
    if table is None or table.num_rows == 0:
        return None
    return table.to_pylist()[0]


def _contributions(row: dict[str, Any]) -> dict[str, tuple[str, float]]:
    """Contribution per explaining item: ``group.measure`` or ``child:<account>``."""
    if row["method"] == "roll-up":
        return {f"child:{c['account_id']}": ("roll-up", c["contribution"]) for c in row["children"]}
    return {f"{m['group']}.{m['name']}": (m["group"], m["contribution"]) for m in row["measures"]}


def top_movers(
    now: dict[str, Any], then: dict[str, Any], limit: int = TOP_MOVERS
) -> list[dict[str, Any]]:
    """The items whose contribution changed most between two snapshots of one account."""
    before, after = _contributions(then), _contributions(now)
    movers: list[dict[str, Any]] = []
    for key in sorted(before.keys() | after.keys()):
        old = before.get(key, ("", 0.0))[1]
        new = after.get(key, ("", 0.0))[1]
        if new != old:
            group = (after.get(key) or before[key])[0]
            movers.append(
                {"measure": key, "group": group, "was": old, "now": new, "change": new - old}
            )
    movers.sort(key=lambda m: (-abs(m["change"]), m["measure"]))
    return movers[:limit]


def _trend(settings: Settings, row: dict[str, Any], as_of: date) -> dict[str, Any]:
    trend: dict[str, Any] = {}
    for days in TREND_DAYS:
        baseline = baseline_date(settings, as_of, days)
        earlier = baseline or as_of - timedelta(days=days)
        then = _row(settings, baseline, row["account_id"]) if baseline else None
        if then is None:
            trend[f"{days}d"] = {"as_of": earlier, "score": None, "change": None, "top_movers": []}
            continue
        change = (
            row["score"] - then["score"]
            if row["score"] is not None and then["score"] is not None
            else None
        )
        trend[f"{days}d"] = {
            "as_of": earlier,
            "score": then["score"],
            "change": change,
            "top_movers": top_movers(row, then),
        }
    return trend


def explain_account(
    settings: Settings, account_id: str, as_of: date | None = None, history_days: int = 90
) -> dict[str, Any]:
    """An account's health on a snapshot date with everything behind it.

    Score and band, group scores, each measure's raw value, score, weight,
    effective weight and weighted contribution, the missing measures, roll-up
    children, the change against 7 and 30 days earlier with the top movers, and
    the score history over ``history_days``.
    """
    day = latest_snapshot_date(settings, as_of) if as_of is None else as_of
    row = _row(settings, day, account_id)
    if row is None:
        raise NotFound(f"no health for account {account_id!r} as of {day}")
    return {
        "account_id": row["account_id"],
        "name": row["name"],
        "as_of": day,
        "segment": row["segment"],
        "scorecard": row["scorecard"],
        "method": row["method"],
        "score": row["score"],
        "band": row["band"],
        "arr": row["arr"],
        "missing": row["missing"],
        "groups": row["groups"],
        "measures": row["measures"],
        "children": row["children"],
        "trend": _trend(settings, row, day),
        "history": account_history(
            settings, account_id, start=day - timedelta(days=history_days), end=day
        ),
    }


def _changes(settings: Settings, table: pa.Table, as_of: date, days: int) -> list[float | None]:
    baseline = baseline_date(settings, as_of, days)
    if baseline is None:
        return [None] * table.num_rows
    earlier = read_snapshot(settings, baseline, columns=["account_id", "score"])
    if earlier is None:
        return [None] * table.num_rows
    then = dict(zip(earlier["account_id"].to_pylist(), earlier["score"].to_pylist(), strict=True))
    out: list[float | None] = []
    for account, score in zip(
        table["account_id"].to_pylist(), table["score"].to_pylist(), strict=True
    ):
        old = then.get(account)
        out.append(None if score is None or old is None else score - old)
    return out


def list_health(
    settings: Settings,
    as_of: date | None = None,
    band: str | None = None,
    segment: str | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Accounts' scores on a snapshot date, lowest first, with their 7- and 30-day changes."""
    if band is not None and band not in BANDS:
        raise InvalidInput(f"unknown band {band!r}: use one of {', '.join(BANDS)}")
    day = latest_snapshot_date(settings, as_of) if as_of is None else as_of
    columns = [
        "account_id",
        "name",
        "segment",
        "scorecard",
        "method",
        "arr",
        "score",
        "band",
        "missing",
    ]
    table = read_snapshot(settings, day, columns=columns)
    if table is None:
        raise NotFound(f"no health snapshot as of {day}: run 'kizuna health compute --as-of {day}'")
    if band is not None:
        table = table.filter(pc.equal(table["band"], band))
    if segment is not None:
        table = table.filter(pc.equal(table["segment"], segment))
    table = table.sort_by([("score", "ascending"), ("account_id", "ascending")])
    if limit is not None:
        table = table.slice(0, limit)
    rows = table.to_pylist()
    for days in TREND_DAYS:
        for row, change in zip(rows, _changes(settings, table, day, days), strict=True):
            row[f"change_{days}d"] = change
    return {"as_of": day, "band": band, "segment": segment, "count": len(rows), "accounts": rows}
