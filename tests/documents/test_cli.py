"""``kizuna report`` and ``kizuna share`` as a user runs them (SQLite home)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pypdf import PdfReader
from tests.documents.seed import seed

from kizuna.cli import run
from kizuna.clock import FixedClock
from kizuna.platform import Platform
from kizuna.settings import Settings


@pytest.fixture
def home(tmp_path: Path, clock: FixedClock, capsys: pytest.CaptureFixture[str]) -> str:
    home = tmp_path / "data"
    assert run(["--home", str(home), "init"]) == 0
    platform = Platform.from_settings(Settings(home=home), clock=clock)
    seed(platform)
    platform.close()
    capsys.readouterr()
    return str(home)


def test_reports_and_a_batch(home: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out" / "acme-ebr.pptx"
    args = ["report", "ebr", "acme", "--as-of", "2025-06-30", "--format", "pptx", "--lang", "ja"]
    assert run(["--home", home, *args, "--out", str(out)]) == 0
    assert out.read_bytes().startswith(b"PK")
    assert (
        run(
            [
                "--home",
                home,
                "report",
                "meeting",
                "acme",
                "--format",
                "pdf",
                "--as-of",
                "2025-06-30",
                "--internal",
                "--out",
                str(tmp_path / "m.pdf"),
            ]
        )
        == 0
    )
    text = "".join(p.extract_text() for p in PdfReader(tmp_path / "m.pdf").pages)
    assert "Internal edition" in text
    capsys.readouterr()
    assert (
        run(
            [
                "--home",
                home,
                "report",
                "plan",
                "acme",
                "--format",
                "docx",
                "--out",
                str(tmp_path / "x.docx"),
            ]
        )
        == 1
    )
    assert "a plan document comes as html, pdf, pptx, not 'docx'" in capsys.readouterr().err
    assert (
        run(
            [
                "--home",
                home,
                "report",
                "ebr",
                "acme",
                "--as-of",
                "2025-13-01",
                "--out",
                str(tmp_path / "x.pdf"),
            ]
        )
        == 1
    )

    # the batch: every enterprise account with an active plan (acme; rival has none)
    batch = tmp_path / "ebrs"
    assert (
        run(
            [
                "--home",
                home,
                "report",
                "ebr",
                "--all",
                "--segment",
                "enterprise",
                "--as-of",
                "2025-06-30",
                "--out",
                str(batch),
            ]
        )
        == 0
    )
    assert [p.name for p in batch.iterdir()] == ["acme-ebr-2025-06-30-en-customer.pdf"]
    capsys.readouterr()


def test_share_create_list_revoke(home: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        run(
            ["--home", home, "share", "create", "acme", "--days", "5", "--contact", "eve", "--json"]
        )
        == 0
    )
    created = json.loads(capsys.readouterr().out)
    assert created["url"].startswith("http://127.0.0.1:8000/share/")
    assert run(["--home", home, "share", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(s["id"], s["contact_id"], s["active"]) for s in listed] == [
        (created["id"], "eve", True)
    ]
    assert run(["--home", home, "share", "revoke", created["id"]]) == 0
    capsys.readouterr()
    assert run(["--home", home, "share", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["revoked_at"] is not None
    assert run(["--home", home, "share", "create", "acme", "--days", "0"]) == 1


def test_one_failing_account_never_stops_the_batch(
    sqlite_platform: Platform, tmp_path: Path
) -> None:
    from datetime import date

    from kizuna.documents.batch import batch_accounts, render_ebrs

    seed(sqlite_platform)
    day = date(2025, 6, 30)
    assert batch_accounts(sqlite_platform, day) == ["acme"]
    assert batch_accounts(sqlite_platform, day, owner="nobody") == []
    seen: list[tuple[str, bool]] = []
    result = render_ebrs(
        sqlite_platform,
        day,
        tmp_path,
        accounts=["rival", "acme"],
        fmt="html",
        progress=lambda a, ok: seen.append((a, ok)),
    )
    assert seen == [("rival", False), ("acme", True)]
    assert result.failed == [("rival", "NotFound: account rival has no success plan")]
    assert [p.name for p in result.written] == ["acme-ebr-2025-06-30-en-customer.html"]


def test_agreed_actions_come_from_the_activities_import(
    home: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "activities.csv"
    csv.write_text(
        "id,account_id,kind,activity_date,text,shared_with_customer\n"
        "n1,acme,note,2025-06-15,Train the new team leads,true\n"
        "n2,acme,note,2025-06-16,Price increase worries us,false\n"
        "n3,acme,note,2025-06-17,Older file without the flag,\n",
        encoding="utf-8",
    )
    assert run(["--home", home, "import", "activities", str(csv)]) == 0
    out = tmp_path / "m.html"
    assert (
        run(
            [
                "--home",
                home,
                "report",
                "meeting",
                "acme",
                "--as-of",
                "2025-06-30",
                "--format",
                "html",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    html = out.read_text(encoding="utf-8")
    assert "2025-06-15 — Train the new team leads" in html
    assert "Price increase" not in html and "Older file" not in html
