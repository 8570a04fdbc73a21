"""Rule conditions: parsed from YAML, evaluated over the whole book at once, explained in words.

A condition is one of::

    all: [CONDITION, ...]          every one holds
    any: [CONDITION, ...]          at least one holds
    not: CONDITION                 it does not hold
    fact: NAME                     a fact (kizuna.actions.facts.FACTS) with its parameters
      PARAM: VALUE ...             e.g. days: 30, role: evaluator, priority: [high, urgent]
      OP: VALUE ...                eq, ne, lt, lte, gt, gte, in, not_in (all must hold)
      missing: false               what an unknown value counts as (default: does not match)
    metric: NAME                   shorthand for fact: metric, name: NAME
      change_days: N               optional: the change over N days (relative: true → a fraction)
      OP: VALUE ...
    attention: red|drop|overdue    the attention conditions of kizuna.portfolio.attention
    no_open_cta: TYPE              the account has no open, in-progress or snoozed CTA of TYPE

:func:`parse_condition` returns the tree or the list of every problem, each with
its path (``rules[2].when.all[0].gte``). :meth:`Condition.mask` gives a boolean
per account of a :class:`~kizuna.actions.facts.FactBook`; :meth:`Condition.reasons`
says in words which facts made one account match.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kizuna.actions.facts import FACTS, FactBook, FactKey
from kizuna.actions.model import CTA_TYPES
from kizuna.errors import Problem
from kizuna.portfolio.attention import ATTENTION_DROP, ATTENTION_DROP_DAYS, ATTENTION_REASONS

__all__ = ["AllOf", "AnyOf", "Comparison", "Condition", "Leaf", "Not", "parse_condition"]

_OPS = {
    "eq": "=",
    "ne": "≠",
    "lt": "<",
    "lte": "≤",
    "gt": ">",
    "gte": "≥",
    "in": "in",
    "not_in": "not in",
}
_TEXT_OPS = ("eq", "ne", "in", "not_in")
_TICKET_PRIORITIES = ("low", "normal", "high", "urgent")
_ROLES = ("evaluator", "final_evaluator", "promoter", "end_user", "champion", "other")


@dataclass(frozen=True, slots=True)
class Comparison:
    op: str
    value: Any

    def apply(self, column: np.ndarray, number: bool) -> np.ndarray:
        v = self.value
        if self.op in ("in", "not_in"):
            hit = np.isin(column, np.asarray(list(v), dtype=column.dtype))
            return hit if self.op == "in" else ~hit
        with np.errstate(invalid="ignore"):
            if self.op == "eq":
                return np.asarray(column == v, dtype=bool)
            if self.op == "ne":
                return np.asarray(column != v, dtype=bool)
            if self.op == "lt":
                return np.asarray(column < v, dtype=bool)
            if self.op == "lte":
                return np.asarray(column <= v, dtype=bool)
            if self.op == "gt":
                return np.asarray(column > v, dtype=bool)
            return np.asarray(column >= v, dtype=bool)

    def __str__(self) -> str:
        return self.text("en")

    def text(self, lang: str) -> str:
        """The comparison in words of ``lang`` (symbols, and the values in that language)."""
        v = self.value
        if lang == "ja":
            items = v if isinstance(v, tuple) else (v,)
            shown = "、".join(_VALUES_JA.get(_number(x), _number(x)) for x in items)
            op = {"in": "次のいずれか:", "not_in": "次のいずれでもない:"}.get(
                self.op, _OPS[self.op]
            )
            return f"{op} {shown}"
        shown = ", ".join(str(x) for x in v) if isinstance(v, tuple) else _number(v)
        return f"{_OPS[self.op]} {shown}"


def _number(value: Any) -> str:
    if isinstance(value, float):
        if math.isinf(value):
            return "never"
        return f"{value:g}" if abs(value) >= 1 or value == 0 else f"{value:.3g}"
    return str(value)


class Condition:
    """A node of a rule's condition tree."""

    def mask(self, book: FactBook) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def leaves(self) -> Iterator[Leaf]:  # pragma: no cover - abstract
        raise NotImplementedError

    def reasons(self, book: FactBook, row: int, lang: str = "en") -> list[str]:
        """The facts that make account ``row`` match, in words of ``lang`` (en or ja; call
        only when it matches)."""
        raise NotImplementedError  # pragma: no cover

    def fact_keys(self) -> list[FactKey]:
        return list(dict.fromkeys(leaf.key for leaf in self.leaves()))


