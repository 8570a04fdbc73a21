"""Contract facts and renewal labels as of an observation date, from the store's lines.

An *observation* is an account on a date ``t`` with ARR > 0 on ``t``. Its next
renewal ``r`` is the day after the earliest end date among its lines live on
``t`` (``start <= t <= end``, not cancelled); the *lead* is ``r - t`` days.
Only lines that started by ``t`` count as known on ``t`` (a renewal line signed
early is not used by a feature).

Labels look past ``t`` — they are what happened at that renewal:

* ``arr_up``: ARR of the account's lines ending the day before ``r`` (up for renewal);
* ``arr_before``: the account's ARR the day before ``r``;
* ``arr_after``: its ARR ``grace_days`` after ``r`` (a renewal may start late);
* **churn** (logo churn): ``arr_after == 0``;
* **contraction**: not churned and ``arr_after < (1 - threshold) * arr_before``;
* a label is *known* on day ``d`` when ``r + grace_days <= d``.

Amounts are in the reporting currency at the rate in force on ``t`` for the
whole observation, so exchange-rate moves never read as contraction. ARR is
per account (no roll-up to parents), like the portfolio figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
import sqlalchemy as sa

from kizuna.platform import Platform
from kizuna.store.models import ContractLine, ContractStatus, FxRate


@dataclass
class ContractBook:
    """Every counted contract line and the FX rates, read from the store once."""

    lines: pd.DataFrame  # account_id, product, arr (float), currency, quantity, start, end
    rates: pd.DataFrame  # currency, valid_from, rate
    currency: str

    @classmethod
    def load(cls, platform: Platform) -> ContractBook:
        with platform.store.engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    ContractLine.account_id,
                    ContractLine.product,
                    ContractLine.arr,
                    ContractLine.currency,
                    ContractLine.quantity,
                    ContractLine.start_date,
                    ContractLine.end_date,
                ).where(ContractLine.status != ContractStatus.CANCELLED)
            ).all()
            fx = conn.execute(sa.select(FxRate.currency, FxRate.valid_from, FxRate.rate)).all()
        lines = pd.DataFrame(
            rows,
            columns=["account_id", "product", "arr", "currency", "quantity", "start", "end"],
        )
        lines["arr"] = lines["arr"].astype("float64")
        lines["quantity"] = pd.to_numeric(lines["quantity"]).astype("float64")
        for column in ("start", "end"):
            lines[column] = pd.to_datetime(lines[column]).astype("datetime64[s]")
        rates = pd.DataFrame(fx, columns=["currency", "valid_from", "rate"])
        rates["valid_from"] = pd.to_datetime(rates["valid_from"])
        rates["rate"] = rates["rate"].astype("float64")
        return cls(lines=lines, rates=rates, currency=platform.settings.reporting_currency)

    def rate_on(self, day: date) -> pd.Series:
        """Units of the reporting currency per unit of each line's currency on ``day``
        (NaN when no rate is known: those lines count as no ARR)."""
        known = self.rates[self.rates["valid_from"] <= pd.Timestamp(day)]
        latest = known.sort_values("valid_from").groupby("currency")["rate"].last()
        rate = self.lines["currency"].map(latest)
        return rate.where(self.lines["currency"] != self.currency, 1.0)

    def as_of(self, t: date, grace_days: int) -> pd.DataFrame:
        """One row per account with ARR > 0 on ``t``: contract facts and renewal labels.

        Columns: ``account_id, arr, seats, products, tenure_days, days_to_renewal,
        renewal_date, arr_up, arr_before, arr_after, churned, known_on``;
        ``contraction`` is derived by :func:`label_contraction`.
        """
        lines = self.lines
        day = np.datetime64(t, "s")
        # rounded to the cent per line, like the ARR ledger
        arr = (lines["arr"] * self.rate_on(t)).round(2).fillna(0.0).to_numpy()
        start = lines["start"].to_numpy()
        end = lines["end"].to_numpy()
        live = (start <= day) & (end >= day)
        started = start <= day
        acc = lines["account_id"].to_numpy()
        frame = pd.DataFrame(
            {
                "account_id": acc[live],
                "arr": arr[live],
                "quantity": lines["quantity"].to_numpy()[live],
                "product": lines["product"].to_numpy()[live],
                "end": end[live],
            }
        )
        grouped = frame.groupby("account_id", sort=True)
        out = pd.DataFrame(
            {
                "arr": grouped["arr"].sum(),
                "seats": grouped["quantity"].sum(min_count=1),
                "products": grouped["product"].nunique().astype("float64"),
                "next_end": grouped["end"].min(),
            }
        )
        out = out[out["arr"] > 0]
        firsts = pd.Series(start[started], index=acc[started]).groupby(level=0).min()
        out["tenure_days"] = (
            (day - out.index.map(firsts).to_numpy(dtype="datetime64[s]")) / np.timedelta64(1, "D")
        ).astype("float64")
        renewal = out["next_end"].to_numpy(dtype="datetime64[s]") + np.timedelta64(1, "D")
        out["renewal_date"] = renewal
        out["days_to_renewal"] = ((renewal - day) / np.timedelta64(1, "D")).astype("float64")
        out = out.drop(columns="next_end")
        # labels: every line (also those signed after t), amounts at t's rates
        target = pd.DataFrame({"renewal": renewal}, index=out.index)
        per_line = target.reindex(acc)["renewal"].to_numpy(dtype="datetime64[s]")
        has = ~np.isnat(per_line)
        before = per_line - np.timedelta64(1, "D")
        after = per_line + np.timedelta64(grace_days, "D")
        live_before = has & (start <= before) & (end >= before)
        live_after = has & (start <= after) & (end >= after)
        ending = has & (end == before) & (start <= day)

        def total(mask: np.ndarray) -> np.ndarray:
            summed = pd.Series(arr[mask], index=acc[mask]).groupby(level=0).sum()
            return out.index.map(summed).to_numpy(dtype="float64", na_value=0.0)

        out["arr_up"] = total(ending)
        out["arr_before"] = total(live_before)
        out["arr_after"] = total(live_after)
        out["churned"] = out["arr_after"] <= 0
        out["known_on"] = renewal + np.timedelta64(grace_days, "D")
        out.index.name = "account_id"
        return out.reset_index()


def label_contraction(frame: pd.DataFrame, threshold: float) -> pd.Series:
    """Contracted beyond ``threshold`` (a fraction) at the renewal, without churning."""
    return (~frame["churned"]) & (frame["arr_after"] < (1.0 - threshold) * frame["arr_before"])


def month_ends(first: date, last: date) -> list[date]:
    """Every month's last day in ``[first, last]``."""
    out: list[date] = []
    year, month = first.year, first.month
    while True:
        nxt = date(year + (month == 12), month % 12 + 1, 1)
        end = nxt - timedelta(days=1)
        if end > last:
            return out
        if end >= first:
            out.append(end)
        year, month = nxt.year, nxt.month
