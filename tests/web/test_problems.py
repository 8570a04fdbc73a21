"""Problems the core reports are worded by the pages from their codes, in each language."""

from __future__ import annotations

import re
from pathlib import Path

import kizuna.dataio
from kizuna.actions import parse_rules
from kizuna.errors import InvalidInput, NotFound, Problem
from kizuna.health.scorecard import parse_scorecard
from kizuna.lifecycle.definitions import parse_definition
from kizuna.metrics.definitions import parse_definitions
from kizuna.web.i18n import translations, use_locale
from kizuna.web.problems import (
    ERROR_TITLES,
    PROBLEM_TEXT,
    STATUS_TEXT,
    TABLE_NOUNS,
    error_text,
    problem_text,
)

DATAIO = Path(kizuna.dataio.__file__).parent
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


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


#: The core's modules whose problems and errors the pages show (definition files, forms).
CODED_SOURCES = [
    "metrics/definitions.py", "health/scorecard.py", "lifecycle/definitions.py",
    "actions/definitions.py", "actions/conditions.py", "actions/ctas.py", "actions/teams.py",
    "actions/techtouch.py", "auth/vault.py", "health/sentiment.py", "plans/edit.py",
    "plans/schemas.py", "plans/service.py", "documents/sharing.py", "customers/service.py",
]  # fmt: skip
KIZUNA = DATAIO.parent


def _codes_in_core() -> set[str]:
    """Every code the definition loaders and the work forms' services give a problem or error."""
    codes: set[str] = set()
    for name in CODED_SOURCES:
        text = (KIZUNA / name).read_text(encoding="utf-8")
        codes |= set(re.findall(r'\bcode="([\w.]+)"', text))
        # CodedValueError("...", "code"), add(..., "code"), bad(..., "code")
        found = re.findall(r'"((?:metrics|scorecard|lifecycle|rules|plan)\.\w+)"', text)
        codes |= {c for c in found if not c.endswith((".yaml", ".yml"))}  # not file names
        if 'f"rules.duplicate_{kind}"' in text:
            codes |= {"rules.duplicate_rule", "rules.duplicate_playbook"}
        if 'f"plan.target_{side}"' in text:
            codes |= {"plan.target_above", "plan.target_below"}
    for path in (KIZUNA / "web").rglob("*.py"):
        codes |= set(re.findall(r'\bcode="([\w.]+)"', path.read_text(encoding="utf-8")))
    return codes


def test_every_code_of_the_definitions_and_forms_has_words_in_both_languages() -> None:
    codes = _codes_in_core()
    expected = {"metrics.kind_needs", "scorecard.bands_order", "lifecycle.stage_twice",
                "rules.unknown_fact", "cta_closed", "snooze_until", "plan.key_taken"}  # fmt: skip
    assert expected <= codes
    assert sorted(codes - set(PROBLEM_TEXT)) == []
    ja = translations("ja")
    for message in [*PROBLEM_TEXT.values(), *STATUS_TEXT.values(), *ERROR_TITLES]:
        assert ja.gettext(message) != message, message


BROKEN = {
    "metrics": (
        parse_definitions,
        {"metrics": [
            {"name": "a", "kind": "sum", "window_days": 7},
            {"name": "b", "kind": "ratio", "numerator": "a", "denominator": "nope"},
            {"name": "a", "kind": "count", "window_days": 0, "colour": "red"},
        ], "extra": 1},
    ),
    "scorecard": (
        lambda data, where: parse_scorecard(data, where)[1],
        {"name": "Bad Name", "bands": {"yellow": 90, "green": 10}, "groups": [
            {"name": "g", "weight": 1, "measures": []},
        ]},
    ),
    "lifecycle": (
        parse_definition,
        {"stages": [{"id": "One", "entry": {"all": []}}, {"id": "two", "entry": None}],
         "onboarding": {"templates": []}},
    ),
    "rules": (
        parse_rules,
        {"rules": [{"id": "r", "name": "R", "type": "risk", "playbook": "gone",
                    "when": {"all": [{"fact": "nope", "gte": 1},
                                     {"fact": "health_band", "gte": 1}]}}]},
    ),
}  # fmt: skip


def _problems_of(kind: str) -> list[Problem]:
    parse, data = BROKEN[kind]
    try:
        found = parse(data, f"{kind}.yaml")
    except InvalidInput as exc:
        return list(exc.problems)
    assert isinstance(found, list), kind  # the scorecard parser returns its problems
    return found


def test_broken_definitions_are_worded_in_japanese_from_their_codes() -> None:
    for kind in BROKEN:
        problems = _problems_of(kind)
        assert len(problems) >= 2, (kind, problems)
        for problem in problems:
            assert problem.code in PROBLEM_TEXT, (kind, problem, problem.code)
            with use_locale("ja"):
                worded = problem_text(problem)
            assert worded != problem.message and JAPANESE.search(worded), (kind, worded)
            # the command line's and the API's words stay as they were: no code in to_dict
            assert set(problem.to_dict()) <= {"message", "where", "field", "row"}


def test_an_error_without_a_code_is_worded_by_its_status() -> None:
    with use_locale("ja"):
        assert (
            error_text(NotFound("no widget 7"), "ja")
            == "ここには何もないか、あなたの担当範囲外です。"
        )
        coded = NotFound("no CTA 7", code="unknown", params={"table": "ctas", "value": 7})
        assert error_text(coded, "ja") == "CTA「7」はありません"
    with use_locale("en"):
        assert error_text(NotFound("no widget 7"), "en") == "no widget 7"
        assert error_text(coded, "en") == "no call to action 7"