@dataclass(frozen=True)
class Leaf(Condition):
    key: FactKey
    comparisons: tuple[Comparison, ...]
    missing: bool = False
    label: str | None = None

    def _column(self, book: FactBook) -> tuple[np.ndarray, np.ndarray, bool]:
        column = book.columns[self.key]
        numeric = any(isinstance(c.value, float) for c in self.comparisons) or any(
            isinstance(c.value, tuple) and c.value and isinstance(c.value[0], float)
            for c in self.comparisons
        )
        if column.dtype == object and numeric:  # an attribute compared with numbers
            column = pd.to_numeric(pd.Series(column), errors="coerce").to_numpy(dtype=float)
        number = column.dtype != object
        unknown = np.isnan(column) if number else np.asarray([v is None for v in column], bool)
        return column, unknown, number

    def mask(self, book: FactBook) -> np.ndarray:
        column, unknown, number = self._column(book)
        hit = np.ones(book.size, dtype=bool)
        for comparison in self.comparisons:
            hit &= comparison.apply(column, number)
        return np.where(unknown, self.missing, hit)

    def leaves(self) -> Iterator[Leaf]:
        yield self

    def name(self, lang: str = "en") -> str:
        spec = FACTS[self.key.name]
        if self.label and lang != "ja":
            return self.label
        params = dict(self.key.params)
        label = (spec.label_ja or spec.label) if lang == "ja" else spec.label
        head = str(params.pop("name")) if "name" in params else label
        words = _PARAMS_JA if lang == "ja" else {}
        extras = [
            f"{words.get(k, k)} {_param(v, lang)}"
            for k, v in params.items()
            if v not in (None, False, 0, ())
        ]
        if not extras:
            return head
        return head + (f"（{'、'.join(extras)}）" if lang == "ja" else f" ({', '.join(extras)})")

    def reasons(self, book: FactBook, row: int, lang: str = "en") -> list[str]:
        # one value only: this runs once per firing, so never touch the whole column
        raw = book.columns[self.key][row]
        if isinstance(raw, str) and any(isinstance(c.value, float) for c in self.comparisons):
            try:
                raw = float(raw)
            except ValueError:
                raw = None
        unknown = raw is None or (isinstance(raw, float | np.floating) and math.isnan(raw))
        value = "unknown" if unknown else _number(raw)
        if lang == "ja":
            value = _VALUES_JA.get(value, value)
            rules = "かつ".join(c.text("ja") for c in self.comparisons)
            return [f"{self.name('ja')}は{value}（{rules}）"]
        rules = " and ".join(str(c) for c in self.comparisons)
        return [f"{self.name()} is {value} ({rules})"]

    def __str__(self) -> str:
        return f"{self.name()} " + " and ".join(str(c) for c in self.comparisons)


def _param(value: Any, lang: str = "en") -> str:
    if isinstance(value, tuple):
        return "/".join(_param(v, lang) for v in value)
    if value is True:
        return "相対" if lang == "ja" else "relative"
    return _VALUES_JA.get(str(value), str(value)) if lang == "ja" else str(value)


#: the words of a reason in Japanese: parameter names, and the values rules compare with
_PARAMS_JA = {"days": "日数", "role": "役割", "priority": "優先度", "type": "種類",
              "change_days": "変化の日数", "relative": "相対"}  # fmt: skip
