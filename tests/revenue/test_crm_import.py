"""Salesforce and HubSpot exports with bad rows: reported row by row, never half-landing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from tests.revenue.conftest import Book

from kizuna.errors import ImportRejected
from kizuna.platform import Platform
from kizuna.revenue import get_opportunity, list_opportunities
from kizuna.revenue.crm import import_opportunities
from kizuna.store.models import TeamRole

DATA = Path(__file__).parent / "data"
SALESFORCE = (DATA / "salesforce_opportunities.csv").read_text(encoding="utf-8")

HUBSPOT = (DATA / "hubspot_deals.csv").read_text(encoding="utf-8")


def _setup(book: Book) -> None:
    book.member("csm1")
    from kizuna.store.models import TeamMember

    book.add(TeamMember(id="ae1", name="AE", role=TeamRole.SALES, email="ae@example.com"))
    book.account(
        "A", owner="csm1", attributes={"salesforce_id": "001A", "hubspot_company_id": "501"}
    )
    book.account(
        "B", owner="csm1", attributes={"salesforce_id": "001B", "hubspot_company_id": "502"}
    )


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_salesforce_export_with_bad_rows_lands_nothing_and_says_where(
    platform: Platform, book: Book, tmp_path: Path
) -> None:
    _setup(book)
    path = _write(tmp_path, "sf.csv", SALESFORCE)
    with pytest.raises(ImportRejected) as err:
        import_opportunities(platform, book.definition, path, crm="salesforce")
    assert [(p.row, p.field, p.message) for p in err.value.problems] == [
        (4, "AccountId", "no account has salesforce_id = '001Z'"),
        (5, "StageName", "stage 'Dreaming' is not mapped in crm.salesforce.stages"),
        (6, "Amount", "'lots' is not a number"),
        (6, "CloseDate", "'2025-13-01' is not a date; use YYYY-MM-DD or M/D/YYYY"),
        (6, "Probability", "'150' is not a percentage between 0 and 100"),
        (6, "CurrencyIsoCode", "'US' is not a 3-letter currency code"),
        (6, "Owner Email", "no team member has e-mail 'nobody@example.com'"),
        (7, "Id", "duplicate id '0061' (also row 2)"),
    ]
    assert err.value.problems[0].where == "sf.csv row 4, column AccountId"
    assert list_opportunities(platform, book.definition) == []

    report = import_opportunities(
        platform, book.definition, path, crm="salesforce", skip_invalid=True
    )
    assert (report.rows_read, report.inserted, report.rejected) == (7, 3, 4)
    rejects = (tmp_path / "sf.rejects.csv").read_text(encoding="utf-8").splitlines()
    assert len(rejects) == 5 and rejects[0].endswith(",_reject_reason")
    assert rejects[1].startswith("0063,001Z") and "no account has salesforce_id" in rejects[1]

    renewal = get_opportunity(platform, book.definition, "sf-0061")
    assert (renewal.account_id, renewal.type, renewal.stage, renewal.probability) == (
        "A",
        "renewal",
        "negotiation",
        0.8,
    )
    assert (renewal.arr_total, renewal.arr_change, renewal.owner_id, renewal.source) == (
        Decimal("12000.00"),
        Decimal("0.00"),
        "csm1",
        "crm",
    )
    upsell = get_opportunity(platform, book.definition, "sf-0062")
    assert (
        upsell.status,
        upsell.closed_on,
        upsell.owner_id,
        upsell.products,
        upsell.arr_change,
    ) == ("won", date(2025, 7, 15), "ae1", ["analytics", "sso"], Decimal("3000.50"))
    lost = get_opportunity(platform, book.definition, "sf-0067")
    assert (lost.status, lost.arr_change, lost.close_reason) == (
        "lost",
        Decimal("-500.00"),
        "moved to competitor",
    )


def test_reimport_changes_nothing_and_a_stage_move_is_history(
    platform: Platform, book: Book, tmp_path: Path
) -> None:
    _setup(book)
    good = "\n".join(SALESFORCE.splitlines()[:3]) + "\n"
    path = _write(tmp_path, "sf.csv", good)
    assert import_opportunities(platform, book.definition, path).inserted == 2
    again = import_opportunities(platform, book.definition, path)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    moved = _write(tmp_path, "sf2.csv", good.replace("Negotiation/Review", "Commit"))
    assert import_opportunities(platform, book.definition, moved).updated == 1
    history = get_opportunity(platform, book.definition, "sf-0061").history
    assert [(h.from_stage, h.to_stage) for h in history] == [
        (None, "negotiation"),
        ("negotiation", "commit"),
    ]


def test_hubspot_export_with_bad_rows(platform: Platform, book: Book, tmp_path: Path) -> None:
    _setup(book)
    path = _write(tmp_path, "deals.csv", HUBSPOT)
    with pytest.raises(ImportRejected) as err:
        import_opportunities(platform, book.definition, path, crm="hubspot")
    assert [(p.row, p.field) for p in err.value.problems] == [
        (4, "Deal Name"),
        (4, "Amount"),
        (5, "Associated Company ID"),
        (5, "Deal Type"),
    ]
    assert list_opportunities(platform, book.definition) == []
    report = import_opportunities(platform, book.definition, path, crm="hubspot", skip_invalid=True)
    assert (report.inserted, report.rejected) == (2, 2)
    views = {o.id: o for o in list_opportunities(platform, book.definition)}
    assert {k: (v.stage, v.status, v.expected_close_date) for k, v in views.items()} == {
        "hs-9001": ("commit", "open", date(2025, 8, 31)),
        "hs-9002": ("closed_won", "won", date(2025, 6, 15)),
    }


def test_a_file_that_is_not_the_export_is_refused(
    platform: Platform, book: Book, tmp_path: Path
) -> None:
    path = _write(tmp_path, "x.csv", "id,account\n1,2\n")
    with pytest.raises(ImportRejected) as err:
        import_opportunities(platform, book.definition, path, crm="hubspot")
    assert [p.field for p in err.value.problems] == [
        "Record ID",
        "Associated Company ID",
        "Deal Name",
        "Deal Stage",
        "Amount",
        "Close Date",
    ]
