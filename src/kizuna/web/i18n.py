"""Languages of the web UI: message catalogs, the user's choice, and number/date formats.

The catalogs are the gettext ``.po`` files under ``locale/<lang>/LC_MESSAGES``;
they are compiled in memory when the UI starts (Babel's ``read_po`` and
``write_mo``), so no compiled ``.mo`` file is kept in the repository.

The language of a request is the ``kizuna_lang`` cookie when the user picked
one, else the best match of the browser's ``Accept-Language`` header, else
English. Templates call ``_()`` and the ``number``/``money``/``percent``/
``date`` filters; both read the language of the request being rendered from a
context variable that :func:`use_locale` sets.
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from importlib import resources
from io import BytesIO
from types import MappingProxyType

from babel import Locale, dates, numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from kizuna.labels import Label, readable

LANGUAGES: dict[str, str] = {"en": "English", "ja": "日本語"}
DEFAULT_LANGUAGE = "en"
LANG_COOKIE = "kizuna_lang"

_current: ContextVar[str] = ContextVar("kizuna_web_lang", default=DEFAULT_LANGUAGE)


def _compile(lang: str) -> _gettext.NullTranslations:
    """The compiled catalog of ``lang`` (English is the source language: no catalog needed)."""
    po_file = resources.files("kizuna.web") / "locale" / lang / "LC_MESSAGES" / "messages.po"
    if not po_file.is_file():
        return _gettext.NullTranslations()
    with po_file.open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)


#: Every language's catalog, compiled once when the UI is imported (tens of milliseconds)
#: and never changed after: package files, not data.
CATALOGS: Mapping[str, _gettext.NullTranslations] = MappingProxyType(
    {lang: _compile(lang) for lang in LANGUAGES}
)


def translations(lang: str) -> _gettext.NullTranslations:
    """The compiled catalog of ``lang`` (an unknown language: none, so messages stay English)."""
    return CATALOGS.get(lang) or _gettext.NullTranslations()


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    """The language of a request: the user's cookie, else the browser's preference, else English."""
    if cookie in LANGUAGES:
        return cookie
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        primary = tag.split("-")[0]
        if primary in LANGUAGES:
            return primary
    return DEFAULT_LANGUAGE


@contextmanager
def use_locale(lang: str) -> Iterator[None]:
    """Render everything inside the block in ``lang``."""
    token = _current.set(lang if lang in LANGUAGES else DEFAULT_LANGUAGE)
    try:
        yield
    finally:
        _current.reset(token)


def current_language() -> str:
    return _current.get()


def gettext(message: str) -> str:
    """``message`` in the current language."""
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, n)


def _babel_locale() -> Locale:
    return Locale.parse(_current.get())


def format_number(value: float | int | Decimal | None, digits: int = 0) -> str:
    """A number with the current language's grouping; '—' for no value."""
    if value is None:
        return "—"
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return numbers.format_decimal(value, format=pattern, locale=_babel_locale())


def format_money(value: float | int | Decimal | None, currency: str = "USD") -> str:
    """An amount of ``currency`` without minor units (ARR reads better that way)."""
    if value is None:
        return "—"
    return numbers.format_currency(
        value, currency, format="¤#,##0", locale=_babel_locale(), currency_digits=False
    )


def format_percent(value: float | None, digits: int = 1) -> str:
    """A ratio (0.953) as a percentage ('95.3%'); '—' for no value."""
    if value is None:
        return "—"
    pattern = "0" + ("." + "0" * digits if digits else "") + "%"
    return numbers.format_percent(value, format=pattern, locale=_babel_locale())


