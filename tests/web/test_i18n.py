"""The catalogs cover every message, and numbers and dates follow the language."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from kizuna.web import i18n
from kizuna.web.catalogs import extract


def test_every_message_has_a_japanese_translation() -> None:
    ja = i18n.translations("ja")
    untranslated = [m.id for m in extract() if m.id and ja.gettext(str(m.id)) == m.id]
    # Only messages that are the same in both languages may stay as they are.
    assert sorted(untranslated) == ["ARR", "GRR", "NRR"]


def test_language_negotiation() -> None:
    assert i18n.negotiate(None, "ja-JP,ja;q=0.9,en;q=0.8") == "ja"
    assert i18n.negotiate(None, "fr-FR, en-GB;q=0.8") == "en"
    assert i18n.negotiate(None, "fr") == "en"
    assert i18n.negotiate("en", "ja") == "en"
    assert i18n.negotiate("xx", None) == "en"


def test_formats_follow_the_language() -> None:
    with i18n.use_locale("en"):
        got_en = (
            i18n.format_money(Decimal("1234567.89"), "USD"),
            i18n.format_percent(0.9534),
            i18n.format_date(date(2025, 6, 30)),
            i18n.format_number(12345.678, 1),
            i18n.gettext("Renewals due"),
        )
    with i18n.use_locale("ja"):
        got_ja = (
            i18n.format_money(Decimal("1234567.89"), "JPY"),
            i18n.format_percent(0.9534),
            i18n.format_date(date(2025, 6, 30)),
            i18n.format_month(date(2025, 6, 1)),
            i18n.gettext("Renewals due"),
        )
    assert got_en == ("$1,234,568", "95.3%", "Jun 30, 2025", "12,345.7", "Renewals due")
    assert got_ja == ("￥1,234,568", "95.3%", "2025/06/30", "2025年6月", "更新予定")
