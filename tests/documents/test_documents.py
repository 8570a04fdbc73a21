"""Each document × language × format, read back as text: headings, account, KPIs and values.

Values are the hand-built ones of :mod:`tests.documents.seed` as of 2025-06-30.
PDFs are read with pypdf and pdftotext, decks with python-pptx; a page of the
Japanese EBR is rasterised with pdftoppm into test-artifacts/.
"""

from __future__ import annotations

import shutil
import subprocess
from io import BytesIO
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pptx import Presentation
from pypdf import PdfReader
from tests.documents.seed import AS_OF, RIVAL_NAME, SECRET_NOTE, SHARED_ACTION, seed

from kizuna.actions.ctas import open_cta
from kizuna.documents import build_document, latest_documents, render
from kizuna.documents.charts import MissingCjkFont, font_family
from kizuna.errors import InvalidInput
from kizuna.platform import Platform
from kizuna.risk.scores import SCORES_SCHEMA, scores_path

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

HEADINGS = {
    ("plan", "en"): [
        "Goal (KGI)",
        "Project structure",
        "Purpose and problems",
        "Improvement roadmap",
        "KPIs",
        "Milestones",
        "Meetings",
    ],
    ("plan", "ja"): [
        "目的（KGI）",
        "プロジェクト体制",
        "目的と課題",
        "改善ロードマップ",
        "KPI一覧",
        "マイルストーン",
        "定例会",
    ],
    ("meeting", "en"): [
        "KPIs since the previous meeting",
        "Milestones done and due",
        "Usage movement",
        "Agreed actions",
        "Next meeting",
    ],
    ("meeting", "ja"): [
        "前回定例会からのKPI推移",
        "完了・期日到来のマイルストーン",
        "利用状況の推移",
        "合意したアクション",
        "次回定例会",
    ],
    ("ebr", "en"): [
        "Value delivered against the agreed KPIs",
        "Adoption",
        "Support summary",
        "Contract and renewal",
        "Plan for the next period",
    ],
    ("ebr", "ja"): [
        "合意したKPIに対する成果",
        "活用状況",
        "サポート概況",
        "ご契約と更新",
        "次期の計画",
    ],
}
#: Each KPI with its baseline, value as of 2025-06-30 and target (units from the plan).
KPI_VALUES = [
    ("Support tickets per month", "100 tickets", "70 tickets", "50 tickets"),
    ("Weekly logins", "10 logins", "80 logins", "110 logins"),
    ("Hours saved", "0 hours", "4 hours", "10 hours"),
]
CASES = [
    (k, lang, f)
    for k in ("plan", "meeting", "ebr")
    for lang in ("en", "ja")
    for f in ("html", "pdf", "pptx")
]


def squash(text: str) -> str:
    return " ".join(text.split())


