"""Metric definition files: the shipped set loads; every problem is reported with file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from kizuna.errors import InvalidInput, Problem
from kizuna.metrics import load_definitions


def test_shipped_default_set_is_valid() -> None:
    metrics = load_definitions(None)
    assert len(metrics.names) == 20
    # derived metrics come after their inputs
    assert metrics.names.index("events_28d") < metrics.names.index("events_28d_change")


def test_every_problem_is_reported_with_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "metrics.yaml"
    path.write_text(
        "metrics:\n"
        "  - {name: logins, kind: count}\n"
        "  - {name: rows, kind: sum, window_days: 28}\n"
        "  - {name: Bad-Name, kind: count, window_days: 7}\n"
        "  - {name: r, kind: ratio, numerator: logins, denominator: nowhere}\n"
        "  - {name: logins, kind: tenure}\n"
    )
    with pytest.raises(InvalidInput) as caught:
        load_definitions(path)
    where = str(path)
    assert list(caught.value.problems) == [
        Problem("Value error, kind count needs window_days", where=f"{where}: metrics[0] (logins)"),
        Problem("Value error, kind sum needs property", where=f"{where}: metrics[1] (rows)"),
        Problem(
            "String should match pattern '^[a-z][a-z0-9_]*$'",
            where=f"{where}: metrics[2] (Bad-Name)",
            field="name",
        ),
        Problem("unknown metric 'nowhere'", where=f"{where}: metrics[3] (r)", field="denominator"),
    ]
