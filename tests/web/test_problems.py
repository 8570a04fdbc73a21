"""Problems the core reports are worded by the pages from their codes, in each language."""

from __future__ import annotations

import re
from pathlib import Path

import kizuna.dataio
from kizuna.errors import Problem
from kizuna.web.i18n import translations, use_locale
from kizuna.web.problems import PROBLEM_TEXT, TABLE_NOUNS, problem_text

DATAIO = Path(kizuna.dataio.__file__).parent


def _codes_in_dataio() -> set[str]:
    """Every problem code the import's source can produce."""
    codes: set[str] = set()
    for path in DATAIO.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        for found in re.findall(r'\bcode="([\w.]+)"(?: if \w+ else "([\w.]+)")?', text):
            codes |= {c for c in found if c}
        codes |= set(re.findall(r'PydanticCustomError\(\s*"(\w+)"', text))
        # error_code's own codes, and the row checks by the field they name
        codes |= set(re.findall(r'return message, "([\w.]+)"', text))
        codes |= set(re.findall(r': \("(\w+)", "\w+"\),', text))
        if "simple = {" in text:
            block = text.split("simple = {", 1)[1].split("}", 1)[0]
            codes |= set(re.findall(r'(?:: |, )"(\w+)"\)?,', block))
        if "PydanticCustomError" in text:
            codes |= {f"row_check.{f}" for f in re.findall(r'"field": "(\w+)"', text)}
    codes.discard("row_check")  # always worded by the field it checks
    return codes


def test_every_code_of_the_import_has_words_in_both_languages() -> None:
    codes = _codes_in_dataio()
    assert {"required", "unknown_reference", "duplicate_key", "row_check.end_date"} <= codes
    assert sorted(codes - set(PROBLEM_TEXT)) == []
    ja = translations("ja")
    for message in [*PROBLEM_TEXT.values(), *TABLE_NOUNS.values()]:
        assert ja.gettext(message) != message, message


def test_a_problem_is_worded_from_its_code_and_values() -> None:
    problem = Problem(
        "no account 'A9' in the store",
        "contacts.csv row 3, column account_id",
        "account_id",
        3,
        "unknown_reference",
        {"table": "accounts", "value": "A9"},
    )
    with use_locale("en"):
        assert problem_text(problem) == "no account 'A9' in the store"
    with use_locale("ja"):
        assert problem_text(problem) == "アカウント「A9」はストアにありません"
    # No code (or values that do not fit its words): the core's message.
    with use_locale("ja"):
        assert problem_text(Problem("something else")) == "something else"
        odd = Problem("odd", code="too_long", params={"length": 3})
        assert problem_text(odd) == "odd"