def pdf_text(content: bytes, tmp_path: Path) -> str:
    reader = PdfReader(BytesIO(content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    path = tmp_path / "doc.pdf"
    path.write_bytes(content)
    poppler = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    return text + "\n" + poppler


def pptx_text(content: bytes) -> str:
    parts = []
    for slide in Presentation(BytesIO(content)).slides:
        for shape in slide.shapes:
            if shape.has_text_frame:
                parts.append(shape.text_frame.text)
            if shape.has_table:
                parts.extend(c.text for row in shape.table.rows for c in row.cells)
    return "\n".join(parts)


def embedded_fonts(content: bytes) -> set[str]:
    names = set()
    for page in PdfReader(BytesIO(content)).pages:
        fonts = page["/Resources"].get_object().get("/Font", {})
        for ref in fonts.values():
            font = ref.get_object()
            names.add(str(font["/BaseFont"]))
            for desc in font.get("/DescendantFonts", []):
                names.add(str(desc.get_object()["/BaseFont"]))
    return names


def pdf_images(content: bytes) -> int:
    return sum(len(page.images) for page in PdfReader(BytesIO(content)).pages)


@pytest.mark.parametrize(("kind", "lang", "fmt"), CASES)
def test_document_text(
    sqlite_platform: Platform, tmp_path: Path, kind: str, lang: str, fmt: str
) -> None:
    seed(sqlite_platform, lang)
    out = render(sqlite_platform, kind, "acme", fmt=fmt, as_of=AS_OF)
    assert out.language == lang  # the plan's language by default
    if fmt == "pdf":
        text = pdf_text(out.content, tmp_path)
        assert pdf_images(out.content) >= 3  # a chart per KPI at least
        fonts = embedded_fonts(out.content)
        if lang == "ja":
            assert any("CJK" in f for f in fonts), fonts
        if kind == "ebr" and lang == "ja":
            ARTIFACTS.mkdir(exist_ok=True)
            pdf = tmp_path / "ebr-ja.pdf"
            pdf.write_bytes(out.content)
            subprocess.run(
                [
                    "pdftoppm",
                    "-png",
                    "-r",
                    "60",
                    "-f",
                    "1",
                    "-l",
                    "1",
                    str(pdf),
                    str(ARTIFACTS / "ebr-ja-page"),
                ],
                check=True,
            )
            assert list(ARTIFACTS.glob("ebr-ja-page*.png"))
    elif fmt == "pptx":
        text = pptx_text(out.content)
        pictures = sum(
            1
            for s in Presentation(BytesIO(out.content)).slides
            for sh in s.shapes
            if sh.shape_type == 13
        )
        assert pictures >= 3
    else:
        text = out.content.decode()
        assert text.count("data:image/png;base64,") >= 3
    flat = squash(text)
    for heading in HEADINGS[(kind, lang)]:
        assert heading in flat, heading
    assert "Acme Corp" in flat
    for name, *values in KPI_VALUES:
        assert name in flat
        for value in values:
            assert value in flat, (name, value)
    # the customer edition: no internal note, no other account, no health section
    assert SECRET_NOTE not in flat and RIVAL_NAME not in flat
    assert "Health" not in flat and "ヘルス" not in flat
    kept = latest_documents(sqlite_platform, "acme")
    assert [(d.kind, d.fmt, d.language) for d in kept] == [(kind, fmt, lang)]
    assert (sqlite_platform.settings.home / "documents" / "acme" / out.filename).is_file()


def test_meeting_report_figures(platform: Platform) -> None:
    seed(platform)
    doc = build_document(platform, "meeting", "acme", AS_OF)
    sections = {s.key: s for s in doc.sections}
    assert doc.subtitle == "Meeting of 2025-06-30 · since 2025-05-30"
    # logins: 30 on the previous meeting (value of 2025-03-31), 80 now: +50
    assert ["Weekly logins", "30 logins", "80 logins", "+50", "110 logins", "Off track"] in (
        sections["kpis"].tables[0].rows
    )
    assert sections["milestones"].bullets == [
        "Done: Reports live (2025-06-12)",
        "Due: API in production (2025-07-20)",
    ]
    assert sections["usage"].tables[0].rows[0] == ["Active users (28 days)", "20", "35", "+15"]
    assert sections["actions"].bullets == [f"2025-06-10 — {SHARED_ACTION}"]
    assert sections["next"].bullets == ["2025-07-31 — Monthly review (Monthly)"]
    assert SECRET_NOTE not in doc.text()
    internal = build_document(platform, "meeting", "acme", AS_OF, internal=True)
    assert SECRET_NOTE in internal.text()
    assert [s.heading for s in internal.sections if s.internal] == [
        "Health (internal)",
        "Calls to action in the period (internal)",
        "Internal notes and warnings",
    ]


def test_ebr_figures(platform: Platform) -> None:
    seed(platform)
    doc = build_document(platform, "ebr", "acme", AS_OF, lang="ja")
    sections = {s.key: s for s in doc.sections}
    assert doc.subtitle == "対象期間 2025年4月1日 – 2025年6月30日"
    assert sections["support"].tables[0].rows == [
        ["新規問い合わせ件数", "3"],
        ["解決済み件数", "2"],
        ["対応中の件数", "1"],
        ["優先度 高・緊急", "1"],
        ["解決までの時間（中央値、時間）", "29"],
        ["平均満足度（CSAT）", "4"],
    ]
    assert sections["adoption"].tables[0].rows == [
        ["アクティブユーザー数（28日間）", "20", "35", "+15"],
        ["利用機能数（28日間）", "3", "5", "+2"],
        ["ライセンス利用率（28日間）", "40%", "70%", "+30%"],
    ]
    assert sections["contract"].bullets == [
        "ご契約製品: Kizuna Pro",
        "年間契約額: 120,000 USD",
        "更新日: 2025年12月31日",
        "ライセンス数: 50",
    ]
    assert "マイルストーン: API in production（2025年7月20日）" in sections["next_period"].bullets


def test_bad_requests_name_the_field(sqlite_platform: Platform) -> None:
    seed(sqlite_platform)
    with pytest.raises(InvalidInput) as err:
        render(sqlite_platform, "plan", "acme", fmt="docx", lang="fr")
    assert {p.field for p in err.value.problems} == {"format", "lang"}


def test_missing_cjk_font_is_said(monkeypatch: pytest.MonkeyPatch) -> None:
    from kizuna.documents import charts

    monkeypatch.setattr(charts, "cjk_font", lambda: None)
    with pytest.raises(MissingCjkFont, match="fonts-noto-cjk"):
        font_family("ja")
    assert font_family("en") == "DejaVu Sans"


def test_templates_override(sqlite_platform: Platform, tmp_path: Path) -> None:
    from kizuna.documents.render import package_templates

    folder = tmp_path / "tpl"
    shutil.copytree(package_templates(), folder)
    page = (folder / "document.html.j2").read_text()
    (folder / "document.html.j2").write_text(page.replace("<body", "<body data-own='yes'"))
    settings = sqlite_platform.settings.model_copy(
        update={
            "documents_templates_dir": folder,
            "vendor_name": "Tsunagu KK",
            "vendor_color": "#aa3300",
        }
    )
    platform = Platform(settings=settings, store=sqlite_platform.store, clock=sqlite_platform.clock)
    seed(platform)
    html = render(platform, "ebr", "acme", fmt="html", as_of=AS_OF).content.decode()
    assert "data-own='yes'" in html and "Tsunagu KK" in html and "#aa3300" in html


def test_internal_editions_add_risk_and_the_periods_calls_to_action(platform: Platform) -> None:
    seed(platform)
    # a stored churn score (as `kizuna risk score` writes it) and a CTA opened by hand
    path = scores_path(platform.settings, AS_OF)
    path.parent.mkdir(parents=True, exist_ok=True)
    driver = {"feature": "health_score", "contribution": 0.8, "value": 31.0, "category": None,
              "level": "low"}  # fmt: skip
    row = {"account_id": "acme", "as_of": AS_OF, "model_version": "v1", "probability": 0.42,
           "band": "high", "contraction_probability": 0.1, "arr": 1000.0, "arr_up": 1000.0,
           "renewal_date": AS_OF, "days_to_renewal": 0, "expected_renewal_arr": 580.0,
           "health_score": 31.0, "drivers": [driver]}  # fmt: skip
    pq.write_table(pa.Table.from_pylist([row], schema=SCORES_SCHEMA), path)
    open_cta(platform, "acme", type="risk", title="Call the evaluator", actor="carl")
    ebr = build_document(platform, "ebr", "acme", AS_OF, internal=True)
    sections = {s.key: s for s in ebr.sections}
    assert "42" in sections["risk"].paragraphs[0] and sections["risk"].internal
    assert sections["risk"].bullets  # the drivers in words
    assert sections["ctas"].bullets == ["Call the evaluator — Open, due 2025-07-07"]
    meeting = build_document(platform, "meeting", "acme", AS_OF, internal=True)
    assert "Call the evaluator" in meeting.text()
    # the customer editions show neither
    for kind in ("ebr", "meeting"):
        text = build_document(platform, kind, "acme", AS_OF).text()
        assert "Call the evaluator" not in text and "Churn" not in text
