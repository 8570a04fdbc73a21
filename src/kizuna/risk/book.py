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
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from kizuna.platform import Platform
from kizuna.retention.loading import fetch_arrow
from kizuna.store.models import ContractLine, ContractStatus, FxRate

LINES_SCHEMA = pa.schema(
    [
        ("account_id", pa.string()),
        ("product", pa.string()),
        ("arr", pa.decimal128(18, 2)),
        ("currency", pa.string()),
        ("quantity", pa.int64()),
        ("start_date", pa.date32()),
        ("end_date", pa.date32()),
        ("status", pa.string()),
    ]
)


@dataclass
class ContractBook:
    """Every counted contract line and the FX rates, read from the store once."""

    lines: pd.DataFrame  # account_id, product, arr (float), currency, quantity, start, end
    rates: pd.DataFrame  # currency, valid_from, rate
    currency: str

    @classmethod
    def load(cls, platform: Platform) -> ContractBook:
        cl = ContractLine.__table__.c
        table = fetch_arrow(
            platform.store,
            sa.select(
                cl.account_id,
                cl.product,
                cl.arr,
                cl.currency,
                cl.quantity,
                cl.start_date,
                cl.end_date,
                cl.status,
            ),
            LINES_SCHEMA,
        )
        counted = pc.invert(
            pc.equal(pc.utf8_lower(table.column("status")), ContractStatus.CANCELLED.value)
        )
        table = table.filter(counted)
        lines = pd.DataFrame(
            {
                "account_id": table.column("account_id").to_pandas(),
                "product": table.column("product").to_pandas(),
                "arr": pc.cast(table.column("arr"), pa.float64()).to_numpy(),
                "currency": table.column("currency").to_pandas(),
                "quantity": pc.cast(table.column("quantity"), pa.float64()).to_numpy(
                    zero_copy_only=False
                ),
                "start": table.column("start_date").to_numpy().astype("datetime64[s]"),
                "end": table.column("end_date").to_numpy().astype("datetime64[s]"),
            }
        )
        with platform.store.engine.connect() as conn:
            fx = conn.execute(sa.select(FxRate.currency, FxRate.valid_from, FxRate.rate)).all()
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
        Vectorised over integer account codes (no grouping by text ids).
        """
        lines = self.lines
        codes, ids = self._codes()
        n = len(ids)
        day = np.datetime64(t, "s")
        one = np.timedelta64(1, "D")
        # rounded to the cent per line, like the ARR ledger
        arr = (lines["arr"] * self.rate_on(t)).round(2).fillna(0.0).to_numpy()
        start = lines["start"].to_numpy()
        end = lines["end"].to_numpy()
        live = (start <= day) & (end >= day)

        def total(mask: np.ndarray, weights: np.ndarray) -> np.ndarray:
            return np.bincount(codes[mask], weights=weights[mask], minlength=n)

        arr_t = total(live, arr)
        quantity = lines["quantity"].to_numpy()
        seats = total(live & ~np.isnan(quantity), np.nan_to_num(quantity))
        has_seats = np.bincount(codes[live & ~np.isnan(quantity)], minlength=n) > 0
        product = pd.factorize(lines["product"])[0]
        pairs = np.unique(
            codes[live].astype(np.int64) * (product.max(initial=0) + 1) + product[live]
        )
        products = np.bincount(pairs // (product.max(initial=0) + 1), minlength=n)
        far = np.datetime64("9999-12-31", "s")
        next_end = np.full(n, far)
        np.minimum.at(next_end, codes[live], end[live])
        first = np.full(n, far)
        np.minimum.at(first, codes, start)
        keep = np.flatnonzero(arr_t > 0)
        renewal = next_end + one
        per_line = renewal[codes]
        before = per_line - one
        after = per_line + np.timedelta64(grace_days, "D")
        ending = (end == before) & (start <= day)
        live_before = (start <= before) & (end >= before)
        live_after = (start <= after) & (end >= after)
        r = renewal[keep]
        out = pd.DataFrame(
            {
                "account_id": ids[keep],
                "arr": arr_t[keep],
                "seats": np.where(has_seats, seats, np.nan)[keep],
                "products": products[keep].astype("float64"),
                "tenure_days": ((day - first[keep]) / one).astype("float64"),
                "renewal_date": r,
                "days_to_renewal": ((r - day) / one).astype("float64"),
                "arr_up": total(ending, arr)[keep],
                "arr_before": total(live_before, arr)[keep],
                "arr_after": total(live_after, arr)[keep],
            }
        )
        out["churned"] = out["arr_after"] <= 0
        out["known_on"] = r + np.timedelta64(grace_days, "D")
        return out

    def _codes(self) -> tuple[np.ndarray, np.ndarray]:
        """Each line's account as an integer code, and the account ids in code order (sorted)."""
        if not hasattr(self, "_coded"):
            codes, ids = pd.factorize(self.lines["account_id"], sort=True)
            self._coded = (codes.astype(np.int64), np.asarray(ids, dtype=object))
        return self._coded


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