_VALUES_JA = {
    "unknown": "不明", "never": "なし", "red": "赤", "yellow": "黄", "green": "緑",
    "evaluator": "評価者", "final_evaluator": "最終評価者", "promoter": "推進者",
    "end_user": "実利用者", "champion": "チャンピオン", "other": "その他",
    "low": "低", "medium": "中", "high": "高", "urgent": "緊急", "normal": "通常",
    "risk": "リスク", "expansion": "拡張", "lifecycle": "ライフサイクル", "objective": "目標",
    "activity": "活動", "on_track": "順調", "at_risk": "要注意", "off_track": "遅延",
    "achieved": "達成", "enterprise": "エンタープライズ", "mid-market": "ミッドマーケット",
    "smb": "中小企業",
}  # fmt: skip


@dataclass(frozen=True)
class AllOf(Condition):
    items: tuple[Condition, ...]

    def mask(self, book: FactBook) -> np.ndarray:
        out = np.ones(book.size, dtype=bool)
        for item in self.items:
            out &= item.mask(book)
        return out

    def leaves(self) -> Iterator[Leaf]:
        for item in self.items:
            yield from item.leaves()

    def reasons(self, book: FactBook, row: int, lang: str = "en") -> list[str]:
        return [r for item in self.items for r in item.reasons(book, row, lang)]

    def __str__(self) -> str:
        return " and ".join(f"({i})" if isinstance(i, AnyOf) else str(i) for i in self.items)


@dataclass(frozen=True)
class AnyOf(Condition):
    items: tuple[Condition, ...]

    def mask(self, book: FactBook) -> np.ndarray:
        out = np.zeros(book.size, dtype=bool)
        for item in self.items:
            out |= item.mask(book)
        return out

    def leaves(self) -> Iterator[Leaf]:
        for item in self.items:
            yield from item.leaves()

    def reasons(self, book: FactBook, row: int, lang: str = "en") -> list[str]:
        out = []
        for item in self.items:
            if item.mask(_one(book, row))[0]:
                out.extend(item.reasons(book, row, lang))
        return out

    def __str__(self) -> str:
        return " or ".join(str(i) for i in self.items)


@dataclass(frozen=True)
class Not(Condition):
    item: Condition

    def mask(self, book: FactBook) -> np.ndarray:
        return ~self.item.mask(book)

    def leaves(self) -> Iterator[Leaf]:
        yield from self.item.leaves()

    def reasons(self, book: FactBook, row: int, lang: str = "en") -> list[str]:
        return [f"次に該当しない: {self.item}" if lang == "ja" else f"not: {self.item}"]

    def __str__(self) -> str:
        return f"not ({self.item})"


def _one(book: FactBook, row: int) -> FactBook:
    """A one-account book (to re-evaluate a branch for explaining one match)."""
    return FactBook(
        as_of=book.as_of,
        ids=book.ids[row : row + 1],
        columns={k: v[row : row + 1] for k, v in book.columns.items()},
    )


# -- parsing -----------------------------------------------------------------------


def _attention(reason: str) -> Leaf:
    if reason == "red":
        return Leaf(FactKey("health_band"), (Comparison("eq", "red"),), label="health band")
    if reason == "drop":
        key = FactKey("health_change", (("days", ATTENTION_DROP_DAYS),))
        return Leaf(key, (Comparison("lte", -ATTENTION_DROP),))
    return Leaf(FactKey("overdue_milestones"), (Comparison("gte", 1.0),))


