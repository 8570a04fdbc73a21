"""Account facts as of a date, for the whole book at once, as columns.

A rule's conditions name facts (:data:`FACTS`); :func:`gather_facts` loads only
the facts the rules need, each from the capability that owns it — health
snapshots (:mod:`kizuna.health`), metric values
(:func:`kizuna.metrics.read_metric_values`), lifecycle transitions and
milestones (:mod:`kizuna.lifecycle`), ARR and renewals (:mod:`kizuna.retention`),
tickets, surveys, activities and CTAs from the store — into one
:class:`FactBook`: a numpy column per fact over every account, so a condition is
evaluated for 100k accounts in a few vectorised operations.

Extension point: other capabilities add facts with :func:`register_fact` (success
plan status from ``kizuna.plans``, churn risk from ``kizuna.risk``); rules then use
them as ``{fact: NAME, ...}`` like any built-in fact. A caller that already holds
a fact (the daily run has the lifecycle it just built) passes it in ``given``.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import sqlalchemy as sa

from kizuna.actions.model import ACTIVE_STATUSES
from kizuna.health.report import baseline_date
from kizuna.health.snapshots import read_snapshot, snapshot_dates
from kizuna.lifecycle import definition_for, show_accounts, stored_transitions
from kizuna.metrics import read_metric_values
from kizuna.metrics.store import stored_dates
from kizuna.plans import plan_status_as_of
from kizuna.platform import Platform
from kizuna.portfolio.attention import NPS_DETRACTOR_MAX
from kizuna.retention import DEFAULT_GRACE_DAYS, Ledger, arr_at, renewals
from kizuna.risk import risk_scores_as_of
from kizuna.store.actions_models import CallToAction
from kizuna.store.models import Account, Activity, Contact, SurveyResponse, Ticket

__all__ = [
    "FACTS",
    "FactBook",
    "FactKey",
    "FactProvider",
    "FactSpec",
    "gather_facts",
    "register_fact",
]

FactKind = Literal["number", "text", "any"]


@dataclass(frozen=True, slots=True)
class FactKey:
    """One column of the book: a fact name and its parameters (sorted ``(name, value)``)."""

    name: str
    params: tuple[tuple[str, Any], ...] = ()

    def param(self, name: str, default: Any = None) -> Any:
        return dict(self.params).get(name, default)

    def __str__(self) -> str:
        if not self.params:
            return self.name
        inner = ", ".join(f"{k}={_show(v)}" for k, v in self.params)
        return f"{self.name}({inner})"


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return "|".join(str(v) for v in value)
    return str(value)


@dataclass
class FactBook:
    """Every account's facts as of one date: ``columns[key][i]`` is account ``ids[i]``'s value.

    Numbers are float64 with NaN for "unknown"; texts are object arrays with None.
    """

    as_of: date
    ids: np.ndarray
    columns: dict[FactKey, np.ndarray] = field(default_factory=dict)
    #: seconds each provider took (by provider function name), for benchmarks
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.ids)

    def positions(self, account_ids: Iterable[str]) -> np.ndarray:
        """Row of each id (-1 when the account is not in the book)."""
        return np.asarray(pd.Index(self.ids).get_indexer(list(account_ids)))

    def scatter(
        self, account_ids: Iterable[str], values: Iterable[Any], kind: FactKind
    ) -> np.ndarray:
        """A column holding ``values`` at the rows of ``account_ids`` (unknown elsewhere)."""
        out = _empty(self.size, kind)
        ids = list(account_ids)
        if not ids:
            return out
        pos = self.positions(ids)
        vals = np.asarray(list(values), dtype=float if kind == "number" else object)
        keep = pos >= 0
        out[pos[keep]] = vals[keep]
        return out


def _empty(n: int, kind: FactKind) -> np.ndarray:
    if kind == "number":  # "any" facts are kept as objects
        return np.full(n, np.nan)
    return np.full(n, None, dtype=object)


#: ``provider(platform, book, keys)`` returns a column for each key it was asked for.
FactProvider = Callable[[Platform, FactBook, list[FactKey]], Mapping[FactKey, np.ndarray]]


@dataclass(frozen=True, slots=True)
class FactSpec:
    """What a fact is: its label, kind, parameters (name → default; required when None)."""

    name: str
    label: str
    kind: FactKind
    provider: FactProvider
    params: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    #: the label in Japanese (CTA reasons in the viewer's language); None: the English one
    label_ja: str | None = None


FACTS: dict[str, FactSpec] = {}


def register_fact(spec: FactSpec) -> None:
    """Make a fact available to rules (plans and risk register theirs here)."""
    FACTS[spec.name] = spec


# -- the window of a business day ----------------------------------------------


def _end_of(platform: Platform, day: date) -> datetime:
    """The first instant after ``day`` in the business timezone (the as-of cut-off)."""
    return datetime.combine(day + timedelta(days=1), clock_time(0), tzinfo=platform.settings.tz)


# -- providers -----------------------------------------------------------------

_ACCOUNT_COLUMNS = ("segment", "region", "industry", "owner")


def _accounts(platform: Platform, book: FactBook, keys: list[FactKey]) -> dict[FactKey, np.ndarray]:

    # the JSON attributes only when a rule reads one (parsing them is the slow part)
    attributes = any(k.name == "attribute" for k in keys)
    columns: list[Any] = [
        Account.id, Account.segment, Account.region, Account.industry, Account.owner_id,
        Account.attributes if attributes else sa.null(),
    ]  # fmt: skip
    with platform.store.session() as session:
        rows = session.execute(sa.select(*columns)).all()
    ids = [r[0] for r in rows]
    out = {}
    for key in keys:
        if key.name in _ACCOUNT_COLUMNS:
            i = _ACCOUNT_COLUMNS.index(key.name) + 1
            out[key] = book.scatter(ids, [r[i] for r in rows], "text")
        else:  # attribute
            # kept as given (text or number); a numeric comparison converts it
            name = key.param("name")
            values = [(r[5] or {}).get(name) for r in rows]
            out[key] = book.scatter(ids, values, "text")
    return out


def _contracts(
    platform: Platform, book: FactBook, keys: list[FactKey]
) -> dict[FactKey, np.ndarray]:

    as_of = book.as_of
    out: dict[FactKey, np.ndarray] = {}
    with Ledger.load(platform.store, platform.settings, rollup=False) as ledger:
        for key in keys:
            if key.name == "arr":
                snap = arr_at(ledger, as_of)
                out[key] = book.scatter(
                    [a.account_id for a in snap.accounts],
                    [float(a.arr) for a in snap.accounts],
                    "number",
                )
                # a known account without ARR in force has ARR 0, not "unknown"
                out[key] = np.where(np.isnan(out[key]), 0.0, out[key])
            elif key.name == "days_to_renewal":
                due = renewals(
                    ledger,
                    as_of - timedelta(days=DEFAULT_GRACE_DAYS + 1),
                    as_of + timedelta(days=5 * 366),
                    as_of=as_of,
                )
                nearest: dict[str, date] = {}
                for line in due.lines:
                    if line.status == "open":
                        known = nearest.get(line.account_id)
                        nearest[line.account_id] = min(
                            known or line.renewal_date, line.renewal_date
                        )
                out[key] = book.scatter(
                    nearest, [(d - as_of).days for d in nearest.values()], "number"
                )
    return out


def _health(platform: Platform, book: FactBook, keys: list[FactKey]) -> dict[FactKey, np.ndarray]:

    days = [d for d in snapshot_dates(platform.settings) if d <= book.as_of]
    out: dict[FactKey, np.ndarray] = {k: _empty(book.size, FACTS[k.name].kind) for k in keys}
    if not days:
        return out
    day = days[-1]
    now = read_snapshot(platform.settings, day, columns=["account_id", "score", "band"])
    if now is None:
        return out
    ids = now["account_id"].to_pylist()
    score = np.asarray(now["score"].to_numpy(zero_copy_only=False), dtype=float)
    for key in keys:
        if key.name == "health_score":
            out[key] = book.scatter(ids, score, "number")
        elif key.name == "health_band":
            out[key] = book.scatter(ids, now["band"].to_pylist(), "text")
        else:  # health_change
            base = baseline_date(platform.settings, day, int(key.param("days")))
            then = (
                read_snapshot(platform.settings, base, columns=["account_id", "score"])
                if base
                else None
            )
            if then is None:
                continue
            current = book.scatter(ids, score, "number")
            before = book.scatter(
                then["account_id"].to_pylist(),
                np.asarray(then["score"].to_numpy(zero_copy_only=False), dtype=float),
                "number",
            )
            out[key] = current - before
    return out


#: When a metric has no values exactly N days back, the newest date up to this much older.
METRIC_BASELINE_SLACK_DAYS = 6


def _metric_columns(
    platform: Platform, book: FactBook, day: date, names: list[str]
) -> dict[str, np.ndarray]:

    table = read_metric_values(platform, day, metrics=names)
    out = {}
    for name in names:
        rows = table.filter(pc.equal(table["metric"], name))
        values = np.asarray(rows["value"].to_numpy(zero_copy_only=False), dtype=float)
        out[name] = book.scatter(rows["account_id"].to_pylist(), values, "number")
    return out


def _metric_date(platform: Platform, target: date) -> date | None:

    found = [
        d
        for d in stored_dates(platform.settings.home)
        if target - timedelta(days=METRIC_BASELINE_SLACK_DAYS) <= d <= target
    ]
    return found[-1] if found else None


def _metrics(platform: Platform, book: FactBook, keys: list[FactKey]) -> dict[FactKey, np.ndarray]:
    out: dict[FactKey, np.ndarray] = {}
    cache: dict[tuple[date, str], np.ndarray] = {}
    now_day = _metric_date(platform, book.as_of)

    names = sorted({str(k.param("name")) for k in keys})

    def column(day: date | None, name: str) -> np.ndarray:
        if day is None:
            return _empty(book.size, "number")
        if (day, name) not in cache:
            for got, values in _metric_columns(platform, book, day, names).items():
                cache[day, got] = values
        return cache[day, name]

    for key in keys:
        name = str(key.param("name"))
        now = column(now_day, name)
        days = key.param("change_days")
        if not days:
            out[key] = now
            continue
        then_day = _metric_date(platform, (now_day or book.as_of) - timedelta(days=int(days)))
        then = column(then_day, name)
        with np.errstate(divide="ignore", invalid="ignore"):
            if key.param("relative"):
                out[key] = np.where(then > 0, (now - then) / then, np.nan)
            else:
                out[key] = now - then
    return out


def _lifecycle(
    platform: Platform, book: FactBook, keys: list[FactKey]
) -> dict[FactKey, np.ndarray]:

    out: dict[FactKey, np.ndarray] = {}
    wanted = {k.name for k in keys}
    if wanted & {"stage", "days_in_stage"}:
        histories = stored_transitions(platform, until=book.as_of)
        ids = list(histories)
        last = [h[-1] for h in histories.values()]
        for key in keys:
            if key.name == "stage":
                out[key] = book.scatter(ids, [t.to_stage for t in last], "text")
            elif key.name == "days_in_stage":
                out[key] = book.scatter(ids, [(book.as_of - t.date).days for t in last], "number")
    if "overdue_milestones" in wanted:
        lives = show_accounts(platform, definition_for(platform.settings.home), book.as_of)
        counts = {
            a: float(sum(1 for m in life.milestones if m.overdue))
            for a, life in lives.items()
            if life.onboarding_tracked
        }
        for key in keys:
            if key.name == "overdue_milestones":
                out[key] = book.scatter(counts, counts.values(), "number")
    return out


def _touchpoints(
    platform: Platform, book: FactBook, keys: list[FactKey]
) -> dict[FactKey, np.ndarray]:

    end = _end_of(platform, book.as_of)
    out: dict[FactKey, np.ndarray] = {}
    with platform.store.session() as session:
        for key in keys:
            if key.name == "nps_detractors":
                start = _end_of(platform, book.as_of - timedelta(days=int(key.param("days"))))
                rows = session.execute(
                    sa.select(SurveyResponse.account_id, sa.func.count())
                    .where(
                        SurveyResponse.kind == "nps",
                        SurveyResponse.score <= NPS_DETRACTOR_MAX,
                        SurveyResponse.answered_at >= start,
                        SurveyResponse.answered_at < end,
                    )
                    .group_by(SurveyResponse.account_id)
                ).all()
                column = book.scatter([r[0] for r in rows], [r[1] for r in rows], "number")
                out[key] = np.where(np.isnan(column), 0.0, column)
            elif key.name == "open_tickets":
                priorities = list(key.param("priority"))
                rows = session.execute(
                    sa.select(Ticket.account_id, sa.func.count())
                    .where(
                        Ticket.priority.in_(priorities),
                        Ticket.opened_at < end,
                        sa.or_(Ticket.closed_at.is_(None), Ticket.closed_at >= end),
                        # a ticket closed without a closing time is no longer open
                        sa.or_(
                            Ticket.closed_at.is_not(None), Ticket.status.in_(["open", "pending"])
                        ),
                    )
                    .group_by(Ticket.account_id)
                ).all()
                column = book.scatter([r[0] for r in rows], [r[1] for r in rows], "number")
                out[key] = np.where(np.isnan(column), 0.0, column)
            elif key.name == "days_since_touch":
                role = str(key.param("role"))
                roles = [role, "final_evaluator"] if role == "evaluator" else [role]
                having = (
                    session.execute(
                        sa.select(Contact.account_id)
                        .where(Contact.success_role.in_(roles))
                        .distinct()
                    )
                    .scalars()
                    .all()
                )
                last = session.execute(
                    sa.select(Activity.account_id, sa.func.max(Activity.activity_date))
                    .join(Contact, Contact.id == Activity.contact_id)
                    .where(Contact.success_role.in_(roles), Activity.activity_date <= book.as_of)
                    .group_by(Activity.account_id)
                ).all()
                # never touched (but has such a contact): infinitely long ago
                column = book.scatter(having, [np.inf] * len(having), "number")
                touched = book.scatter(
                    [r[0] for r in last], [(book.as_of - r[1]).days for r in last], "number"
                )
                out[key] = np.where(np.isnan(touched), column, touched)
    return out


def _ctas(platform: Platform, book: FactBook, keys: list[FactKey]) -> dict[FactKey, np.ndarray]:

    out: dict[FactKey, np.ndarray] = {}
    with platform.store.session() as session:
        for key in keys:
            query = sa.select(CallToAction.account_id, sa.func.count()).where(
                CallToAction.status.in_([s for s in ACTIVE_STATUSES if s != "queued"])
            )
            if key.param("type"):
                query = query.where(CallToAction.type == key.param("type"))
            rows = session.execute(query.group_by(CallToAction.account_id)).all()
            column = book.scatter([r[0] for r in rows], [r[1] for r in rows], "number")
            out[key] = np.where(np.isnan(column), 0.0, column)
    return out


def _plans(platform: Platform, book: FactBook, keys: list[FactKey]) -> dict[FactKey, np.ndarray]:
    """The active success plan's status as of the date (None without an active plan)."""
    results = plan_status_as_of(platform, book.as_of)
    ids = [r.account_id for r in results.values()]
    statuses = [r.status.value for r in results.values()]
    return {key: book.scatter(ids, statuses, "text") for key in keys}


