"""The customer base: team, accounts, contacts, contract lines and latent engagement.

Accounts are simulated in fixed-size blocks. Each block draws from its own random
stream (derived from the seed and the block number), so a block's output never
depends on how many blocks run or in what order, and memory holds one block of
rows at a time plus a few numbers per account for the event generator.

The story each account follows:

* a **segment** (enterprise / mid-market / SMB) sets its size (log-normal seats),
  price, products, number of contacts and how much the CSM touches it;
* a **latent engagement** ``e`` in (0, 1), weekly: a mean-reverting random walk on
  the logit scale around an account level, with some accounts drifting down (and a
  few up) from a random week on;
* new customers **onboard**: kick-off, data connected (due after 30 days), first
  value (due after 60 days); late or never-finished onboarding keeps engagement low;
* at the end of the term the contract **renews** flat, expands, contracts or
  churns, with probabilities driven by the engagement of the 12 weeks before;
  some churned accounts come back later (reactivation).

Over a window longer than a year, every yearly term that ends inside the window
is decided the same way (the renewed term, a new customer's first term, a
reactivated contract), from a second random stream of the block: the draws of the
first decision are those of a one-year window, so a one-year window's output does
not change. An account comes back at most once.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

import numpy as np

from kizuna.sim import _vocab as vocab
from kizuna.sim.config import SimConfig
from kizuna.sim.writer import fmt_cents, fmt_json

BLOCK_SIZE = 2048
FAR_FUTURE = 10**6  # a day index after anything simulated

# random streams: (seed, stream, ...) -> an independent generator
STREAM_TEAM, STREAM_ACCOUNTS, STREAM_TOUCHPOINTS, STREAM_EVENTS, STREAM_FX = 1, 2, 3, 4, 5

SEGMENT_SHARE = np.array([0.08, 0.27, 0.65])
SEAT_MEDIAN = np.array([250.0, 40.0, 8.0])
SEAT_SIGMA = np.array([0.6, 0.6, 0.7])
PRICE_PER_SEAT_USD = np.array([420.0, 540.0, 660.0])
ENGAGEMENT_LEVEL = np.array([0.7, 0.35, 0.0])  # logit scale
CHURN_OFFSET = np.array([-0.6, 0.0, 0.3])
ANALYTICS_SHARE = np.array([0.6, 0.35, 0.1])
SUPPORT_SHARE = np.array([0.5, 0.15, 0.0])
SUPPORT_RATE = 0.15  # premium support is priced at 15% of the platform line
TENURE_YEARS_P = np.array([0.35, 0.25, 0.2, 0.12, 0.08])
CURRENCIES = ("USD", "EUR", "JPY")
#: Value of one unit of the currency in USD at list time (fx_rates.csv walks around it).
LIST_RATE_USD = (1.0, 1.08, 0.0068)
CONNECT_DUE_DAYS = 30
FIRST_VALUE_DUE_DAYS = 60

OUTCOMES = ("pending", "renewed", "expanded", "contracted", "churned")
ONBOARDING = ("on_time", "late", "never", "before_window")


def stream(seed: int, *keys: int) -> np.random.Generator:
    """An independent random generator for one stream of the simulation."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, *keys])))


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def churn_probability(e_bar: Any, segment: Any) -> Any:
    """Probability that a term renewing after mean engagement ``e_bar`` churns."""
    return sigmoid(-0.6 + CHURN_OFFSET[segment] - 7.0 * (e_bar - 0.35))


def expansion_probability(e_bar: Any) -> Any:
    return sigmoid(-1.5 + 6.0 * (e_bar - 0.55))


def contraction_probability(e_bar: Any) -> Any:
    return sigmoid(-1.5 - 6.0 * (e_bar - 0.35))


def ascii_slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