def _check_param(name: str, value: Any, fact: str, where: str) -> tuple[Any, Problem | None]:
    def bad(message: str, code: str, **params: Any) -> tuple[Any, Problem]:
        params = {"name": name, "value": repr(value), **params}
        return None, Problem(message, f"{where}.{name}", name, code=code, params=params)

    if name in ("days", "change_days"):
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < (0 if name == "change_days" else 1)
        ):
            return bad(f"{name} must be a whole number of days ≥ 1, got {value!r}", "rules.days")
        return value, None
    if name == "relative":
        if not isinstance(value, bool):
            return bad(f"relative must be true or false, got {value!r}", "rules.true_false")
        return value, None
    if name == "priority":
        items = value if isinstance(value, list) else [value]
        unknown = [v for v in items if v not in _TICKET_PRIORITIES]
        if unknown or not items:
            expected = ", ".join(_TICKET_PRIORITIES)
            return bad(
                f"ticket priorities must be among {expected}, got {value!r}",
                "rules.one_of",
                expected=expected,
            )
        return tuple(sorted(items)), None
    if name == "role":
        if value not in _ROLES:
            expected = ", ".join(_ROLES)
            return bad(
                f"role must be one of {expected}, got {value!r}", "rules.one_of", expected=expected
            )
        return value, None
    if name == "type":
        if value is not None and value not in CTA_TYPES:
            expected = ", ".join(CTA_TYPES)
            return bad(
                f"CTA type must be one of {expected}, got {value!r}",
                "rules.one_of",
                expected=expected,
            )
        return value, None
    if not isinstance(value, str) or not value:
        return bad(f"{name} must be a name, got {value!r}", "rules.a_name")
    return value, None


def _needs(op: str, value: Any, here: str, what: str, code: str) -> Problem:
    return Problem(
        f"{op} needs {what}, got {value!r}", here, op, code=code,
        params={"op": op, "value": repr(value)},
    )  # fmt: skip


def _comparison(
    op: str, value: Any, number: bool, where: str
) -> tuple[Comparison | None, Problem | None]:
    here = f"{where}.{op}"
    if not number and op not in _TEXT_OPS:
        return None, Problem(
            f"{op} compares numbers; this fact is text (use eq, ne, in, not_in)",
            where=here,
            field=op,
            code="rules.text_fact",
            params={"op": op},
        )
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            return None, _needs(op, value, here, "a non-empty list", "rules.needs_list")
        if number and not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value
        ):
            return None, _needs(op, value, here, "a list of numbers", "rules.needs_numbers")
        return Comparison(op, tuple(float(v) if number else str(v) for v in value)), None
    if number:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None, _needs(op, value, here, "a number", "rules.needs_number")
        return Comparison(op, float(value)), None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return None, _needs(op, value, here, "a text value", "rules.needs_text")
    return Comparison(op, str(value)), None


def _numeric(op: str, value: Any) -> bool:
    """An ``any`` fact (an attribute) compares as a number when given numbers."""
    if op in ("lt", "lte", "gt", "gte"):
        return True
    items = value if isinstance(value, list) else [value]
    return bool(items) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in items
    )