def _risk(platform: Platform, book: FactBook, keys: list[FactKey]) -> dict[FactKey, np.ndarray]:
    """Churn risk stored on the latest scored date on or before the date (unknown if none)."""
    scores = risk_scores_as_of(platform, book.as_of)
    ids = scores["account_id"].tolist()
    out: dict[FactKey, np.ndarray] = {}
    for key in keys:
        if key.name == "churn_probability":
            out[key] = book.scatter(ids, scores["probability"].astype(float).tolist(), "number")
        else:
            out[key] = book.scatter(ids, scores["band"].tolist(), "text")
    return out


#: the built-in facts' labels in Japanese (CTA reasons in the viewer's language)
_LABELS_JA = {
    "segment": "セグメント", "region": "地域", "industry": "業種", "owner": "担当者",
    "attribute": "属性", "arr": "ARR", "days_to_renewal": "更新までの日数",
    "health_score": "ヘルススコア", "health_band": "ヘルスバンド", "health_change": "ヘルスの変化",
    "metric": "指標", "stage": "ライフサイクルステージ", "days_in_stage": "ステージ滞在日数",
    "overdue_milestones": "期限超過のマイルストーン", "nps_detractors": "NPS批判者の回答",
    "open_tickets": "未解決チケット", "days_since_touch": "最後の接点からの日数",
    "open_ctas": "未完了のCTA", "plan_status": "成功計画の状況", "churn_probability": "解約確率",
    "risk_band": "解約リスクバンド",
}  # fmt: skip

