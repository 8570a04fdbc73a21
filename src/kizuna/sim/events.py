"""Usage events, one day at a time, written to the lake layout as Parquet.

Each simulated day draws from its own random stream (seed, day), vectorised over
all accounts, and is written to ``events/event_date=YYYY-MM-DD/part-sim-000000.parquet``
before the next day starts, so memory is bounded by one day of events however
long the window or large the customer base.

For an account that is live on a day (a contract covers it), with weekly latent
engagement ``e``:

* active users ~ Binomial(users, p) with p = 0.04 + 0.6 e (a fifth of that at weekends);
  each active user logs in once (``login``);
* feature events ~ Poisson(active users × scale × (0.3 + 3 e)); the event type is drawn
  from the features the account has adopted — its *breadth* grows with ``e``, and
  popular features (``page_view``, ``dashboard_viewed``) come first;
* onboarding milestones (``onboarding_kickoff``, ``onboarding_data_connected``,
  ``onboarding_first_value``) on the days they happen, by the account's first user.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kizuna.lake.layout import EVENT_SCHEMA, LakeLayout, atomic_write_parquet
from kizuna.sim import _vocab as vocab
from kizuna.sim.customers import STREAM_EVENTS, Calendar, stream

#: Feature events in order of typical popularity, with the numeric property each carries.
FEATURES: tuple[tuple[str, str | None], ...] = (
    ("page_view", "duration_s"),
    ("dashboard_viewed", "duration_s"),
    ("report_created", "rows"),
    ("search_performed", "results"),
    ("comment_added", None),
    ("export_run", "rows"),
    ("alert_configured", None),
    ("integration_synced", "records"),
    ("user_invited", None),
    ("api_call", "calls"),
    ("forecast_run", "duration_s"),
    ("workflow_automated", "steps"),
)
ONBOARDING_EVENTS = ("onboarding_kickoff", "onboarding_data_connected", "onboarding_first_value")
EVENT_NAMES = (*(f for f, _ in FEATURES), "login", *ONBOARDING_EVENTS)
LOGIN = len(FEATURES)
#: log-normal median of each property
PROPERTY_MEDIAN = {
    "duration_s": 45.0,
    "rows": 800.0,
    "results": 12.0,
    "records": 2500.0,
    "calls": 40.0,
    "steps": 4.0,
}
_PREFIX = pa.array(
    [f'{{"{p}": ' if p else None for _, p in FEATURES] + [None] * (1 + len(ONBOARDING_EVENTS)),
    pa.string(),
)
_MEDIAN = np.array(
    [PROPERTY_MEDIAN[p] if p else 1.0 for _, p in FEATURES] + [1.0] * (1 + len(ONBOARDING_EVENTS))
)


@dataclass
class EventPlan:
    """Per-account inputs of the event generator (a few numbers per account)."""

    account_ids: pa.Array  # string, sorted ascending (index order == id order)
    user_ids: pa.Array  # string, all users of all accounts, account by account
    user_offset: np.ndarray  # first index into user_ids of each account
    n_users: np.ndarray
    day_start_utc: np.ndarray  # hour the account's business day starts, UTC
    live: np.ndarray  # (n, 4): [start, end] of up to two live periods, day indices
    onboarding: np.ndarray  # (n, 3): kickoff, data connected, first value days (-1: none)
    engagement: np.ndarray  # (n, weeks) float32
    feature_order: np.ndarray  # (n, len(FEATURES)) adopted-feature order per account
    breadth: np.ndarray  # (n,) share of the feature list the account can reach


@dataclass
class DayResult:
    events: int
    first_ts_us: int | None
    last_ts_us: int | None


def feature_orders(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Each account's feature adoption order (page_view first) and reachable breadth."""
    rng = stream(seed, STREAM_EVENTS, 0)
    base = np.arange(1, len(FEATURES), dtype=np.float64)
    noisy = base[None, :] + rng.normal(0.0, 2.5, (n, len(FEATURES) - 1))
    order = np.concatenate([np.zeros((n, 1), np.int64), 1 + np.argsort(noisy, axis=1)], axis=1)
    return order.astype(np.int8), rng.uniform(0.6, 1.0, n)


