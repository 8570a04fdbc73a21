"""Support tickets, survey answers and CSM activities of one block of accounts.

All three follow the account's latent engagement: low engagement brings more
tickets and more urgent ones, lower NPS scores and CSAT, and risk notes on the
timeline. Onboarding leaves kick-off meetings and milestone notes behind.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kizuna.sim import _vocab as vocab
from kizuna.sim.customers import (
    FIRST_VALUE_DUE_DAYS,
    STREAM_TOUCHPOINTS,
    Block,
    Calendar,
    stream,
)
from kizuna.sim.writer import fmt_ts

TICKETS_PER_WEEK = np.array([0.5, 0.2, 0.07])  # by segment, at middling engagement
PRIORITIES = ("low", "normal", "high", "urgent")
RESOLUTION_MEDIAN_HOURS = np.array([72.0, 30.0, 12.0, 4.0])
SURVEY_RESPONSE_RATE = {
    "final_evaluator": 0.4,
    "evaluator": 0.5,
    "promoter": 0.6,
    "champion": 0.6,
    "end_user": 0.25,
    "other": 0.0,
}
NPS_WAVE_DAYS = 91
CADENCE_DAYS = np.array([14, 30, 91])  # CSM touch cadence by segment (high → tech touch)


def _live_on(block: Block, a: np.ndarray, day: np.ndarray) -> np.ndarray:
    live = block.live[a]
    return ((day >= live[:, 0]) & (day <= live[:, 1])) | ((day >= live[:, 2]) & (day <= live[:, 3]))


def _business_seconds(block: Block, a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    start = np.array(vocab.REGION_DAY_START_UTC)[block.region[a]] * 3600
    return ((start + rng.uniform(0.5, 9.5, len(a)) * 3600) % 86400).astype(np.int64)


def _numbers(block: Block) -> list[str]:
    return [acc[1:] for acc in block.ids]


def _sequence(sorted_accounts: np.ndarray) -> np.ndarray:
    """1, 2, 3, ... within each run of equal (sorted) account indices."""
    return np.arange(len(sorted_accounts)) - np.searchsorted(sorted_accounts, sorted_accounts) + 1


def tickets(cal: Calendar, block: Block, rng: np.random.Generator) -> list[tuple[Any, ...]]:
    """Support tickets: weekly Poisson counts, more and more urgent when engagement is low."""
    n, W = block.engagement.shape
    eff = block.engagement.astype(np.float64)
    mid = np.arange(W) * 7 + 3
    rows_ix = np.repeat(np.arange(n), W)
    live = _live_on(block, rows_ix, np.tile(mid, n)).reshape(n, W)
    fv = block.onboarding[:, 2]
    onboarding_until = np.where(fv >= 0, fv, block.term_start + 120)
    onboarding = (block.onboarding_class <= 2)[:, None] & (
        mid[None, :] <= onboarding_until[:, None]
    )
    rate = TICKETS_PER_WEEK[block.segment][:, None] * (0.4 + 2.2 * (1 - eff) ** 2)
    rate = rate * live * np.where(onboarding, 1.5, 1.0)
    counts = rng.poisson(rate)
    a_w, w_w = np.nonzero(counts)
    reps = counts[a_w, w_w]
    a = np.repeat(a_w, reps)
    w = np.repeat(w_w, reps)
    m = len(a)
    day = np.minimum(w * 7 + rng.integers(0, 7, m), cal.n_days - 1)
    opened = cal.epoch_seconds(day) + _business_seconds(block, a, rng)
    e = eff[a, w]
    p_high = 0.08 + 0.35 * (1 - e)
    u = rng.random(m)
    priority = np.where(u < p_high * 0.3, 3, np.where(u < p_high, 2, np.where(u > 0.85, 0, 1)))
    hours = RESOLUTION_MEDIAN_HOURS[priority] * np.exp(0.9 * rng.standard_normal(m))
    closed = opened + (hours * 3600).astype(np.int64)
    window_end = int(cal.epoch_seconds(np.array(cal.n_days))[()])
    is_closed = closed < window_end
    still_pending = rng.random(m) < 0.4
    csat = np.clip(np.round(rng.normal(1.5 + 3.5 * e, 0.9)), 1, 5).astype(np.int64)
    has_csat = is_closed & (rng.random(m) < 0.35)
    subject = rng.integers(0, len(vocab.TICKET_SUBJECTS), m)
    order = np.lexsort((opened, a))
    nums = _numbers(block)
    seq = _sequence(a[order])
    out: list[tuple[Any, ...]] = []
    for k, t in enumerate(order):
        ac = int(a[t])
        if is_closed[t]:
            status = "closed" if closed[t] < window_end - 7 * 86400 else "solved"
        else:
            status = "pending" if still_pending[t] else "open"
        out.append(
            (
                f"TK{nums[ac]}-{seq[k]:04d}",
                block.ids[ac],
                vocab.TICKET_SUBJECTS[subject[t]],
                fmt_ts(opened[t]),
                fmt_ts(closed[t]) if is_closed[t] else None,
                PRIORITIES[priority[t]],
                status,
                int(csat[t]) if has_csat[t] else None,
            )
        )
    return out


def surveys(cal: Calendar, block: Block, rng: np.random.Generator) -> list[tuple[Any, ...]]:
    """NPS waves every 91 days to the contacts, and a CSAT answer after onboarding."""
    last = cal.n_days - 1
    n, W = block.engagement.shape
    c_acc = block.contact_account
    nc = len(c_acc)
    rate = np.array([SURVEY_RESPONSE_RATE[r] for r in block.contact_role])
    offset = np.asarray(rng.integers(0, NPS_WAVE_DAYS, n))
    answers: list[tuple[int, int, int, str, int]] = []  # account, seconds, contact, kind, score
    for wave in range(cal.n_days // NPS_WAVE_DAYS + 1):
        day = offset[c_acc] + wave * NPS_WAVE_DAYS + rng.integers(0, 6, nc)
        answered = rng.random(nc) < rate
        e = block.engagement[c_acc, np.clip(day // 7, 0, W - 1)]
        score = np.clip(np.round(rng.normal(1.5 + 9.0 * e, 1.5)), 0, 10).astype(np.int64)
        seconds = cal.epoch_seconds(day) + _business_seconds(block, c_acc, rng)
        ok = answered & (day <= last) & _live_on(block, c_acc, day)
        for ix in np.nonzero(ok)[0]:
            answers.append((int(c_acc[ix]), int(seconds[ix]), int(ix), "nps", int(score[ix])))
    # CSAT after reaching first value, from the customer's promoter
    fv = block.onboarding[:, 2]
    csat_day = fv + 7
    csat = np.clip(np.round(rng.normal(2.0 + 3.0 * block.engagement[:, -1], 0.8)), 1, 5)
    asked = np.asarray(rng.random(n)) < 0.6
    first_contact = np.searchsorted(c_acc, np.arange(n))
    for a in range(n):
        if fv[a] >= 0 and asked[a] and csat_day[a] <= last:
            first = int(first_contact[a])  # the first contact of SMB/mid-market is the promoter
            if first < nc and c_acc[first] == a:
                secs = int(cal.epoch_seconds(np.array(csat_day[a]))[()]) + 3600 * 12
                answers.append((a, secs, first, "csat", int(csat[a])))
    answers.sort(key=lambda r: (r[0], r[1], r[2], r[3]))
    comment_pick = rng.integers(0, 100, len(answers))
    nums = _numbers(block)
    out: list[tuple[Any, ...]] = []
    seq, prev = 0, -1
    for k, (a, secs, contact, kind, score) in enumerate(answers):
        seq = seq + 1 if a == prev else 1
        prev = a
        comment = None
        if kind == "nps" and comment_pick[k] < 40:
            bucket = "detractor" if score <= 6 else ("passive" if score <= 8 else "promoter")
            options = vocab.NPS_COMMENTS[bucket]
            comment = options[comment_pick[k] % len(options)]
        out.append(
            (f"S{nums[a]}-{seq:04d}", block.ids[a], block.contact_ids[contact], kind, score,
             comment, fmt_ts(secs))
        )  # fmt: skip
    return out


def activities(cal: Calendar, block: Block, rng: np.random.Generator) -> list[tuple[Any, ...]]:
    """The CSM's timeline: kick-off and onboarding notes, cadence touches, QBRs, risk notes."""
    last = cal.n_days - 1
    n, W = block.engagement.shape
    # account, day, order, kind, text, contact (index into the block's contacts; -1: none)
    items: list[tuple[int, int, int, str, str, int]] = []
    first_contact = np.searchsorted(block.contact_account, np.arange(n))
    kickoff, connected, fv = block.onboarding.T
    for a in range(n):
        if not 0 <= kickoff[a] <= last:
            continue
        lead = block.contact_names[int(first_contact[a])]
        ts = int(block.term_start[a])
        items.append(
            (a, int(kickoff[a]), 0, "meeting",
             f"Kick-off meeting with {lead}: agreed success metrics, baselines and the "
             f"onboarding plan. Data connection due {cal.iso(ts + 30)}, first value due "
             f"{cal.iso(ts + FIRST_VALUE_DUE_DAYS)}.", int(first_contact[a]))
        )  # fmt: skip
        if 0 <= connected[a] <= last:
            items.append(
                (a, int(connected[a]), 1, "note", "Onboarding milestone: data connected.", -1)
            )
        if 0 <= fv[a] <= last:
            late = int(fv[a]) - ts - FIRST_VALUE_DUE_DAYS
            when = f"{late} days late" if late > 0 else "on time"
            items.append(
                (
                    a,
                    int(fv[a]),
                    2,
                    "note",
                    f"Onboarding milestone: first value reached ({when}).",
                    -1,
                )
            )
        elif fv[a] < 0 and ts + 90 <= last:
            items.append(
                (a, ts + 90, 2, "note",
                 "Onboarding stalled: first value not reached 90 days after contract start.", -1)
            )  # fmt: skip
    # cadence touches and quarterly business reviews
    period = CADENCE_DAYS[block.segment]
    offset = rng.integers(0, 14, n)
    for k in range(cal.n_days // int(CADENCE_DAYS.min()) + 1):
        day = offset + period * k
        a_ok = np.nonzero((day <= last) & _live_on(block, np.arange(n), day))[0]
        for ix in a_ok:
            a = int(ix)
            d, s = int(day[a]), int(block.segment[a])
            e = float(block.engagement[a, min(d // 7, W - 1)])
            # who the CSM talks to (see _roles in customers.py for each segment's contacts):
            # enterprise check-ins reach the evaluator every third touch and at QBRs,
            # mid-market ones the evaluator; SMB e-mails go to the promoter. When usage is
            # down the CSM works with the promoter instead.
            first = int(first_contact[a])
            evaluator = first + 1 if s == 0 else first
            promoter = first + 2 if s == 0 else (first + 1 if s == 1 else first)
            kind = (
                ("meeting", "call")[k % 2]
                if s == 0
                else (("call", "email")[k % 2] if s == 1 else "email")
            )
            if s == 0 and k % 6 == 5:
                items.append(
                    (
                        a,
                        d,
                        3,
                        "meeting",
                        "Quarterly business review with the evaluators: KPIs against targets, "
                        "health trend and next steps.",
                        evaluator,
                    )
                )
            elif e < 0.3:
                items.append(
                    (
                        a,
                        d,
                        3,
                        kind,
                        "Usage is down; agreed actions with the promoter to re-engage end users.",
                        promoter,
                    )
                )
            else:
                items.append(
                    (
                        a,
                        d,
                        3,
                        kind,
                        "Regular check-in: reviewed usage, open requests and upcoming milestones.",
                        evaluator if (s == 1 or (s == 0 and k % 3 == 2)) else promoter,
                    )
                )
    # a risk note the first week engagement falls below 0.2 while live
    mid = np.arange(W) * 7 + 3
    for a in range(n):
        low = (block.engagement[a] < 0.2) & _live_on(block, np.full(W, a), mid)
        weeks = np.nonzero(low)[0]
        if weeks.size and mid[weeks[0]] <= last:
            items.append(
                (
                    a,
                    int(mid[weeks[0]]),
                    4,
                    "note",
                    "Risk: active users and feature usage are declining.",
                    -1,
                )
            )
    items.sort(key=lambda r: (r[0], r[1], r[2]))
    nums = _numbers(block)
    out: list[tuple[Any, ...]] = []
    seq, prev = 0, -1
    for a, d, _, kind, text, contact in items:
        seq = seq + 1 if a == prev else 1
        prev = a
        who = block.contact_ids[contact] if contact >= 0 else None
        out.append(
            (f"V{nums[a]}-{seq:04d}", block.ids[a], kind, block.owner[a], cal.iso(d), text, who)
        )
    return out


def block_touchpoints(
    seed: int, cal: Calendar, block: Block, block_index: int
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Tickets, survey answers and activities of one block, from the block's own stream."""
    rng = stream(seed, STREAM_TOUCHPOINTS, block_index)
    return tickets(cal, block, rng), surveys(cal, block, rng), activities(cal, block, rng)
