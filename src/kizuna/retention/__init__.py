"""Revenue and retention analytics: the ARR ledger, its movements, GRR/NRR, renewals, cohorts.

Build a :class:`Ledger` from the store (``Ledger.load(store, settings)``), then
call the service functions; each returns plain dataclasses. All computation runs
as Ibis expressions on the analytics engine (DuckDB by default).
"""

from kizuna.retention.cohorts import CohortReport, CohortRow, cohort_retention
from kizuna.retention.ledger import Ledger, LedgerFilters
from kizuna.retention.movements import (
    AccountArr,
    AccountMovement,
    ArrSnapshot,
    MovementsReport,
    PeriodMovements,
    account_movements,
    arr_at,
    arr_movements,
    period_movements,
)
from kizuna.retention.periods import Period, split_periods
from kizuna.retention.rates import (
    RetentionGroup,
    RetentionRates,
    RetentionReport,
    rates_from_movements,
    retention_rates,
)
from kizuna.retention.renewals import (
    DEFAULT_GRACE_DAYS,
    RenewalLine,
    RenewalReport,
    RenewalSignals,
    RenewalSignalSource,
    RenewalTotals,
    renewals,
)

__all__ = [
    "DEFAULT_GRACE_DAYS",
    "AccountArr",
    "AccountMovement",
    "ArrSnapshot",
    "CohortReport",
    "CohortRow",
    "Ledger",
    "LedgerFilters",
    "MovementsReport",
    "Period",
    "PeriodMovements",
    "RenewalLine",
    "RenewalReport",
    "RenewalSignalSource",
    "RenewalSignals",
    "RenewalTotals",
    "RetentionGroup",
    "RetentionRates",
    "RetentionReport",
    "account_movements",
    "arr_at",
    "arr_movements",
    "cohort_retention",
    "period_movements",
    "rates_from_movements",
    "renewals",
    "retention_rates",
    "split_periods",
]
