"""What a daily run leaves behind, by content: the tests compare two runs' results with it."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

import pyarrow.parquet as pq
import sqlalchemy as sa

from kizuna.platform import Platform
from kizuna.store.models import Base

#: The run's own bookkeeping, which differs between runs by design.
LOG_TABLES = {"daily_runs", "daily_run_steps", "ops_locks"}
PROPOSED_ID = re.compile(r"plan-[0-9a-f]{12}")
#: Caches, rebuilt from the lake when missing (as a restore does): not results of a run.
CACHES = ("lake/_rollup/", "lake/_index/")


def fingerprint(platform: Platform, since: datetime) -> dict[str, Any]:
    """Every store table (but the run log) and every file of the data folder (but the lake's
    caches), by content.

    Two things differ between two stores by design and are named, not compared:
    a time stamped when a row was written (wall-clock, at or after ``since``; the
    book's own times come from the fixed clock, in 2025) and the random id of a
    success plan the plans step proposed (named by its account, template and start,
    also inside the ids of its parts, e.g. ``<plan id>-evaluator``).
    """
    plans = Base.metadata.tables["plans"]
    with platform.store.engine.connect() as conn:
        aliases = {
            r.id: f"plan of {r.account_id} from {r.template} on {r.start_date}"
            for r in conn.execute(sa.select(plans))
            if PROPOSED_ID.fullmatch(r.id)
        }

    def value(v: object) -> str:
        if isinstance(v, datetime) and (v if v.tzinfo else v.replace(tzinfo=UTC)) >= since:
            return "<written at>"
        if isinstance(v, str):  # a proposed plan's id, alone or in its parts' ids
            return repr(PROPOSED_ID.sub(lambda m: aliases.get(m.group(0), m.group(0)), v))
        return repr(v)

    found: dict[str, Any] = {}
    with platform.store.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name in LOG_TABLES:
                continue
            rows = [tuple(map(value, r)) for r in conn.execute(sa.select(table))]
            found[f"table {table.name}"] = sorted(rows)
    home = platform.settings.home
    for path in sorted(home.rglob("*")):
        name = str(path.relative_to(home))
        if not path.is_file() or path.name.startswith("secret_key") or name.startswith(CACHES):
            continue
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            found[name] = sorted(map(repr, table.to_pylist()))
        elif path.suffix == ".json":
            found[name] = json.loads(path.read_text(encoding="utf-8"))
        else:
            found[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found