for _spec in (
    FactSpec("segment", "segment", "text", _accounts),
    FactSpec("region", "region", "text", _accounts),
    FactSpec("industry", "industry", "text", _accounts),
    FactSpec("owner", "owner", "text", _accounts, description="the owner's team member id"),
    FactSpec("attribute", "attribute", "any", _accounts, {"name": None},
             "an account attribute (number or text) from the imported attributes"),
    FactSpec("arr", "ARR", "number", _contracts, description="ARR in force, reporting currency"),
    FactSpec("days_to_renewal", "days to renewal", "number", _contracts,
             description="days to the nearest contract line still open for renewal"),
    FactSpec("health_score", "health score", "number", _health),
    FactSpec("health_band", "health band", "text", _health),
    FactSpec("health_change", "health change", "number", _health, {"days": 30},
             "score change against the snapshot N days earlier (points)"),
    FactSpec("metric", "metric", "number", _metrics,
             {"name": None, "change_days": 0, "relative": False},
             "a metric's value, or its change over change_days (relative: a fraction)"),
    FactSpec("stage", "lifecycle stage", "text", _lifecycle),
    FactSpec("days_in_stage", "days in stage", "number", _lifecycle),
    FactSpec("overdue_milestones", "overdue milestones", "number", _lifecycle),
    FactSpec("nps_detractors", "NPS detractor answers", "number", _touchpoints, {"days": 90},
             "NPS answers of 0-6 in the last N days"),
    FactSpec("open_tickets", "open tickets", "number", _touchpoints,
             {"priority": ("high", "urgent")}, "tickets open on the date with these priorities"),
    FactSpec("days_since_touch", "days since a touch", "number", _touchpoints, {"role": None},
             "days since the last activity with a contact of this success role "
             "(infinite if never; unknown if the account has no such contact)"),
    FactSpec("open_ctas", "open CTAs", "number", _ctas, {"type": None},
             "open, in-progress or snoozed CTAs (of a type)"),
    FactSpec("plan_status", "success plan status", "text", _plans,
             description="the active success plan's status: on_track, at_risk, off_track or "
             "achieved (unknown without an active plan)"),
    FactSpec("churn_probability", "churn probability", "number", _risk,
             description="probability of churn at the next renewal (0-1), from the latest "
             "churn risk scores on or before the date"),
    FactSpec("risk_band", "churn risk band", "text", _risk,
             description="the churn risk band: low, medium or high"),
 ):  # fmt: skip
    register_fact(replace(_spec, label_ja=_LABELS_JA.get(_spec.name)))


def gather_facts(
    platform: Platform,
    as_of: date,
    keys: Iterable[FactKey],
    *,
    given: Mapping[FactKey, np.ndarray] | None = None,
    ids: Iterable[str] | None = None,
) -> FactBook:
    """Every account's value of each fact in ``keys`` as of ``as_of``.

    ``ids`` fixes the accounts (default: every account in the store); ``given``
    supplies columns already computed (aligned with ``ids``).
    """

    if ids is None:
        with platform.store.session() as session:
            ids = session.scalars(sa.select(Account.id).order_by(Account.id)).all()
    book = FactBook(as_of=as_of, ids=np.asarray(list(ids), dtype=object))
    book.columns.update(given or {})
    by_provider: dict[FactProvider, list[FactKey]] = defaultdict(list)
    for key in dict.fromkeys(keys):
        if key not in book.columns:
            by_provider[FACTS[key.name].provider].append(key)
    for provider, wanted in by_provider.items():
        began = time.perf_counter()
        book.columns.update(provider(platform, book, wanted))
        book.timings[provider.__name__] = time.perf_counter() - began
    return book
