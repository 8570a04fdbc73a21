"""Opportunities from Salesforce and HubSpot CSV exports, with the import rules of every table.

One documented column mapping per CRM (:data:`MAPPINGS`); their account ids are
matched through an account attribute (``crm.<name>.account_attribute`` in the
revenue definition, e.g. ``attributes.salesforce_id``), their stage and deal-type
names through ``crm.<name>.stages`` / ``types``. Columns the mapping does not
use are ignored (CRM exports carry dozens).

As with every import: the whole file is validated first and every problem is
reported with its row and column; with any problem nothing lands, unless
``skip_invalid``, which imports the good rows and writes the bad ones beside the
file as ``<name>.rejects.csv``. Rows upsert on ``<crm>-<their id>``; a row equal
to what is stored is left alone; a stage change is added to the history.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa

from kizuna.dataio.importer import ImportReport
from kizuna.dataio.readers import (
    ByteCounter,
    RejectWriter,
    detect_format,
    open_records,
    reject_path,
)
from kizuna.errors import ImportRejected, InvalidInput, NotFound, Problem
from kizuna.platform import Platform
from kizuna.revenue.definition import RevenueDefinition
from kizuna.revenue.opportunities import OwnerResolver
from kizuna.store.models import Account, TeamMember
from kizuna.store.revenue_models import (
    Opportunity,
    OpportunitySource,
    OpportunityStageChange,
    OpportunityStatus,
    OpportunityType,
)

CrmName = Literal["salesforce", "hubspot"]


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    """Which export column holds each opportunity field (``None``: the CRM has none)."""

    id: str
    account: str
    name: str
    stage: str
    amount: str
    close_date: str
    type: str | None
    probability: str | None  # percent, 0–100
    currency: str | None
    owner_email: str | None
    products: str | None  # names separated by ';'
    loss_reason: str | None


#: The documented mappings (docs/revenue.md): a Salesforce opportunity report or
#: Data Loader export, and a HubSpot deals export.
MAPPINGS: dict[CrmName, ColumnMapping] = {
    "salesforce": ColumnMapping(
        id="Id",
        account="AccountId",
        name="Name",
        stage="StageName",
        amount="Amount",
        close_date="CloseDate",
        type="Type",
        probability="Probability",
        currency="CurrencyIsoCode",
        owner_email="Owner Email",
        products="Products",
        loss_reason="Loss Reason",
    ),
    "hubspot": ColumnMapping(
        id="Record ID",
        account="Associated Company ID",
        name="Deal Name",
        stage="Deal Stage",
        amount="Amount",
        close_date="Close Date",
        type="Deal Type",
        probability="Deal Probability",
        currency="Currency",
        owner_email="Deal Owner Email",
        products="Products",
        loss_reason="Closed Lost Reason",
    ),
}
_PREFIX: dict[CrmName, str] = {"salesforce": "sf", "hubspot": "hs"}
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_FIELDS = (
    "account_id", "name", "type", "products", "arr_change", "arr_total", "currency", "stage",
    "probability", "expected_close_date", "owner_id", "status", "closed_on", "close_reason",
)  # fmt: skip


def _parse_date(text: str) -> date:
    """``YYYY-MM-DD`` (optionally with a time, as HubSpot writes it) or ``M/D/YYYY`` (US
    Salesforce reports)."""
    text = text.strip()
    m = _US_DATE.match(text)
    if m:
        return date(int(m.group(3)), int(m.group(1)), int(m.group(2)))
    return (
        datetime.fromisoformat(text.replace(" ", "T")).date()
        if len(text) > 10
        else date.fromisoformat(text)
    )


def _lookup(table: dict[str, Any], value: str) -> Any:
    if value in table:
        return table[value]
    folded = {k.casefold(): v for k, v in table.items()}
    return folded.get(value.casefold())


class _Rows:
    """Validates export rows into opportunity values, collecting every problem."""

    def __init__(
        self, platform: Platform, definition: RevenueDefinition, crm: CrmName, name: str
    ) -> None:
        mapping = definition.crm.get(crm)
        if mapping is None:
            raise InvalidInput(
                f"the revenue definition has no crm.{crm} mapping",
                [
                    Problem(
                        "add crm.{crm} with account_attribute and stages", where=definition.source
                    )
                ],
            )
        self.crm, self.mapping, self.columns = crm, mapping, MAPPINGS[crm]
        self.definition, self.file = definition, name
        self.reporting = platform.settings.reporting_currency
        attr = mapping.account_attribute
        with platform.store.session() as s:
            accounts = s.execute(sa.select(Account.id, Account.attributes, Account.owner_id)).all()
            emails = s.execute(sa.select(TeamMember.email, TeamMember.id)).all()
        self.accounts: dict[str, tuple[str, str | None]] = {}
        for account_id, attributes, owner in accounts:
            value = (attributes or {}).get(attr)
            if value is not None:
                self.accounts[str(value)] = (account_id, owner)
        self.emails = {e.casefold(): i for e, i in emails if e}
        self.owners = OwnerResolver(platform, definition)
        self.seen: dict[str, int] = {}

    def header_problems(self, header: list[str] | None) -> list[Problem]:
        if header is None:
            return []
        c = self.columns
        required = [c.id, c.account, c.name, c.stage, c.amount, c.close_date]
        missing = [col for col in required if col not in header]
        return [
            Problem(
                f"missing required column {col!r} of the {self.crm} mapping",
                where=f"{self.file} row 1",
                field=col,
            )
            for col in missing
        ]

    def parse(self, line: int, data: dict[str, Any]) -> tuple[dict[str, Any] | None, list[Problem]]:
        c, problems = self.columns, []

        def cell(column: str | None) -> str | None:
            if column is None:
                return None
            value = data.get(column)
            if value is None:
                return None
            text = str(value).strip()
            return text or None

        def bad(column: str | None, message: str) -> None:
            where = f"{self.file} row {line}" + (f", column {column}" if column else "")
            problems.append(Problem(message, where=where, field=column, row=line))

        for column in (c.id, c.account, c.name, c.stage, c.amount, c.close_date):
            if cell(column) is None:
                bad(column, "required")
        their_id = cell(c.id)
        if their_id is not None:
            if their_id in self.seen:
                bad(c.id, f"duplicate id {their_id!r} (also row {self.seen[their_id]})")
            else:
                self.seen[their_id] = line
            if len(their_id) > 60:
                bad(c.id, "longer than 60 characters")
        account = None
        if (acc := cell(c.account)) is not None:
            account = self.accounts.get(acc)
            if account is None:
                bad(c.account, f"no account has {self.mapping.account_attribute} = {acc!r}")
        stage = None
        if (their_stage := cell(c.stage)) is not None:
            stage = _lookup(self.mapping.stages, their_stage)
            if stage is None:
                bad(c.stage, f"stage {their_stage!r} is not mapped in crm.{self.crm}.stages")
        kind = OpportunityType.UPSELL
        if (their_type := cell(c.type)) is not None:
            found = _lookup(self.mapping.types, their_type)
            if found is None:
                bad(c.type, f"deal type {their_type!r} is not mapped in crm.{self.crm}.types")
            else:
                kind = OpportunityType(found)
        amount = None
        if (text := cell(c.amount)) is not None:
            try:
                amount = Decimal(text.replace(",", ""))
                if not amount.is_finite() or abs(amount) >= Decimal("1e15"):
                    raise InvalidOperation
            except InvalidOperation:
                bad(c.amount, f"{text!r} is not a number")
                amount = None
        close = None
        if (text := cell(c.close_date)) is not None:
            try:
                close = _parse_date(text)
            except ValueError:
                bad(c.close_date, f"{text!r} is not a date; use YYYY-MM-DD or M/D/YYYY")
        probability = None
        if (text := cell(c.probability)) is not None:
            try:
                probability = float(text.rstrip("%"))
                if not 0 <= probability <= 100:
                    raise ValueError
                probability /= 100
            except ValueError:
                bad(c.probability, f"{text!r} is not a percentage between 0 and 100")
        currency = (cell(c.currency) or self.reporting).upper()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            bad(c.currency, f"{currency!r} is not a 3-letter currency code")
        owner = None
        if (email := cell(c.owner_email)) is not None:
            owner = self.emails.get(email.casefold())
            if owner is None:
                bad(c.owner_email, f"no team member has e-mail {email!r}")
        name = cell(c.name)
        if name is not None and len(name) > 300:
            bad(c.name, "longer than 300 characters")
        if problems or account is None or stage is None or amount is None or close is None:
            return None, problems
        products = [p.strip() for p in (cell(c.products) or "").split(";") if p.strip()]
        st = self.definition.stage(stage)
        outcome = st.outcome if st else "open"
        if kind == OpportunityType.DOWNSELL:
            amount = -abs(amount)
        renewal = kind == OpportunityType.RENEWAL
        return {
            "id": f"{_PREFIX[self.crm]}-{their_id}",
            "external_id": their_id,
            "account_id": account[0],
            "name": name,
            "type": kind,
            "products": products,
            "arr_change": Decimal(0) if renewal else amount,
            "arr_total": amount if renewal else None,
            "currency": currency,
            "stage": stage,
            "probability": probability,
            "expected_close_date": close,
            "owner_id": owner or self.owners.owner(kind, products, account[0], account[1]),
            "status": OpportunityStatus(outcome),
            "closed_on": close if outcome != "open" else None,
            "close_reason": cell(c.loss_reason) if outcome == "lost" else None,
        }, problems


def import_opportunities(
    platform: Platform,
    definition: RevenueDefinition,
    path: Path,
    *,
    crm: CrmName = "salesforce",
    skip_invalid: bool = False,
    fmt: str | None = None,
) -> ImportReport:
    """Import a CRM export of opportunities; see the module docstring for the rules."""
    if crm not in MAPPINGS:
        raise InvalidInput(
            f"unknown mapping {crm!r}; choose salesforce or hubspot",
            [Problem(f"unknown mapping {crm!r}", field="mapping")],
        )
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"no such file: {path}")
    fmt = detect_format(path, fmt)
    rows = _Rows(platform, definition, crm, path.name)
    report = ImportReport(table="opportunities", source=str(path), format=fmt)
    records = open_records(path, fmt, ByteCounter())
    good: list[dict[str, Any]] = []
    bad: list[tuple[Any, list[Problem]]] = []
    try:
        header_problems = rows.header_problems(records.header)
        if header_problems:
            raise ImportRejected(
                f"{path.name}: not a {crm} export; nothing was imported", header_problems
            )
        for record in records:
            report.rows_read += 1
            if record.data is None:
                p = Problem(
                    record.problem or "unreadable",
                    where=f"{path.name} row {record.line}",
                    row=record.line,
                )
                bad.append((record.raw, [p]))
                continue
            values, problems = rows.parse(record.line, record.data)
            if problems or values is None:
                bad.append((record.raw, problems))
            else:
                good.append(values)
    finally:
        records.close()
    problems = [p for _, ps in bad for p in ps]
    if bad and not skip_invalid:
        raise ImportRejected(
            f"{path.name}: {len(problems)} problem{'s' if len(problems) != 1 else ''} in "
            f"{len(bad)} row{'s' if len(bad) != 1 else ''}; nothing was imported "
            "(fix them, or skip invalid rows with --skip-invalid)",
            problems,
        )
    _write(platform, good, report)
    if bad:
        final = reject_path(path, fmt)
        writer = RejectWriter(final.with_suffix(".tmp"), fmt, records.header)
        try:
            for raw, ps in bad:
                writer.write(
                    raw,
                    "; ".join(p.message if not p.field else f"{p.field}: {p.message}" for p in ps),
                )
        finally:
            writer.close()
        os.replace(writer.path, final)
        report.reject_file = final
        report.rejected = len(bad)
        report.problems = problems
    return report


def _write(platform: Platform, rows: list[dict[str, Any]], report: ImportReport) -> None:
    """Upsert in one transaction; record stage changes in the history."""
    today = platform.today()
    with platform.store.session() as s:
        for values in rows:
            opp = s.get(Opportunity, values["id"])
            if opp is None:
                s.add(Opportunity(**values, source=OpportunitySource.CRM, attributes={}))
                s.add(
                    OpportunityStageChange(
                        opportunity_id=values["id"],
                        from_stage=None,
                        to_stage=values["stage"],
                        changed_on=values["closed_on"] or today,
                        changed_by=f"crm:{values['id'][:2]}",
                    )
                )
                report.inserted += 1
                continue
            changed = {k: values[k] for k in _FIELDS if getattr(opp, k) != values[k]}
            if not changed:
                report.unchanged += 1
                continue
            if "stage" in changed:
                s.add(
                    OpportunityStageChange(
                        opportunity_id=opp.id,
                        from_stage=opp.stage,
                        to_stage=values["stage"],
                        changed_on=values["closed_on"] or today,
                        changed_by=f"crm:{values['id'][:2]}",
                    )
                )
            for k, v in changed.items():
                setattr(opp, k, v)
            report.updated += 1
