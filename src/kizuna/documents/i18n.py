"""The documents' language: a gettext catalog per language, and number/date formats.

The catalog is ``locale/<lang>/LC_MESSAGES/messages.po`` beside this module
(English is the source language). Kept apart from the web UI's catalog so the
documents core imports no web framework; a test checks every message has a
Japanese translation.
"""

from __future__ import annotations

import gettext as _gettext
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from io import BytesIO

from babel import numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LANGUAGES = ("en", "ja")


@cache
def translations(lang: str) -> _gettext.NullTranslations:
    po_file = resources.files("kizuna.documents") / "locale" / lang / "LC_MESSAGES" / "messages.po"
    if lang not in LANGUAGES or not po_file.is_file():
        return _gettext.NullTranslations()
    with po_file.open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)


def N_(message: str) -> str:
    """Mark ``message`` for the catalog without translating it here."""
    return message


@dataclass(frozen=True)
class Lang:
    """Translate and format in one language."""

    code: str

    def _(self, message: str) -> str:
        return translations(self.code).gettext(message)

    def date(self, day: date | None) -> str:
        if day is None:
            return "—"
        if self.code == "ja":
            return f"{day.year}年{day.month}月{day.day}日"
        return day.isoformat()

    def number(self, value: float | None, digits: int = 1) -> str:
        if value is None:
            return "—"
        if float(value).is_integer():
            return numbers.format_decimal(int(value), locale=self.code)
        return numbers.format_decimal(round(float(value), digits), locale=self.code)

    def percent(self, share: float | None) -> str:
        if share is None:
            return "—"
        return f"{share * 100:.0f}%"