def format_date(value: date | datetime | None, style: str = "medium") -> str:
    """A date in the current language ('Jun 30, 2025' / '2025/06/30'); '—' for none."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.date()
    return dates.format_date(value, format=style, locale=_babel_locale())


def format_month(value: date | None) -> str:
    """A month label ('Jun 2025' / '2025年6月')."""
    if value is None:
        return "—"
    return dates.format_skeleton("yMMM", value, locale=_babel_locale())


def N_(message: str) -> str:
    """Mark ``message`` for the catalogs without translating it here."""
    return message


#: Messages that templates translate from data (navigation, roles, bands, statuses,
#: kinds, error titles, field errors), listed so that extraction finds them.
DYNAMIC_MESSAGES = (
    N_("Portfolio"),
    N_("Accounts"),
    N_("Retention"),
    N_("Onboarding"),
    N_("Admin"),
    N_("admin"),
    N_("manager"),
    N_("csm"),
    N_("viewer"),
    N_("red"),
    N_("yellow"),
    N_("green"),
    N_("evaluator"),
    N_("final_evaluator"),
    N_("promoter"),
    N_("end_user"),
    N_("champion"),
    N_("other"),
    N_("active"),
    N_("ended"),
    N_("cancelled"),
    N_("pending"),
    N_("meeting"),
    N_("call"),
    N_("email"),
    N_("note"),
    N_("ticket"),
    N_("nps"),
    N_("csat"),
    N_("milestone"),
    N_("stage"),
    N_("done"),
    N_("done_late"),
    N_("overdue"),
    N_("open"),
    N_("vendor"),
    N_("customer"),
    N_("reason:red"),
    N_("reason:drop"),
    N_("reason:overdue"),
    N_("This month"),
    N_("This quarter"),
    N_("This year"),
    N_("metrics"),
    N_("scorecards"),
    N_("lifecycle"),
    N_("rules"),
    N_("accounts"),
    N_("contacts"),
    N_("contracts"),
    N_("tickets"),
    N_("surveys"),
    N_("activities"),
    N_("all"),
    N_("Not found"),
    N_("Permission denied"),
    N_("Invalid input"),
    N_("Internal error"),
    N_("Error"),
    N_("Conflict"),
    N_("Store not ready"),
    N_("Import rejected"),
    N_("Unknown sort order."),
    N_("The page must be a whole number from 1."),
    N_("Unknown health band."),
    N_("Unknown period."),
    N_("Enter your e-mail address."),
    N_("Enter your password."),
    N_("Wrong e-mail or password."),
    N_("Too many failed logins. Try again in a few minutes."),
    N_("Choose a table."),
    N_("Choose a non-empty CSV or JSON Lines file."),
    N_("The file is larger than 50 MB: use the command line."),
    N_("Use a .csv or .jsonl file."),
    N_("Choose a user."),
    N_("Give the token a name."),
    N_("Use at most 200 characters."),
    N_("No such user."),
    N_("Give the source a name."),
    N_("A source with this name already exists."),
    N_("Onboarding"),
    N_("Adoption"),
    N_("Value realised"),
    N_("Renewal"),
    N_("Expansion"),
    N_("At risk"),
    N_("Churned"),
    N_("New"),
    N_("Contraction"),
    N_("Churn"),
    N_("Reactivation"),
    N_("Kick-off held"),
    N_("Success metrics and baselines agreed"),
    N_("Data connected"),
    N_("First users active"),
    N_("First value reached"),
    N_("Red health"),
    N_("Health dropped"),
    N_("Onboarding overdue"),
    N_("Finished on time"),
    N_("Finished late"),
    N_("In progress"),
    N_("Overdue"),
    N_("Health score"),
    N_("Accounts"),
    N_("Days"),
    N_("Cohort (month of contract start)"),
    N_("use a date like 2025-06-30"),
    N_("the date is in the future"),
    N_("no such onboarding milestone"),
)


def format_label(value: Label | str | None) -> str:
    """A definition's name in the current language (:class:`kizuna.labels.Label`).

    A plain string is data (a person's or a customer's own name) and shown as it is.
    """
    if value is None:
        return "—"
    if isinstance(value, Label):
        return value.text(current_language())
    return value


def format_term(value: object) -> str:
    """A status, role or kind identifier (``end_user``) in words of the current language.

    The catalog's translation when there is one, else the identifier made readable
    ("End user"): a page never shows a raw identifier.
    """
    if value is None or value == "":
        return "—"
    text = str(getattr(value, "value", value))
    translated = gettext(text)
    return translated if translated != text else readable(text)


def format_segment(value: str | None) -> str:
    """A segment: the shipped ones translated, a customer's own shown as it is."""
    if not value:
        return "—"
    return gettext(value)


def format_measure(value: float | None, unit: str | None) -> str:
    """A measured value in its unit: a share as a percentage (0.38 → '38%'), else a number."""
    if value is None:
        return "—"
    if unit in SHARE_UNITS:
        return format_percent(value, 0)
    return format_number(value, 0 if float(value).is_integer() or abs(value) >= 100 else 1)


#: Units whose values are fractions of one, shown as percentages.
SHARE_UNITS = frozenset({"share", "ratio", "rate", "fraction"})
