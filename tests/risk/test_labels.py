"""Labels against hand-built contract ledgers (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd

from kizuna.platform import Platform
from kizuna.risk.book import ContractBook, label_contraction, month_ends
from kizuna.store.models import Account, ContractLine, ContractStatus, FxRate

T = date(2025, 1, 31)


def _line(id_: str, account: str, start: str, end: str, arr: str, **kw: object) -> ContractLine:
    return ContractLine(
        id=id_,
        account_id=account,
        product=str(kw.pop("product", "core")),
        arr=Decimal(arr),
        currency=str(kw.pop("currency", "USD")),
        quantity=kw.pop("quantity", 10),  # type: ignore[arg-type]
        start_date=date.fromisoformat(start),
        end_date=date.fromisoformat(end),
        **kw,
    )


def _seed(platform: Platform) -> None:
    with platform.store.session() as s:
        s.add_all(Account(id=a, name=a) for a in ("RENEW", "CHURN", "SHRINK", "LATE", "FX", "OLD"))
        s.add(FxRate(currency="EUR", valid_from=date(2025, 1, 1), rate=Decimal("1.1")))
        s.add(FxRate(currency="EUR", valid_from=date(2025, 3, 1), rate=Decimal("2.0")))
        s.flush()
        s.add_all(
            [
                # renews flat on 2025-05-01
                _line("R1", "RENEW", "2024-05-01", "2025-04-30", "1000"),
                _line("R2", "RENEW", "2025-05-01", "2026-04-30", "1000"),
                # two lines, both end 2025-03-31, nothing after: logo churn
                _line("C1", "CHURN", "2024-04-01", "2025-03-31", "600"),
                _line("C2", "CHURN", "2024-10-01", "2025-03-31", "400", product="addon"),
                # 1000 -> 700 at 2025-06-01: a 30 % contraction
                _line("S1", "SHRINK", "2023-06-01", "2024-05-31", "900"),
                _line("S2", "SHRINK", "2024-06-01", "2025-05-31", "1000"),
                _line("S3", "SHRINK", "2025-06-01", "2026-05-31", "700"),
                # renewal starts 20 days late: within the 30-day grace, not churn
                _line("L1", "LATE", "2024-03-01", "2025-02-28", "500"),
                _line("L2", "LATE", "2025-03-21", "2026-03-20", "500"),
                # EUR line: converted at the rate in force on T (1.1), for before and after
                _line("F1", "FX", "2024-04-01", "2025-03-31", "100", currency="EUR"),
                _line("F2", "FX", "2025-04-01", "2026-03-31", "100", currency="EUR"),
                # ended before T: not observed; a cancelled line never counts
                _line("O1", "OLD", "2023-01-01", "2023-12-31", "300"),
                _line(
                    "O2", "OLD", "2024-06-01", "2025-05-31", "300", status=ContractStatus.CANCELLED
                ),
            ]
        )


def test_observations_and_labels(platform: Platform) -> None:
    _seed(platform)
    frame = ContractBook.load(platform).as_of(T, grace_days=30).set_index("account_id")
    assert sorted(frame.index) == ["CHURN", "FX", "LATE", "RENEW", "SHRINK"]
    expected = {
        # arr, renewal, arr_up, arr_before, arr_after, churned, tenure
        "RENEW": (1000, "2025-05-01", 1000, 1000, 1000, False, (T - date(2024, 5, 1)).days),
        "CHURN": (1000, "2025-04-01", 1000, 1000, 0, True, (T - date(2024, 4, 1)).days),
        "SHRINK": (1000, "2025-06-01", 1000, 1000, 700, False, (T - date(2023, 6, 1)).days),
        "LATE": (500, "2025-03-01", 500, 500, 500, False, (T - date(2024, 3, 1)).days),
        "FX": (110, "2025-04-01", 110, 110, 110, False, (T - date(2024, 4, 1)).days),
    }
    for account, (arr, renewal, up, before, after, churned, tenure) in expected.items():
        row = frame.loc[account]
        assert row["arr"] == arr, account
        assert row["renewal_date"] == pd.Timestamp(renewal), account
        assert row["days_to_renewal"] == (date.fromisoformat(renewal) - T).days, account
        assert (row["arr_up"], row["arr_before"], row["arr_after"]) == (up, before, after), account
        assert bool(row["churned"]) is churned, account
        assert row["tenure_days"] == tenure, account
        assert row["known_on"] == pd.Timestamp(renewal) + pd.Timedelta(days=30), account
    assert frame.loc["CHURN", "products"] == 2
    assert frame.loc["CHURN", "seats"] == 20
    contracted = label_contraction(frame, 0.2)
    assert contracted.to_dict() == {
        "CHURN": False,
        "FX": False,
        "LATE": False,
        "RENEW": False,
        "SHRINK": True,
    }
    assert not label_contraction(frame, 0.3)["SHRINK"]  # exactly 30 % is not beyond 30 %


def test_a_late_renewal_beyond_the_grace_is_churn(platform: Platform) -> None:
    _seed(platform)
    frame = ContractBook.load(platform).as_of(T, grace_days=10).set_index("account_id")
    assert bool(frame.loc["LATE", "churned"]) is True


def test_a_renewal_signed_early_is_no_feature(platform: Platform) -> None:
    """On 2025-04-15 the renewal line R2 (starting 2025-05-01) exists in the store, but
    contract facts count only lines started by the date."""
    _seed(platform)
    frame = ContractBook.load(platform).as_of(date(2025, 4, 15), 30).set_index("account_id")
    assert frame.loc["RENEW", "arr"] == 1000
    assert frame.loc["RENEW", "days_to_renewal"] == 16
    assert frame.loc["RENEW", "arr_after"] == 1000


def test_month_ends() -> None:
    assert month_ends(date(2024, 11, 15), date(2025, 2, 28)) == [
        date(2024, 11, 30),
        date(2024, 12, 31),
        date(2025, 1, 31),
        date(2025, 2, 28),
    ]
    assert month_ends(date(2025, 1, 31), date(2025, 1, 30)) == []