def _leaf(data: dict[str, Any], where: str, problems: list[Problem]) -> Condition | None:
    if "metric" in data:
        data = {
            "fact": "metric",
            "name": data["metric"],
            **{k: v for k, v in data.items() if k != "metric"},
        }
    name = data.get("fact")
    if not isinstance(name, str) or name not in FACTS:
        problems.append(
            Problem(
                f"unknown fact {name!r}; known facts: {', '.join(sorted(FACTS))}",
                where=f"{where}.fact",
                field="fact",
                code="rules.unknown_fact",
                params={"fact": repr(name), "known": ", ".join(sorted(FACTS))},
            )
        )
        return None
    spec = FACTS[name]
    before = len(problems)
    params: dict[str, Any] = {}
    comparisons: list[Comparison] = []
    missing = False
    for key, value in data.items():
        if key == "fact":
            continue
        if key == "missing":
            if not isinstance(value, bool):
                problems.append(
                    Problem(
                        "missing must be true or false",
                        f"{where}.missing",
                        code="rules.true_false",
                        params={"name": "missing", "value": repr(value)},
                    )
                )
            missing = bool(value)
        elif key in _OPS:
            number = spec.kind == "number" or (spec.kind == "any" and _numeric(key, value))
            comparison, problem = _comparison(key, value, number, where)
            if problem:
                problems.append(problem)
            elif comparison:
                comparisons.append(comparison)
        elif key in spec.params:
            checked, problem = _check_param(key, value, name, where)
            if problem:
                problems.append(problem)
            params[key] = checked
        else:
            allowed = [*spec.params, *_OPS, "missing"]
            problems.append(
                Problem(
                    f"unknown key {key!r} for fact {name!r}; allowed: {', '.join(allowed)}",
                    where=f"{where}.{key}",
                    field=key,
                    code="rules.unknown_key",
                    params={"key": key, "fact": name, "allowed": ", ".join(allowed)},
                )
            )
    for param, default in spec.params.items():
        if param not in params:
            if default is None and param != "type":
                problems.append(
                    Problem(
                        f"fact {name!r} needs {param!r}",
                        where,
                        param,
                        code="rules.fact_needs",
                        params={"fact": name, "param": param},
                    )
                )
            elif default not in (None, 0, False):
                params[param] = default
    if not any(k in _OPS for k in data):
        problems.append(
            Problem(
                f"say what to compare with: one of {', '.join(_OPS)}",
                where,
                "fact",
                code="rules.no_comparison",
                params={"ops": ", ".join(_OPS)},
            )
        )
    if len(problems) > before:
        return None
    return Leaf(FactKey(name, tuple(sorted(params.items()))), tuple(comparisons), missing)


def parse_condition(data: Any, where: str, problems: list[Problem]) -> Condition | None:
    """The condition tree of ``data``; appends every problem (with its path) to ``problems``."""
    if not isinstance(data, dict) or not data:
        problems.append(
            Problem(
                f"a condition must be a mapping, got {data!r}",
                where,
                code="rules.not_a_condition",
                params={"value": repr(data)},
            )
        )
        return None
    if len(data) == 1:
        ((key, value),) = data.items()
        if key in ("all", "any"):
            if not isinstance(value, list) or not value:
                problems.append(
                    Problem(
                        f"{key} needs a non-empty list of conditions",
                        f"{where}.{key}",
                        code="rules.empty_list",
                        params={"key": key},
                    )
                )
                return None
            items = [
                parse_condition(v, f"{where}.{key}[{i}]", problems) for i, v in enumerate(value)
            ]
            if any(i is None for i in items):
                return None
            parts = tuple(i for i in items if i is not None)
            return AllOf(parts) if key == "all" else AnyOf(parts)
        if key == "not":
            item = parse_condition(value, f"{where}.not", problems)
            return Not(item) if item is not None else None
        if key == "attention":
            if value not in ATTENTION_REASONS:
                problems.append(
                    Problem(
                        f"attention must be one of {', '.join(ATTENTION_REASONS)}, got {value!r}",
                        where=f"{where}.attention",
                        code="not_allowed",
                        params={"value": value, "expected": ", ".join(ATTENTION_REASONS)},
                    )
                )
                return None
            return _attention(value)
        if key == "no_open_cta":
            if value not in CTA_TYPES:
                problems.append(
                    Problem(
                        f"no_open_cta names a CTA type ({', '.join(CTA_TYPES)}), got {value!r}",
                        where=f"{where}.no_open_cta",
                        code="not_allowed",
                        params={"value": value, "expected": ", ".join(CTA_TYPES)},
                    )
                )
                return None
            return Leaf(FactKey("open_ctas", (("type", value),)), (Comparison("eq", 0.0),))
    if "fact" in data or "metric" in data:
        return _leaf(data, where, problems)
    problems.append(
        Problem(
            f"unknown condition keys {sorted(data)}; use all, any, not, fact, metric, "
            "attention or no_open_cta",
            where=where,
            code="rules.unknown_condition",
            params={"keys": ", ".join(str(k) for k in sorted(data))},
        )
    )
    return None
