"""What other capabilities know about an account, shown beside its renewal.

A :class:`RenewalContextSource` answers, for accounts and a date, a
:class:`RenewalContext`: the health score and band (:class:`HealthContext`, the
last health snapshot), the churn risk, its band and the renewal probability
(:class:`RiskContext`, the churn-risk scores the daily run stored) and the
success plan's status (:class:`PlanContext`, the statuses the daily run's plans
step stored). Each reads what its capability already computed for the date;
none evaluates the book again. :func:`renewal_contexts` gives all three.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from kizuna.health.snapshots import read_snapshot, snapshot_dates
from kizuna.platform import Platform
from kizuna.risk import risk_scores_as_of
from kizuna.store.plans_models import Plan, PlanStatusSnapshot


@dataclass(frozen=True, slots=True)
class RenewalContext:
    """What other capabilities know about an account, shown beside its renewal."""

    health_score: float | None = None
    health_band: str | None = None
    churn_risk: float | None = None
    renewal_probability: float | None = None
    risk_band: str | None = None
    plan_status: str | None = None


class RenewalContextSource(Protocol):
    """Supplies :class:`RenewalContext` per account as of a date (health, risk, plans)."""

    def context(self, account_ids: Sequence[str], as_of: date) -> Mapping[str, RenewalContext]: ...


class HealthContext:
    """Health score and band from the last health snapshot on or before the date."""

    def __init__(self, platform: Platform) -> None:
        self.settings = platform.settings

    def context(self, account_ids: Sequence[str], as_of: date) -> Mapping[str, RenewalContext]:
        days = [d for d in snapshot_dates(self.settings) if d <= as_of]
        if not days or not account_ids:
            return {}
        table = read_snapshot(self.settings, days[-1], columns=["account_id", "score", "band"])
        if table is None:
            return {}
        table = table.filter(pc.is_in(table.column("account_id"), pa.array(list(account_ids))))
        return {
            a: RenewalContext(health_score=score, health_band=band)
            for a, score, band in zip(
                table.column("account_id").to_pylist(),
                table.column("score").to_pylist(),
                table.column("band").to_pylist(),
                strict=True,
            )
        }


def merge_contexts(
    sources: Sequence[RenewalContextSource], account_ids: Sequence[str], as_of: date
) -> dict[str, RenewalContext]:
    """Each source's non-empty fields, later sources filling what earlier ones left out."""
    merged: dict[str, RenewalContext] = {}
    for source in sources:
        for account_id, ctx in source.context(account_ids, as_of).items():
            base = merged.get(account_id, RenewalContext())
            updates = {k: v for k, v in _fields(ctx).items() if v is not None}
            merged[account_id] = replace(base, **updates)
    return merged


def _fields(ctx: RenewalContext) -> dict[str, Any]:
    return {k: getattr(ctx, k) for k in RenewalContext.__dataclass_fields__}


class RiskContext:
    """Churn risk (the probability of churning at the next renewal), its band and the
    renewal probability (1 − churn risk) from the latest scores on or before the date."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def context(self, account_ids: Sequence[str], as_of: date) -> Mapping[str, RenewalContext]:
        if not account_ids:
            return {}
        scores = risk_scores_as_of(self.platform, as_of)
        if scores.empty:
            return {}
        wanted = set(account_ids)
        out = {}
        for account_id, probability, band in zip(
            scores["account_id"].tolist(),
            scores["probability"].astype(float).tolist(),
            scores["band"].tolist(),
            strict=True,
        ):
            if account_id in wanted:
                out[account_id] = RenewalContext(
                    churn_risk=round(probability, 4),
                    renewal_probability=round(1.0 - probability, 4),
                    risk_band=band,
                )
        return out


class PlanContext:
    """The success plan's status on the last date on or before the date the daily run
    stored plan statuses (the plans step stores every active plan's, so a plan missing
    then was not active)."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def context(self, account_ids: Sequence[str], as_of: date) -> Mapping[str, RenewalContext]:
        if not account_ids:
            return {}
        snap = PlanStatusSnapshot
        with self.platform.store.session() as s:
            day = s.execute(sa.select(sa.func.max(snap.as_of)).where(snap.as_of <= as_of)).scalar()
            if day is None:
                return {}
            rows = s.execute(
                sa.select(Plan.account_id, snap.status)
                .join(Plan, Plan.id == snap.plan_id)
                .where(snap.as_of == day)
                .order_by(Plan.start_date)
            ).all()
        wanted = set(account_ids)
        return {a: RenewalContext(plan_status=status) for a, status in rows if a in wanted}


def renewal_contexts(platform: Platform) -> list[RenewalContextSource]:
    """Health, churn risk and success plan status: what every edge shows beside a renewal."""
    return [HealthContext(platform), RiskContext(platform), PlanContext(platform)]


__all__ = [
    "HealthContext",
    "PlanContext",
    "RenewalContext",
    "RenewalContextSource",
    "RiskContext",
    "merge_contexts",
    "renewal_contexts",
]
