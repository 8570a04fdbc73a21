"""Hand-built accounts, events, metric and health snapshots for lifecycle tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kizuna.lake.layout import EVENT_SCHEMA, LakeLayout, atomic_write_parquet
from kizuna.lifecycle import LifecycleDefinition, complete_milestone, load_definition
from kizuna.platform import Platform
from kizuna.store.models import Account, Activity, ActivityKind, ContractLine

#: Hand-built lakes begin whenever their first hand-written event falls; the tests
#: declare that onboarding tracking began before every hand-built contract.
TRACKING_STARTED = date(2024, 1, 1)
#: Due days of the "*" template the figures of these tests were computed by hand
#: with (the shipped default is calibrated to 10/14/30/30/60, see test_definitions).
HAND_COMPUTED_DUE_DAYS = {
    "kickoff_held": 7,
    "success_metrics_agreed": 14,
    "data_connected": 21,
    "first_users_active": 30,
    "first_value": 45,
}

MILESTONES = (
    "kickoff_held",
    "success_metrics_agreed",
    "data_connected",
    "first_users_active",
    "first_value",
)


def hand_computed_definition(
    tracking_started: date | None = TRACKING_STARTED,
) -> LifecycleDefinition:
    """The default journey with the test schedule and tracking start above."""
    default = load_definition()
    templates = tuple(
        t.model_copy(
            update={
                "milestones": tuple(
                    m.model_copy(update={"due_days": HAND_COMPUTED_DUE_DAYS[m.id]})
                    for m in t.milestones
                )
            }
        )
        if "*" in t.segments
        else t
        for t in default.onboarding.templates
    )
    onboarding = default.onboarding.model_copy(
        update={"tracking_started": tracking_started, "templates": templates}
    )
    return default.model_copy(update={"onboarding": onboarding})


class Builder:
    """Writes a hand-built customer base into a platform's store, lake and snapshots."""

    def __init__(
        self, platform: Platform, tracking_started: date | None = TRACKING_STARTED
    ) -> None:
        self.platform = platform
        self.definition = hand_computed_definition(tracking_started)
        self._events: list[dict[str, object]] = []
        self._seq = 0

    def account(
        self,
        account_id: str,
        segment: str = "smb",
        lines: tuple[tuple[date, date, int], ...] = (),
    ) -> None:
        with self.platform.store.session() as s:
            s.add(Account(id=account_id, name=f"Account {account_id}", segment=segment))
            s.flush()
            for i, (start, end, arr) in enumerate(lines):
                s.add(
                    ContractLine(
                        id=f"{account_id}-L{i}",
                        account_id=account_id,
                        product="core",
                        arr=Decimal(arr),
                        currency="USD",
                        start_date=start,
                        end_date=end,
                    )
                )

    def activity(self, account_id: str, day: date, text: str, kind: str = "meeting") -> None:
        self._seq += 1
        with self.platform.store.session() as s:
            s.add(
                Activity(
                    id=f"act-{self._seq}",
                    account_id=account_id,
                    kind=ActivityKind(kind),
                    activity_date=day,
                    text=text,
                )
            )

    def complete(self, account_id: str, milestone: str, day: date, by: str = "csm-1") -> None:
        complete_milestone(
            self.platform, self.definition, account_id, milestone, completed_on=day, completed_by=by
        )

    def complete_all(self, account_id: str, day: date) -> None:
        for m in MILESTONES:
            self.complete(account_id, m, day)

    def event(self, account_id: str, event: str, day: date, user: str | None = None) -> None:
        self._events.append(
            {
                "message_id": f"m{len(self._events)}",
                "account_id": account_id,
                "user_id": user,
                "event": event,
                "timestamp": datetime.combine(day, time(10, 0), tzinfo=UTC),
                "properties": None,
            }
        )

    def logins(self, account_id: str, day: date, users: range | list[int]) -> None:
        for u in users:
            self.event(account_id, "login", day, f"{account_id}-u{u}")

    def flush_events(self) -> None:
        """Write the collected events to the lake, one part file per UTC day."""
        layout = LakeLayout(self.platform.settings.lake_dir)
        by_day: dict[date, list[dict[str, object]]] = {}
        for e in self._events:
            ts = e["timestamp"]
            assert isinstance(ts, datetime)
            by_day.setdefault(ts.date(), []).append(e)
        for day, rows in by_day.items():
            table = pa.Table.from_pylist(rows, schema=EVENT_SCHEMA)
            atomic_write_parquet(table, layout.new_part_path(day))
        self._events = []

    def health(self, as_of: date, bands: dict[str, str]) -> None:
        folder = self.platform.settings.home / "health" / f"as_of={as_of.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        table = pa.table({"account_id": list(bands), "band": list(bands.values())})
        pq.write_table(table, folder / "scores.parquet")

    def metric(self, as_of: date, metric: str, values: dict[str, float]) -> None:
        folder = self.platform.settings.home / "metrics" / f"as_of={as_of.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        path: Path = folder / "values.parquet"
        table = pa.table(
            {
                "account_id": list(values),
                "as_of": [as_of] * len(values),
                "metric": [metric] * len(values),
                "value": [float(v) for v in values.values()],
            }
        )
        if path.exists():
            table = pa.concat_tables([pq.read_table(path), table.cast(pq.read_schema(path))])
        pq.write_table(table, path)


@pytest.fixture
def build(platform: Platform) -> Builder:
    return Builder(platform)
