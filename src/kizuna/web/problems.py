"""Problems with an input, worded in the page's language.

The core reports what is wrong as a :class:`kizuna.errors.Problem` with a
stable ``code`` and the values its message names (``params``); the English
``message`` is the command line's wording. Pages word a problem through the
catalogs from its code (:func:`problem_text`), so an import on a Japanese page
lists its bad rows in Japanese. A problem without a known code keeps its
message (and a test lists every code the import can produce).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kizuna.errors import Problem
from kizuna.web.i18n import N_, gettext

#: Each problem code's words (an English msgid with the problem's ``params``).
PROBLEM_TEXT: Mapping[str, str] = {
    # a value of a row (kizuna.dataio.validate.error_code)
    "required": N_("required value missing"),
    "not_allowed": N_("'%(value)s' is not one of %(expected)s"),
    "too_small": N_("must be at least %(bound)s, got %(value)s"),
    "not_greater": N_("must be greater than %(bound)s, got %(value)s"),
    "too_large": N_("must be at most %(bound)s, got %(value)s"),
    "not_whole": N_("'%(value)s' is not a whole number"),
    "not_number": N_("'%(value)s' is not a number"),
    "too_many_digits": N_("%(value)s has too many digits"),
    "too_many_decimals": N_("%(value)s has more than %(places)s decimal places"),
    "not_boolean": N_("'%(value)s' is not true or false"),
    "not_text": N_("'%(value)s' is not text"),
    "too_long": N_("is longer than %(max)s characters"),
    # the import's own value checks (kizuna.dataio.schemas)
    "date_format": N_("'%(value)s' is not a date (YYYY-MM-DD)"),
    "timestamp_format": N_(
        "'%(value)s' is not an ISO 8601 timestamp (e.g. 2025-06-30T09:15:00+09:00)"
    ),
    "json_object": N_("must be a JSON object, e.g. %(example)s"),
    "json_object.error": N_("is not valid JSON (%(error)s)"),
    "currency_code": N_("'%(value)s' is not a 3-letter currency code (ISO 4217, e.g. USD)"),
    "email": N_("'%(value)s' is not an e-mail address"),
    "id_characters": N_("an id must not contain control characters (such as NUL or newline)"),
    "nul_character": N_("text must not contain NUL characters"),
    "row_check.end_date": N_("end_date %(end)s is before start_date %(start)s"),
    "row_check.closed_at": N_("closed_at %(closed)s is before opened_at %(opened)s"),
    "row_check.score": N_("%(kind)s score must be between %(low)s and %(high)s, got %(score)s"),
    # the file and the rows together (kizuna.dataio.validate)
    "empty_file": N_("the file is empty; expected a header row"),
    "unreadable_record": N_("unreadable record: %(detail)s"),
    "unknown_column": N_("unknown column '%(column)s'; the %(table)s columns are %(columns)s"),
    "duplicate_column": N_("column '%(column)s' appears %(count)s times"),
    "missing_column": N_("required column '%(column)s' is missing"),
    "also_given": N_("'%(value)s' is also given for %(other)s (row %(first_row)s)"),
    "duplicate_key": N_("duplicate id '%(key)s' (first at row %(first_row)s)"),
    "unknown_reference": N_("no %(noun)s '%(value)s' in the store"),
    "unknown_reference_here": N_("no %(noun)s '%(value)s' in the store or in this file"),
    "reference_cycle": N_("references form a cycle: %(path)s"),
    "taken": N_("'%(value)s' already belongs to '%(owner)s' in the store"),
    "refers_to_rejected": N_("refers to '%(target)s', rejected at row %(rejected_row)s"),
    # reading the file (kizuna.dataio.readers, kizuna.dataio.importer)
    "not_utf8": N_(
        "byte %(byte)s at position %(position)s is not UTF-8; "
        "save the file as UTF-8 (with or without BOM)"
    ),
    "csv_syntax": N_("CSV syntax error: %(detail)s"),
    "unknown_table": N_("unknown table '%(table)s'"),
}

#: What a row of each table is called in a problem ("no account 'A9' in the store").
TABLE_NOUNS: Mapping[str, str] = {
    "team": N_("team member"),
    "accounts": N_("account"),
    "contacts": N_("contact"),
    "contracts": N_("contract line"),
    "meeting-series": N_("meeting series"),
}


def problem_text(problem: Problem) -> str:
    """The problem in the current language (its English message when its code is unknown)."""
    code = problem.code or ""
    params: dict[str, Any] = dict(problem.params or {})
    if code == "json_object" and "error" in params:
        code = "json_object.error"
    if "table" in params and code.startswith("unknown_reference"):
        table = str(params["table"])
        params["noun"] = gettext(TABLE_NOUNS[table]) if table in TABLE_NOUNS else table
    template = PROBLEM_TEXT.get(code)
    if template is None:
        return problem.message
    try:
        return gettext(template) % params
    except (KeyError, TypeError, ValueError):  # params not those of the code: the core's words
        return problem.message