def simulate_day(
    plan: EventPlan,
    cal: Calendar,
    layout: LakeLayout,
    day: int,
    *,
    seed: int,
    activity_scale: float,
) -> DayResult:
    """Simulate and write the events of day index ``day``."""
    rng = stream(seed, STREAM_EVENTS, 1, day)
    live = plan.live
    is_live = ((live[:, 0] <= day) & (day <= live[:, 1])) | (
        (live[:, 2] <= day) & (day <= live[:, 3])
    )
    e = plan.engagement[:, min(day // 7, plan.engagement.shape[1] - 1)].astype(np.float64)
    weekday = (cal.start.weekday() + day) % 7
    p_active = np.clip(0.04 + 0.6 * e, 0.0, 0.95) * (0.2 if weekday >= 5 else 1.0)
    active = rng.binomial(plan.n_users, p_active) * is_live
    lam = activity_scale * (0.3 + 3.0 * e)
    n_feature = rng.poisson(active * lam)
    rotate = np.floor(plan.n_users * rng.random(len(e)) ** 2).astype(np.int64)

    # logins: each active user once
    acc_login = np.repeat(np.arange(len(e)), active)
    first = np.cumsum(active) - active
    j = np.arange(len(acc_login)) - np.repeat(first, active)
    user_login = (rotate[acc_login] + j) % plan.n_users[acc_login]
    # feature events among the active users, types within the adopted breadth
    acc_feat = np.repeat(np.arange(len(e)), n_feature)
    m = len(acc_feat)
    pick = np.floor(active[acc_feat] * rng.random(m) ** 1.5).astype(np.int64)
    user_feat = (rotate[acc_feat] + pick) % plan.n_users[acc_feat]
    breadth = 1 + np.floor(e[acc_feat] * plan.breadth[acc_feat] * (len(FEATURES) - 1))
    rank = np.floor(breadth * rng.random(m) ** 1.6).astype(np.int64)
    type_feat = plan.feature_order[acc_feat, rank].astype(np.int64)
    # onboarding milestones today
    on_acc, on_kind = np.nonzero(plan.onboarding == day)

    acc = np.concatenate([acc_login, acc_feat, on_acc])
    user = np.concatenate([user_login, user_feat, np.zeros(len(on_acc), np.int64)])
    etype = np.concatenate([np.full(len(acc_login), LOGIN), type_feat, LOGIN + 1 + on_kind]).astype(
        np.int64
    )
    total = len(acc)
    if total == 0:
        return DayResult(0, None, None)
    hours = plan.day_start_utc[acc] + np.clip(rng.normal(4.5, 2.2, total), 0.0, 10.0)
    micros = np.minimum((hours % 24) * 3_600_000_000, 86_399_999_999).astype(np.int64)
    micros[len(acc_login) + m :] = (plan.day_start_utc[on_acc] + 1) * 3_600_000_000 % 86_400_000_000
    value = np.maximum(1, np.round(_MEDIAN[etype] * np.exp(rng.normal(0.0, 0.8, total)))).astype(
        np.int64
    )

    order = np.lexsort((micros, acc))
    acc, user, etype, micros, value = (
        acc[order],
        user[order],
        etype[order],
        micros[order],
        value[order],
    )
    day_us = int(cal.epoch_seconds(np.array(day))[()]) * 1_000_000
    ts = micros + day_us
    the_date = cal.start + timedelta(days=day)
    prefix = f"sim{seed}-{the_date:%Y%m%d}-"
    seq = pc.cast(pa.array(np.arange(total, dtype=np.int64)), pa.string())
    properties = pc.binary_join_element_wise(
        _PREFIX.take(pa.array(etype)), pc.cast(pa.array(value), pa.string()), "}", ""
    )
    table = pa.Table.from_arrays(
        [
            pc.binary_join_element_wise(prefix, seq, ""),
            plan.account_ids.take(pa.array(acc)),
            plan.user_ids.take(pa.array(plan.user_offset[acc] + user)),
            _EVENT_NAME_ARRAY.take(pa.array(etype)),
            pa.array(ts, pa.timestamp("us", tz="UTC")),
            properties,
        ],
        schema=EVENT_SCHEMA,
    )
    atomic_write_parquet(
        table, layout.new_part_path(the_date, writer="sim", sequence=0), sort=False
    )
    return DayResult(total, int(ts.min()), int(ts.max()))


_EVENT_NAME_ARRAY = pa.array(EVENT_NAMES, pa.string())


def build_plan(
    seed: int,
    account_ids: list[str],
    n_users: np.ndarray,
    region: np.ndarray,
    live: np.ndarray,
    onboarding: np.ndarray,
    engagement: np.ndarray,
) -> EventPlan:
    """Assemble the event generator's inputs from the simulated accounts."""
    n = len(account_ids)
    order, breadth = feature_orders(seed, n)
    users = [
        f"{acc}-u{k:02d}"
        for acc, count in zip(account_ids, n_users, strict=True)
        for k in range(count)
    ]
    offset = np.concatenate([[0], np.cumsum(n_users)[:-1]]).astype(np.int64)
    return EventPlan(
        account_ids=pa.array(account_ids, pa.string()),
        user_ids=pa.array(users, pa.string()),
        user_offset=offset,
        n_users=np.asarray(n_users, np.int64),
        day_start_utc=np.array(vocab.REGION_DAY_START_UTC, np.float64)[region],
        live=live,
        onboarding=onboarding,
        engagement=engagement,
        feature_order=order,
        breadth=breadth,
    )