class Calendar:
    """Day indices (0 = the window's first day) and the first days of months."""

    def __init__(self, config: SimConfig) -> None:
        self.start = config.start_date
        self.start_ord = config.start_date.toordinal()
        self.n_days = config.n_days
        self.n_weeks = (self.n_days + 6) // 7
        self.start_month = config.start_date.year * 12 + config.start_date.month - 1
        self._base = self.start_month - 12 * 7
        months = range(self._base, self.start_month + 12 * 6)
        self._month_start = np.array(
            [date(m // 12, m % 12 + 1, 1).toordinal() - self.start_ord for m in months],
            dtype=np.int64,
        )

    def month_start(self, month: np.ndarray | int) -> Any:
        """Day index of the first day of a month number (year * 12 + month - 1)."""
        return self._month_start[np.asarray(month) - self._base]

    def month_of(self, day: int) -> int:
        d = date.fromordinal(self.start_ord + int(day))
        return d.year * 12 + d.month - 1

    @lru_cache(maxsize=8192)  # noqa: B019 - one calendar per run, bounded cache
    def iso(self, day: int) -> str:
        return date.fromordinal(self.start_ord + int(day)).isoformat()

    def epoch_seconds(self, day: np.ndarray) -> np.ndarray:
        """Seconds since 1970-01-01 of the start of each day index."""
        return (np.asarray(day, dtype=np.int64) + self.start_ord - 719163) * 86400


# -- team ---------------------------------------------------------------------


@dataclass(frozen=True)
class Team:
    """The vendor's CS team: rows for team.csv and the CSM pool of each segment."""

    rows: list[tuple[Any, ...]]
    pools: tuple[tuple[str, ...], ...]


def build_team(config: SimConfig) -> Team:
    """A head of CS, managers (one per 8 CSMs) and CSMs pooled by segment."""
    rng = stream(config.seed, STREAM_TEAM)
    n_csm = max(3, math.ceil(config.accounts / 80))
    n_mgr = max(1, math.ceil(n_csm / 8))
    total = 1 + n_mgr + n_csm
    first = rng.integers(0, len(vocab.FIRST_NAMES), total)
    last = rng.integers(0, len(vocab.LAST_NAMES), total)
    rows: list[tuple[Any, ...]] = []
    for k in range(total):
        member_id = f"T{k + 1:04d}"
        fn, ln = vocab.FIRST_NAMES[first[k]], vocab.LAST_NAMES[last[k]]
        email = f"{ascii_slug(fn)}.{ascii_slug(ln)}.{k + 1}@vendor.example"
        if k == 0:
            role, manager = "admin", None
        elif k <= n_mgr:
            role, manager = "manager", "T0001"
        else:
            role, manager = "csm", f"T{2 + (k - n_mgr - 1) % n_mgr:04d}"
        rows.append((member_id, f"{fn} {ln}", email, role, manager, "true"))
    csm_ids = [f"T{k + 1:04d}" for k in range(1 + n_mgr, total)]
    # enterprise CSMs carry few accounts, SMB is pooled ("digital" coverage)
    n_ent = max(1, round(n_csm * 0.3))
    n_mm = max(1, round(n_csm * 0.4))
    pools = (
        tuple(csm_ids[:n_ent]),
        tuple(csm_ids[n_ent : n_ent + n_mm]) or tuple(csm_ids[:1]),
        tuple(csm_ids[n_ent + n_mm :]) or tuple(csm_ids[-1:]),
    )
    return Team(rows=rows, pools=pools)


def fx_rate_rows(config: SimConfig, cal: Calendar) -> list[tuple[Any, ...]]:
    """Monthly rates (USD per unit) of EUR and JPY from five years back to the end."""
    rng = stream(config.seed, STREAM_FX)
    rows: list[tuple[Any, ...]] = []
    months = range(cal.start_month - 12 * 5, cal.month_of(cal.n_days - 1) + 1)
    for cur in (1, 2):
        walk = np.cumsum(rng.normal(0.0, 0.015, len(months)))
        for m, step in zip(months, walk, strict=True):
            rate = LIST_RATE_USD[cur] * math.exp(float(step))
            rows.append((CURRENCIES[cur], date(m // 12, m % 12 + 1, 1).isoformat(), f"{rate:.6g}"))
    return rows


# -- one block of accounts ----------------------------------------------------


@dataclass
class Block:
    """Everything one block of accounts contributes to the output."""

    accounts: list[tuple[Any, ...]] = field(default_factory=list)
    contacts: list[tuple[Any, ...]] = field(default_factory=list)
    contracts: list[tuple[Any, ...]] = field(default_factory=list)
    truth: dict[str, list[Any]] = field(default_factory=dict)
    # what the touchpoint and event generators need, one entry per account
    ids: list[str] = field(default_factory=list)
    segment: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    region: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    n_users: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    engagement: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    live: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.int64))
    onboarding: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.int64))
    onboarding_class: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    term_start: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    owner: list[str] = field(default_factory=list)
    contact_account: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    contact_role: list[str] = field(default_factory=list)
    contact_ids: list[str] = field(default_factory=list)
    contact_names: list[str] = field(default_factory=list)
    arr_end_usd: float = 0.0


def _roles(segment: int, n: int) -> list[str]:
    head = (
        ["final_evaluator", "evaluator", "promoter", "champion"],
        ["evaluator", "promoter"],
        ["promoter"],
    )[segment]
    tail = ["end_user" if k % 4 else "other" for k in range(1, n - len(head) + 1)]
    return (head + tail)[:n]


def simulate_block(config: SimConfig, cal: Calendar, team: Team, block_index: int) -> Block:
    """Simulate accounts ``block_index * BLOCK_SIZE`` onwards (at most ``BLOCK_SIZE``)."""
    i0 = block_index * BLOCK_SIZE
    n = min(BLOCK_SIZE, config.accounts - i0)
    rng = stream(config.seed, STREAM_ACCOUNTS, block_index)
    W, last_day = cal.n_weeks, cal.n_days - 1

    seg = rng.choice(3, size=n, p=SEGMENT_SHARE)
    region = rng.choice(3, size=n, p=(0.5, 0.3, 0.2))
    industry = rng.integers(0, len(vocab.INDUSTRIES), n)
    seats = np.maximum(
        3, np.round(np.exp(np.log(SEAT_MEDIAN[seg]) + SEAT_SIGMA[seg] * rng.standard_normal(n)))
    ).astype(np.int64)
    employees = np.round(seats * rng.uniform(3, 12, n), -1).astype(np.int64)
    non_usd = rng.random(n) < config.non_usd_share
    currency = np.where(non_usd & (region == 1), 1, np.where(non_usd & (region == 2), 2, 0))

    # contract timing: existing customers are mid-term at the window start, new
    # customers start on the first of a month inside the window
    first_new = cal.start_month + (0 if cal.start.day == 1 else 1)
    n_new_months = 0
    while cal.month_start(first_new + n_new_months) <= last_day:
        n_new_months += 1
    is_new = (rng.random(n) < config.new_customer_share) & (n_new_months > 0)
    term_m = np.where(
        is_new,
        first_new + rng.integers(0, max(n_new_months, 1), n),
        cal.start_month - rng.integers(0, 12, n),
    )
    prev_terms = np.where(is_new, 0, rng.choice(5, size=n, p=TENURE_YEARS_P))
    first_m = term_m - 12 * prev_terms
    term_start = cal.month_start(term_m)
    term_end = cal.month_start(term_m + 12) - 1
    created = cal.month_start(first_m) - rng.integers(5, 60, n)

    # latent engagement, weekly, logit scale
    mu = ENGAGEMENT_LEVEL[seg] + 0.8 * rng.standard_normal(n)
    u = rng.random(n)
    drift = np.where(u < 0.25, -1, np.where(u > 0.92, 1, 0))
    drift_from = rng.integers(0, W, n)
    slope = np.where(drift < 0, -rng.uniform(0.04, 0.15, n), rng.uniform(0.02, 0.06, n))
    slope = np.where(drift == 0, 0.0, slope)
    z = mu + 0.5 * rng.standard_normal(n)
    noise = rng.standard_normal((W, n))
    latent = np.empty((n, W))
    for w in range(W):
        target = mu + slope * np.maximum(0, w - drift_from)
        z = z + 0.3 * (target - z) + 0.3 * noise[w]
        latent[:, w] = z
    engagement = sigmoid(latent)

    # onboarding of new customers: on time, late or never finished
    onb_score = 0.8 * mu + rng.standard_normal(n)
    onb_class = np.where(
        ~is_new, 3, np.where(onb_score > -0.1, 0, np.where(onb_score > -1.2, 1, 2))
    )
    kickoff = term_start + rng.integers(0, 10, n)
    fv_off = np.where(onb_class == 0, rng.integers(35, 61, n), rng.integers(61, 150, n))
    u_conn = rng.random(n)
    conn_off = np.where(
        onb_class == 0,
        10 + np.floor(u_conn * (fv_off - 12)),
        20 + np.floor(u_conn * (fv_off - 25)),
    ).astype(np.int64)
    never_connects = rng.random(n) < 0.5
    conn_off = np.where(
        onb_class == 2, np.where(never_connects, -1, 40 + (conn_off % 80)), conn_off
    )
    first_value = np.where(onb_class <= 1, term_start + fv_off, -1)
    connected = np.where((onb_class <= 2) & (conn_off >= 0), term_start + conn_off, -1)
    kickoff = np.where(onb_class <= 2, kickoff, -1)
    mid_week = np.arange(W) * 7 + 3
    ramp_len = np.maximum(first_value - term_start, 1)[:, None]
    progress = np.clip((mid_week[None, :] - term_start[:, None]) / ramp_len, 0.0, 1.0)
    ramp = np.where(
        (onb_class <= 1)[:, None],
        0.25 + 0.75 * progress,
        np.where((onb_class == 2)[:, None], 0.35, 1.0),
    )
    eff = engagement * ramp

    # renewal decision at the end of the term, from the 12 weeks before it
    decided = ~is_new & (term_end <= last_day)
    end_week = np.clip(term_end // 7, 0, W - 1)
    lo = np.maximum(end_week - 11, 0)
    csum = np.concatenate([np.zeros((n, 1)), np.cumsum(eff, axis=1)], axis=1)
    rows_ix = np.arange(n)
    e_bar = (csum[rows_ix, end_week + 1] - csum[rows_ix, lo]) / (end_week + 1 - lo)
    p_churn = churn_probability(e_bar, seg)
    p_exp = expansion_probability(e_bar)
    p_con = contraction_probability(e_bar)
    u1, u2 = rng.random(n), rng.random(n)
    outcome = np.where(
        ~decided,
        0,
        np.where(u1 < p_churn, 4, np.where(u2 < p_exp, 2, np.where(u2 < p_exp + p_con, 3, 1))),
    )
    churned = outcome == 4
    react = churned & (term_end + 150 < last_day) & (rng.random(n) < 0.2)
    react_delay = rng.integers(90, 150, n)

    # mid-term expansion inside the window, likelier when engaged
    mx_m = term_m + rng.integers(3, 10, n)
    mx_day = cal.month_start(mx_m)
    in_window = (mx_day >= 0) & (mx_day <= last_day)
    e_at = eff[rows_ix, np.clip(mx_day // 7, 0, W - 1)]
    has_mx = in_window & (rng.random(n) < 0.35 * sigmoid(6.0 * (e_at - 0.6)))
    mx_qty = np.maximum(1, np.round(seats * rng.uniform(0.1, 0.4, n))).astype(np.int64)

    # products, prices and history
    an_from = np.where(
        rng.random(n) < ANALYTICS_SHARE[seg], rng.integers(0, 5, n) % (prev_terms + 1), -1
    )
    sup_from = np.where(
        rng.random(n) < SUPPORT_SHARE[seg], rng.integers(0, 5, n) % (prev_terms + 1), -1
    )
    unit_usd = np.round(PRICE_PER_SEAT_USD[seg] * rng.uniform(0.85, 1.15, n))
    growth = rng.uniform(1.0, 1.3, n)
    renew_factor = np.where(outcome == 2, rng.uniform(1.1, 1.5, n), rng.uniform(0.55, 0.9, n))
    drop_analytics = rng.random(n) < 0.5
    add_analytics = rng.random(n) < 0.5
    react_factor = rng.uniform(0.5, 1.0, n)
    n_users = np.clip(np.round(1.5 + 0.9 * np.sqrt(seats)), 2, 40).astype(np.int64)

    n_contacts = np.where(
        seg == 0,
        6 + rng.integers(0, 10, n),
        np.where(seg == 1, 3 + rng.integers(0, 4, n), 1 + rng.integers(0, 3, n)),
    )
    contact_first = rng.integers(0, len(vocab.FIRST_NAMES), int(n_contacts.sum()))
    contact_last = rng.integers(0, len(vocab.LAST_NAMES), int(n_contacts.sum()))
    contact_title = rng.integers(0, 3, int(n_contacts.sum()))
    name_a = rng.integers(0, len(vocab.NAME_FIRST), n)
    name_b = rng.integers(0, len(vocab.NAME_SECOND), n)
    name_c = rng.integers(0, 3, n)
    owner_pick = rng.integers(0, 10**6, n)
    has_parent = rng.random(n) < 0.08

    # the later renewals of a window longer than a year (see the module docstring)
    later_rng = stream(config.seed, STREAM_ACCOUNTS, block_index, 1)

    block = Block()
    block.segment, block.region, block.n_users = seg, region, n_users
    block.engagement = eff.astype(np.float32)
    block.onboarding = np.stack([kickoff, connected, first_value], axis=1)
    block.onboarding_class = onb_class
    block.term_start = term_start
    live = np.empty((n, 4), dtype=np.int64)
    live[:, 0] = cal.month_start(first_m)
    live[:, 1] = np.where(churned, term_end, FAR_FUTURE)
    live[:, 2], live[:, 3] = FAR_FUTURE, -1
    truth: dict[str, list[Any]] = {k: [] for k in TRUTH_COLUMNS}
    last_enterprise: str | None = None
    ci = 0
    for a in range(n):
        num = i0 + a + 1
        acc = f"A{num:06d}"
        s = int(seg[a])
        ind = vocab.INDUSTRIES[int(industry[a])]
        name = (
            f"{vocab.NAME_FIRST[name_a[a]]} {vocab.NAME_SECOND[name_b[a]]} "
            f"{vocab.NAME_SUFFIX[ind][name_c[a]]}"
        )
        domain = f"{ascii_slug(name)[:20]}-{num}.example"
        pool = team.pools[s]
        owner = pool[int(owner_pick[a]) % len(pool)]
        parent = last_enterprise if has_parent[a] and s != 0 else None
        attributes = {
            "employees": int(employees[a]),
            "plan": ("enterprise", "business", "starter")[s],
            "domain": domain,
        }
        block.accounts.append(
            (acc, name, parent, vocab.SEGMENTS[s], ind, vocab.REGIONS[int(region[a])], owner,
             cal.iso(int(created[a])), fmt_json(attributes))
        )  # fmt: skip
        if s == 0:
            last_enterprise = acc
        block.ids.append(acc)
        block.owner.append(owner)

        for k, role in enumerate(_roles(s, int(n_contacts[a]))):
            fn, ln = vocab.FIRST_NAMES[contact_first[ci]], vocab.LAST_NAMES[contact_last[ci]]
            titles = vocab.ROLE_TITLES[role]
            cid = f"C{num:06d}-{k + 1:02d}"
            email = f"{ascii_slug(fn)}.{ascii_slug(ln)}{k + 1}@{domain}"
            block.contacts.append(
                (cid, acc, f"{fn} {ln}", email, titles[contact_title[ci] % len(titles)], role)
            )
            block.contact_role.append(role)
            block.contact_ids.append(cid)
            block.contact_names.append(f"{fn} {ln}")
            ci += 1

        history = _contract_lines(
            block.contracts, cal, acc, num, currency=int(currency[a]), unit_usd=float(unit_usd[a]),
            seats=int(seats[a]), first_m=int(first_m[a]), prev_terms=int(prev_terms[a]),
            term_m=int(term_m[a]), growth=float(growth[a]), an_from=int(an_from[a]),
            sup_from=int(sup_from[a]), has_mx=bool(has_mx[a]), mx_day=int(mx_day[a]),
            mx_qty=int(mx_qty[a]), outcome=int(outcome[a]), renew_factor=float(renew_factor[a]),
            drop_analytics=bool(drop_analytics[a]), add_analytics=bool(add_analytics[a]),
            react=bool(react[a]), react_delay=int(react_delay[a]),
            react_factor=float(react_factor[a]),
            later=LaterRenewals(later_rng, csum[a], s),
        )  # fmt: skip
        live[a, 1] = history.live_until
        if history.react_day is not None:
            live[a, 2], live[a, 3] = history.react_day, history.react_until
        block.arr_end_usd += history.arr_end

        live_weeks = _live_weeks(live[a], W)
        e_live = eff[a, live_weeks] if live_weeks.size else eff[a, :0]
        truth["account_id"].append(acc)
        truth["segment"].append(vocab.SEGMENTS[s])
        truth["engagement_level"].append(float(sigmoid(np.array(mu[a]))))
        truth["drift"].append(("down", "none", "up")[int(drift[a]) + 1])
        truth["engagement_mean"].append(float(e_live.mean()) if e_live.size else None)
        truth["engagement_first"].append(float(e_live[0]) if e_live.size else None)
        truth["engagement_last"].append(float(e_live[-1]) if e_live.size else None)
        truth["renewal_date"].append(cal.iso(int(term_end[a])) if decided[a] else None)
        truth["engagement_before_renewal"].append(float(e_bar[a]) if decided[a] else None)
        truth["outcome"].append(OUTCOMES[int(outcome[a])])
        truth["reactivated"].append(bool(history.react_day is not None))
        truth["onboarding"].append(ONBOARDING[int(onb_class[a])])
        truth["contract_start"].append(cal.iso(int(term_start[a])))
        truth["first_value_due"].append(
            cal.iso(int(term_start[a]) + FIRST_VALUE_DUE_DAYS) if onb_class[a] <= 2 else None
        )
        truth["first_value_date"].append(
            cal.iso(int(first_value[a])) if first_value[a] >= 0 else None
        )
        truth["n_users"].append(int(n_users[a]))
        truth["seats"].append(int(seats[a]))
        truth["arr_start_usd"].append(round(history.arr_start, 2))
        truth["arr_end_usd"].append(round(history.arr_end, 2))
        truth["later_renewals"].append(
            "; ".join(f"{cal.iso(day)} {OUTCOMES[o]}" for day, o in history.later)
        )
    block.contact_account = np.repeat(np.arange(n), n_contacts)
    block.live = live
    block.truth = truth
    return block


TRUTH_COLUMNS = (
    "account_id",
    "segment",
    "engagement_level",
    "drift",
    "engagement_mean",
    "engagement_first",
    "engagement_last",
    "renewal_date",
    "engagement_before_renewal",
    "outcome",
    "reactivated",
    "onboarding",
    "contract_start",
    "first_value_due",
    "first_value_date",
    "n_users",
    "seats",
    "arr_start_usd",
    "arr_end_usd",
    "later_renewals",  # "DATE OUTCOME; ..." of the terms decided after the first (longer windows)
)


def _live_weeks(live: np.ndarray, n_weeks: int) -> np.ndarray:
    mid = np.arange(n_weeks) * 7 + 3
    on = ((mid >= live[0]) & (mid <= live[1])) | ((mid >= live[2]) & (mid <= live[3]))
    return np.nonzero(on)[0]


@dataclass
class LaterRenewals:
    """What deciding an account's later terms needs: the block's second random
    stream, the account's cumulative weekly engagement and its segment."""

    rng: np.random.Generator
    engagement_csum: np.ndarray  # (n_weeks + 1,): 0, then running sums of weekly engagement
    segment: int

    def decide(self, term_end: int) -> int:
        """Outcome (an index of OUTCOMES, never pending) of a term ending on ``term_end``,
        from the engagement of the 12 weeks before, as for the first decision."""
        n_weeks = self.engagement_csum.size - 1
        end_week = min(max(term_end // 7, 0), n_weeks - 1)
        lo = max(end_week - 11, 0)
        csum = self.engagement_csum
        e_bar = float(csum[end_week + 1] - csum[lo]) / (end_week + 1 - lo)
        p_churn = float(churn_probability(e_bar, self.segment))
        p_exp = float(expansion_probability(e_bar))
        p_con = float(contraction_probability(e_bar))
        u1, u2 = self.rng.random(), self.rng.random()
        if u1 < p_churn:
            return 4
        if u2 < p_exp:
            return 2
        return 3 if u2 < p_exp + p_con else 1


@dataclass
class ContractHistory:
    """One account's contract history as the event and touchpoint generators see it."""

    arr_start: float  # ARR (USD, list rates) on the window's first day
    arr_end: float  # ... and on its last day
    live_until: int  # last day of the first live period (FAR_FUTURE: not churned)
    react_day: int | None = None  # first day of the contract of a churned account that came back
    react_until: int = FAR_FUTURE  # last day of that second live period
    later: list[tuple[int, int]] = field(
        default_factory=list
    )  # (term end, outcome) after the first


def _contract_lines(
    out: list[tuple[Any, ...]],
    cal: Calendar,
    acc: str,
    num: int,
    *,
    currency: int,
    unit_usd: float,
    seats: int,
    first_m: int,
    prev_terms: int,
    term_m: int,
    growth: float,
    an_from: int,
    sup_from: int,
    has_mx: bool,
    mx_day: int,
    mx_qty: int,
    outcome: int,
    renew_factor: float,
    drop_analytics: bool,
    add_analytics: bool,
    react: bool,
    react_delay: int,
    react_factor: float,
    later: LaterRenewals,
) -> ContractHistory:
    """Append one account's contract lines (oldest first) and return its history."""
    last_day = cal.n_days - 1
    rate = LIST_RATE_USD[currency]
    # local unit prices: whole euros, whole hundreds of yen
    unit_local = {
        0: round(unit_usd),
        1: round(unit_usd / rate),
        2: round(unit_usd / rate, -2),
    }[currency]
    an_local = round(unit_local * 0.25) if currency != 2 else round(unit_local * 0.25, -2)
    arr_at = [0.0, 0.0]
    seq = [0]

    def add(product: str, qty: int, start: int, end: int, renews: str | None, unit: float) -> str:
        seq[0] += 1
        line_id = f"L{num:06d}-{seq[0]:02d}"
        cents = round(qty * unit * 100)
        status = "ended" if end < last_day else ("pending" if start > last_day else "active")
        out.append(
            (line_id, acc, product, fmt_cents(cents), CURRENCIES[currency], qty, cal.iso(start),
             cal.iso(end), status, renews)
        )  # fmt: skip
        usd = cents / 100 * rate
        for k, day in enumerate((0, last_day)):
            if start <= day <= end:
                arr_at[k] += usd
        return line_id

    def renew_terms(
        m: int, qty: int, plat: str, an: str | None, sup: str | None, mx: str | None
    ) -> tuple[int | None, int]:
        """Decide every term from the one starting in month ``m`` on that ends before
        the window's last day; return the day it churned (None: it did not) and the
        seats of its last term."""
        end = int(cal.month_start(m + 12)) - 1
        while end < last_day:
            decision = later.decide(end)
            history.later.append((end, decision))
            if decision == 4:
                return end, qty
            m += 12
            start, end = end + 1, int(cal.month_start(m + 12)) - 1
            if decision == 2:
                qty = max(1, round(qty * later.rng.uniform(1.1, 1.5)))
            elif decision == 3:
                qty = max(1, round(qty * later.rng.uniform(0.55, 0.9)))
            drop_or_add = later.rng.random() < 0.5
            plat = add("Platform", qty, start, end, plat, unit_local)
            if an is not None and not (decision == 3 and drop_or_add):
                an = add("Analytics Add-on", qty, start, end, an, an_local)
            elif an is None and decision == 2 and drop_or_add:
                an = add("Analytics Add-on", qty, start, end, None, an_local)
            else:
                an = None
            if sup is not None:
                sup = add(
                    "Premium Support", 1, start, end, sup, round(qty * unit_local * SUPPORT_RATE)
                )
            mx = (
                add("Platform", mx_qty, start, end, mx, unit_local)
                if mx and decision != 3
                else None
            )
        return None, qty

    history = ContractHistory(arr_start=0.0, arr_end=0.0, live_until=FAR_FUTURE)
    plat = an = sup = None
    qty = seats
    for j in range(prev_terms + 1):
        start = int(cal.month_start(first_m + 12 * j))
        end = int(cal.month_start(first_m + 12 * j + 12)) - 1
        qty = max(1, round(seats / growth ** (prev_terms - j)))
        plat = add("Platform", qty, start, end, plat, unit_local)
        if 0 <= an_from <= j:
            an = add("Analytics Add-on", qty, start, end, an, an_local)
        if 0 <= sup_from <= j:
            sup = add("Premium Support", 1, start, end, sup, round(qty * unit_local * SUPPORT_RATE))
    assert plat is not None
    term_end = int(cal.month_start(term_m + 12)) - 1
    mx = add("Platform", mx_qty, mx_day, term_end, None, unit_local) if has_mx else None
    churned_on: int | None = None
    if outcome == 0:  # not decided with the first term: a new customer's first renewal
        churned_on, qty = renew_terms(term_m, qty, plat, an, sup, mx)
    elif outcome in (1, 2, 3):
        start, end = term_end + 1, int(cal.month_start(term_m + 24)) - 1
        new_qty = qty if outcome == 1 else max(1, round(qty * renew_factor))
        plat = add("Platform", new_qty, start, end, plat, unit_local)
        if an is not None and not (outcome == 3 and drop_analytics):
            an = add("Analytics Add-on", new_qty, start, end, an, an_local)
        elif an is None and outcome == 2 and add_analytics:
            an = add("Analytics Add-on", new_qty, start, end, None, an_local)
        else:
            an = None
        if sup is not None:
            sup = add(
                "Premium Support", 1, start, end, sup, round(new_qty * unit_local * SUPPORT_RATE)
            )
        mx = (
            add("Platform", mx_qty, start, end, mx, unit_local)
            if mx and outcome in (1, 2)
            else None
        )
        churned_on, qty = renew_terms(term_m + 12, new_qty, plat, an, sup, mx)
    else:
        churned_on = term_end
    if churned_on is not None:
        history.live_until = churned_on
        if outcome != 4:  # churned at a later term: may come back too, drawn from that stream
            react = churned_on + 150 < last_day and later.rng.random() < 0.2
            react_delay = int(later.rng.integers(90, 150))
            react_factor = float(later.rng.uniform(0.5, 1.0))
        if react:
            month = cal.month_of(churned_on + react_delay) + 1
            react_day = int(cal.month_start(month))
            end = int(cal.month_start(month + 12)) - 1
            react_qty = max(1, round(qty * react_factor))
            plat = add("Platform", react_qty, react_day, end, None, unit_local)
            history.react_day = react_day
            react_churn, _ = renew_terms(month, react_qty, plat, None, None, None)
            history.react_until = FAR_FUTURE if react_churn is None else react_churn
    history.arr_start, history.arr_end = arr_at
    return history
