"""The first pass of an import: validate every record, remember only what checks need.

Rows are validated one at a time against their row model and spooled (pickled
in batches to a temporary file) for the write pass, so memory holds only the
keys seen, the references still to resolve and the problems found — never the
rows themselves. After the last record :meth:`Validation.finish` resolves
references against the store, finds reference cycles and, with
``skip_invalid``, rejects the rows that depend on rejected rows.
"""

from __future__ import annotations

import pickle
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import IO, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from pydantic import ValidationError

from kizuna.dataio.readers import RawRecord
from kizuna.dataio.schemas import TABLES, TableSpec, target_model
from kizuna.errors import Problem
from kizuna.store.db import Store

Key = str | tuple[str, ...]
SPOOL_BATCH = 2000
_LOOKUP_CHUNK = 1000
_NOUNS = {
    "team": "team member",
    "accounts": "account",
    "contacts": "contact",
    "contracts": "contract line",
    "meeting-series": "meeting series",
}

_NUMBER_ERRORS = {"decimal_parsing", "decimal_type", "float_parsing", "float_type", "finite_number"}
_WHOLE_ERRORS = {"int_parsing", "int_type", "int_from_float"}


def _bound(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def error_message(error: Any) -> str:
    """A short, user-facing reason for one pydantic error."""
    return error_problem(error)[0]


def error_problem(error: Any) -> tuple[str, str, dict[str, Any]]:
    """(message, code, params) of one pydantic error, for each edge's words.

    The codes of :func:`error_message`'s messages: ``required``, ``not_allowed``
    (``value``, ``expected``), ``too_small`` / ``not_greater`` / ``too_large``
    (``value``, ``bound``), ``not_whole`` / ``not_number`` / ``not_boolean`` /
    ``not_text`` / ``too_many_digits`` (``value``), ``too_many_decimals``
    (``value``, ``places``), ``too_long`` (``max``); a check of the row's own
    (``row_check``) is ``row_check.<field>``; any other is pydantic's type with its context.
    """
    kind = error["type"]
    value = error.get("input")
    ctx = dict(error.get("ctx") or {})
    message = _message(error)
    shown = value if value is None or isinstance(value, str | int | float | bool) else str(value)
    if kind == "missing" or (value is None and kind != "row_check"):
        return message, "required", {}
    if kind == "enum":
        return message, "not_allowed", {"value": shown, "expected": str(ctx.get("expected"))}
    bounds = {
        "greater_than_equal": ("too_small", "ge"),
        "greater_than": ("not_greater", "gt"),
        "less_than_equal": ("too_large", "le"),
    }
    if kind in bounds:
        code, bound = bounds[kind]
        return message, code, {"value": shown, "bound": str(_bound(ctx[bound]))}
    simple = {
        **dict.fromkeys(_WHOLE_ERRORS, "not_whole"),
        **dict.fromkeys(_NUMBER_ERRORS, "not_number"),
        "decimal_max_digits": "too_many_digits",
        "decimal_whole_digits": "too_many_digits",
        "bool_parsing": "not_boolean",
        "bool_type": "not_boolean",
        "string_type": "not_text",
    }
    if kind in simple:
        return message, simple[kind], {"value": shown}
    if kind == "decimal_max_places":
        return message, "too_many_decimals", {"value": shown, "places": ctx["decimal_places"]}
    if kind == "string_too_long":
        return message, "too_long", {"max": ctx["max_length"]}
    if kind == "row_check":
        return message, f"row_check.{ctx.get('field')}", ctx
    return message, str(kind), {k: str(v) for k, v in ctx.items()}


def _message(error: Any) -> str:
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "missing" or (value is None and kind != "row_check"):
        return "required value missing"
    if kind == "enum":
        return f"{value!r} is not one of {ctx.get('expected')}"
    if kind == "greater_than_equal":
        return f"must be at least {_bound(ctx['ge'])}, got {value}"
    if kind == "greater_than":
        return f"must be greater than {_bound(ctx['gt'])}, got {value}"
    if kind == "less_than_equal":
        return f"must be at most {_bound(ctx['le'])}, got {value}"
    if kind in _WHOLE_ERRORS:
        return f"{value!r} is not a whole number"
    if kind in _NUMBER_ERRORS:
        return f"{value!r} is not a number"
    if kind == "decimal_max_places":
        return f"{value} has more than {ctx['decimal_places']} decimal places"
    if kind in {"decimal_max_digits", "decimal_whole_digits"}:
        return f"{value} has too many digits"
    if kind in {"bool_parsing", "bool_type"}:
        return f"{value!r} is not true or false"
    if kind == "string_too_long":
        return f"is longer than {ctx['max_length']} characters"
    if kind == "string_type":
        return f"{value!r} is not text"
    return str(error["msg"])


def _chunks(items: list[Any], size: int = _LOOKUP_CHUNK) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def existing_ids(store: Store, table: str, ids: Iterable[str]) -> set[str]:
    """Which of ``ids`` exist in the store's table ``table`` (a CLI name)."""
    id_col = target_model(table).__table__.c.id
    found: set[str] = set()
    with store.engine.connect() as conn:
        for chunk in _chunks(sorted(ids)):
            found.update(conn.execute(sa.select(id_col).where(id_col.in_(chunk))).scalars())
    return found


def stored_values(store: Store, table: str, column: str, ids: Iterable[str]) -> dict[str, Any]:
    """``column`` of the stored rows of ``table`` with the given ids, by id."""
    t = TABLES[table].table
    found: dict[str, Any] = {}
    with store.engine.connect() as conn:
        for chunk in _chunks(sorted(ids)):
            stmt = sa.select(t.c.id, t.c[column]).where(t.c.id.in_(chunk))
            found.update({row[0]: row[1] for row in conn.execute(stmt)})
    return found


def _show(key: Key) -> str:
    return key if isinstance(key, str) else " ".join(key)


class Validation:
    """Validates the records of one import and spools them for the write pass."""

    def __init__(
        self, store: Store, spec: TableSpec, source: str, tz: ZoneInfo, *, skip_invalid: bool
    ) -> None:
        self.store = store
        self.spec = spec
        self.source = source
        self.tz = tz
        self.skip_invalid = skip_invalid
        self.rows_read = 0
        self.file_problems: list[Problem] = []  # problems with the file as a whole: fatal
        self.row_problems: list[Problem] = []
        self.bad_lines: dict[int, list[str]] = {}
        self.seen: dict[Key, tuple[int, bool]] = {}  # key -> (first line, valid)
        self.self_ref = spec.self_reference
        self.self_refs: dict[str, tuple[int, str]] = {}  # id -> (line, referenced id)
        self.forward: set[str] = set()  # ids whose reference points further down the file
        self.deferred: set[str] = set()  # ids whose self reference must be written last
        self._known: dict[str, set[str]] = defaultdict(set)
        self._missing: dict[str, set[str]] = defaultdict(set)
        self._pending: list[tuple[int, str, str, str]] = []  # line, column, target, id
        self._unique: dict[str, dict[Any, tuple[int, Key]]] = {c: {} for c in spec.unique}
        self._unknown_columns: set[str] = set()
        self._columns = spec.column_names
        self._order = {c: i for i, c in enumerate(self._columns)}
        self._spool: IO[bytes] = tempfile.TemporaryFile(prefix="kizuna-import-")  # noqa: SIM115
        self._batch: list[tuple[int, dict[str, Any] | None, Any]] = []

    # -- problems -----------------------------------------------------------

    def _where(self, line: int, column: str | None) -> str:
        where = f"{self.source} row {line}"
        return f"{where}, column {column}" if column else where

    def file_problem(
        self,
        message: str,
        line: int = 1,
        column: str | None = None,
        *,
        code: str,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.file_problems.append(
            Problem(message, self._where(line, column), column, line, code, params or {})
        )

    def row_problem(
        self,
        line: int,
        column: str | None,
        message: str,
        *,
        code: str,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.row_problems.append(
            Problem(message, self._where(line, column), column, line, code, params or {})
        )
        self.bad_lines.setdefault(line, []).append(f"{column}: {message}" if column else message)

    def check_header(self, header: list[str]) -> None:
        """File-level checks of a CSV header: unknown, duplicate and missing columns."""
        if not header:
            self.file_problem("the file is empty; expected a header row", code="empty_file")
            return
        counts: dict[str, int] = defaultdict(int)
        for name in header:
            counts[name] += 1
        for name in counts:
            if name not in self._order:
                self._unknown_column(name, 1)
            elif counts[name] > 1:
                self.file_problem(
                    f"column {name!r} appears {counts[name]} times",
                    column=name,
                    code="duplicate_column",
                    params={"column": name, "count": counts[name]},
                )
        for name in self.spec.required_columns:
            if name not in counts:
                self.file_problem(
                    f"required column {name!r} is missing",
                    column=name,
                    code="missing_column",
                    params={"column": name},
                )

    def _unknown_column(self, name: str, line: int) -> None:
        self.file_problem(
            f"unknown column {name!r}; the {self.spec.name} columns are "
            + ", ".join(self._columns),
            line=line,
            column=name,
            code="unknown_column",
            params={"column": name, "table": self.spec.name, "columns": ", ".join(self._columns)},
        )

    # -- records ------------------------------------------------------------

    def _raw_key(self, data: dict[str, Any], bad_columns: set[str]) -> Key | None:
        parts = []
        for col in self.spec.key:
            value = data.get(col)
            if col in bad_columns or value is None or not str(value).strip():
                return None
            text = str(value).strip()
            parts.append(text.upper() if col == "currency" else text)
        return parts[0] if len(parts) == 1 else tuple(parts)

    def add(self, record: RawRecord) -> None:
        """Validate one record, note what later checks need and spool it."""
        self.rows_read += 1
        line = record.line
        values: dict[str, Any] | None = None
        if record.problem is not None or record.data is None:
            self.row_problem(
                line,
                None,
                record.problem or "unreadable record",
                code="unreadable_record",
                params={"detail": record.problem or ""},
            )
        else:
            data = record.data
            unknown = [k for k in data if k not in self._order]
            for name in unknown:
                if name not in self._unknown_columns:
                    self._unknown_columns.add(name)
                    self._unknown_column(name, line)
            if unknown:
                data = {k: v for k, v in data.items() if k in self._order}
            values = self._validate(line, data)
        self._batch.append((line, values, record.raw))
        if len(self._batch) >= SPOOL_BATCH:
            self._flush_batch()

    def _validate(self, line: int, data: dict[str, Any]) -> dict[str, Any] | None:
        try:
            row = self.spec.row_model.model_validate(data, context={"tz": self.tz})
        except ValidationError as exc:
            bad_columns: set[str] = set()
            for error in sorted(
                exc.errors(), key=lambda e: self._order.get(str((e["loc"] or ("",))[0]), -1)
            ):
                column = (
                    str(error["loc"][0]) if error["loc"] else (error.get("ctx") or {}).get("field")
                )
                bad_columns.add(column or "")
                message, code, params = error_problem(error)
                self.row_problem(line, column, message, code=code, params=params)
            key = self._raw_key(data, bad_columns)
            if key is not None:
                self._note_key(line, key, valid=False)
            return None
        fields = row.__dict__
        values = {name: fields[name] for name in row.model_fields_set}
        key = self.key_of(values)
        if not self._note_key(line, key, valid=True):
            return values
        for column, seen in self._unique.items():
            value = values.get(column)
            if value is None:
                continue
            if value in seen and seen[value][1] != key:
                first_line, other = seen[value]
                self.row_problem(
                    line,
                    column,
                    f"{value!r} is also given for {_show(other)} (row {first_line})",
                    code="also_given",
                    params={"value": str(value), "other": _show(other), "first_row": first_line},
                )
            else:
                seen.setdefault(value, (line, key))
        for ref in self.spec.references:
            target = values.get(ref.column)
            if target is None:
                continue
            if ref is self.self_ref:
                assert isinstance(key, str)
                self.self_refs[key] = (line, target)
                if target not in self.seen:
                    self.forward.add(key)
            elif target in self._missing[ref.target]:
                self._unknown_reference(line, ref.column, ref.target, target)
            elif target not in self._known[ref.target]:
                self._pending.append((line, ref.column, ref.target, target))
        if len(self._pending) >= SPOOL_BATCH:
            self._resolve_pending()
        return values

    def key_of(self, values: dict[str, Any]) -> Key:
        """The row's key: its id, or the tuple of key columns as text (fx-rates)."""
        if len(self.spec.key) == 1:
            return str(values[self.spec.key[0]])
        return tuple(str(values[c]) for c in self.spec.key)

    def _note_key(self, line: int, key: Key, *, valid: bool) -> bool:
        """Remember ``key``; report and return False if an earlier row has it."""
        first = self.seen.get(key)
        if first is None:
            self.seen[key] = (line, valid)
            return True
        label = "id" if len(self.spec.key) == 1 else "+".join(self.spec.key)
        self.row_problem(
            line,
            self.spec.key[0],
            f"duplicate {label} {_show(key)!r} (first at row {first[0]})",
            code="duplicate_key",
            params={"key": _show(key), "first_row": first[0]},
        )
        return False

    def _unknown_reference(self, line: int, column: str, target: str, value: str) -> None:
        noun = _NOUNS.get(target, target)
        in_file = target == self.spec.name
        where = "in the store or in this file" if in_file else "in the store"
        self.row_problem(
            line,
            column,
            f"no {noun} {value!r} {where}",
            code="unknown_reference_here" if in_file else "unknown_reference",
            params={"table": target, "value": value},
        )

    def _resolve_pending(self) -> None:
        by_target: dict[str, set[str]] = defaultdict(set)
        for _line, _column, target, value in self._pending:
            by_target[target].add(value)
        for target, values in by_target.items():
            found = existing_ids(self.store, target, values)
            self._known[target] |= found
            self._missing[target] |= values - found
        for line, column, target, value in self._pending:
            if value in self._missing[target]:
                self._unknown_reference(line, column, target, value)
        self._pending.clear()

    def _flush_batch(self) -> None:
        pickle.dump(self._batch, self._spool, protocol=pickle.HIGHEST_PROTOCOL)
        self._batch = []

    # -- after the last record ------------------------------------------------

    def finish(self) -> None:
        """Resolve references, find cycles and (with ``skip_invalid``) cascade rejections."""
        self._flush_batch()
        self._resolve_pending()
        if self.self_ref is not None and self.self_refs:
            self._check_self_references()
        if self.spec.unique:
            self._check_unique_against_store()
        if self.skip_invalid and self.self_ref is not None:
            self._cascade_rejections()
        self.row_problems.sort(key=lambda p: (p.row or 0, self._order.get(p.field or "", -1)))

    def _check_self_references(self) -> None:
        ref = self.self_ref
        assert ref is not None
        outside = {t for _, t in self.self_refs.values() if t not in self.seen}
        forward_targets = {self.self_refs[i][1] for i in self.forward}
        in_store = existing_ids(self.store, self.spec.name, outside | forward_targets)
        for line, target in self.self_refs.values():
            if target not in self.seen and target not in in_store:
                self._unknown_reference(line, ref.column, self.spec.name, target)
        self.deferred = {i for i in self.forward if self.self_refs[i][1] not in in_store}
        # Follow references through the store until every chain ends or loops.
        graph: dict[str, str | None] = {k: t for k, (_, t) in self.self_refs.items()}
        frontier = {t for t in graph.values() if t is not None and t not in graph}
        while frontier:
            stored = stored_values(self.store, self.spec.name, ref.column, frontier)
            for node in frontier:
                graph[node] = stored.get(node)
            frontier = {t for t in stored.values() if t is not None and t not in graph}
        for cycle in _cycles(graph):
            path = " → ".join([*cycle, cycle[0]])
            for node in cycle:
                if node in self.self_refs:
                    self.row_problem(
                        self.self_refs[node][0],
                        ref.column,
                        f"references form a cycle: {path}",
                        code="reference_cycle",
                        params={"path": path},
                    )

    def _check_unique_against_store(self) -> None:
        for column, seen in self._unique.items():
            if not seen:
                continue
            model = self.spec.table
            owners: dict[Any, str] = {}
            with self.store.engine.connect() as conn:
                for chunk in _chunks(list(seen)):
                    stmt = sa.select(model.c[column], model.c.id).where(model.c[column].in_(chunk))
                    owners.update({row[0]: row[1] for row in conn.execute(stmt)})
            new_values = {key: value for value, (_, key) in seen.items()}
            for value, (line, key) in seen.items():
                owner = owners.get(value)
                # Fine if the stored owner is this row, or gives the value up in this file.
                if (
                    owner is None
                    or owner == key
                    or (owner in new_values and new_values[owner] != value)
                ):
                    continue
                self.row_problem(
                    line,
                    column,
                    f"{value!r} already belongs to {owner!r} in the store",
                    code="taken",
                    params={"value": str(value), "owner": owner},
                )

    def _cascade_rejections(self) -> None:
        ref = self.self_ref
        assert ref is not None
        bad_keys = {
            key: line
            for key, (line, _valid) in self.seen.items()
            if line in self.bad_lines and isinstance(key, str)
        }
        in_store = existing_ids(self.store, self.spec.name, bad_keys)
        rejected = {k: line for k, line in bad_keys.items() if k not in in_store}
        dependants: dict[str, list[str]] = defaultdict(list)
        for key, (_line, target) in self.self_refs.items():
            dependants[target].append(key)
        queue = list(rejected)
        while queue:
            target = queue.pop()
            newly = [
                k for k in dependants.get(target, ()) if self.self_refs[k][0] not in self.bad_lines
            ]
            if not newly:
                continue
            stored = existing_ids(self.store, self.spec.name, newly)
            for key in newly:
                line = self.self_refs[key][0]
                self.row_problem(
                    line,
                    ref.column,
                    f"refers to {target!r}, rejected at row {rejected[target]}",
                    code="refers_to_rejected",
                    params={"target": target, "rejected_row": rejected[target]},
                )
                if key not in stored:
                    rejected[key] = line
                    queue.append(key)

    # -- results ---------------------------------------------------------------

    @property
    def problems(self) -> list[Problem]:
        return [*self.file_problems, *self.row_problems]

    def spooled(self) -> Iterator[tuple[int, dict[str, Any] | None, Any]]:
        """The records again, in file order, as (line, validated values or None, raw)."""
        self._spool.seek(0)
        while True:
            try:
                batch = pickle.load(self._spool)
            except EOFError:
                return
            yield from batch

    def close(self) -> None:
        self._spool.close()


def _cycles(graph: dict[str, str | None]) -> list[list[str]]:
    """The cycles of a graph where each node has at most one successor."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    cycles: list[list[str]] = []
    for start in graph:
        if start in state:
            continue
        path: list[str] = []
        node: str | None = start
        while node is not None and node not in state:
            state[node] = 1
            path.append(node)
            node = graph.get(node)
        if node is not None and state.get(node) == 1:
            cycles.append(path[path.index(node) :])
        for visited in path:
            state[visited] = 2
    return cycles
