"""MUST SHOW (issue 19): a daily run killed mid-step (SIGKILL while the run log says a step
is running) is resumed by the next run from that step, and ends with the same store and
read models as an uninterrupted run; running the date again changes nothing."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, date, datetime
from pathlib import Path

from ops_fingerprint import fingerprint

from kizuna.clock import FixedClock
from kizuna.daily import DailyRunBusy, run_daily
from kizuna.ops import list_runs
from kizuna.platform import Platform
from kizuna.settings import Settings
from kizuna.sim import SimConfig
from kizuna.sim.demo import run_demo

DAY = date(2025, 6, 30)
NOW = datetime(2025, 7, 1, 3, 0, tzinfo=UTC)
BOOK = SimConfig(accounts=40, seed=11, start_date=date(2025, 1, 1), end_date=DAY)

KILLED_RUN = textwrap.dedent(
    """
    import sys, time
    from datetime import date, datetime, UTC
    from pathlib import Path
    from kizuna.clock import FixedClock
    from kizuna.daily import run_daily, step_functions
    from kizuna.platform import Platform
    from kizuna.settings import Settings

    home, url, marker = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    settings = Settings(home=home, database_url=url, daily_lock_seconds=2)
    clock = FixedClock(datetime.fromisoformat(sys.argv[4]))
    platform = Platform.from_settings(settings, clock=clock)
    steps = step_functions()
    portfolio = steps["portfolio"]

    def slow_portfolio(platform, days):
        portfolio(platform, days)   # the real work, its files written ...
        marker.write_text("written")
        time.sleep(600)             # ... and killed before the step ends
        return "never"

    steps["portfolio"] = slow_portfolio
    run_daily(platform, [date.fromisoformat(sys.argv[5])], steps=steps)
    """
)


def _platform(home: Path, db: Path) -> Platform:
    settings = Settings(home=home, database_url=f"sqlite:///{db}", daily_lock_seconds=2)
    return Platform.from_settings(settings, clock=FixedClock(NOW))


def test_a_killed_run_resumes_from_the_step_it_was_in_with_the_same_results(
    tmp_path: Path,
) -> None:
    since = datetime.now(UTC)
    killed_home, killed_db = tmp_path / "killed", tmp_path / "killed.sqlite3"
    whole_home, whole_db = tmp_path / "whole", tmp_path / "whole.sqlite3"
    setup = _platform(killed_home, killed_db)
    run_demo(setup, BOOK, force=True)
    setup.close()
    shutil.copytree(killed_home, whole_home)
    shutil.copy(killed_db, whole_db)

    # 1. A run in its own process, killed with SIGKILL while the portfolio step runs.
    marker = tmp_path / "portfolio-written"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            KILLED_RUN,
            str(killed_home),
            f"sqlite:///{killed_db}",
            str(marker),
            NOW.isoformat(),
            DAY.isoformat(),
        ],
        env=os.environ.copy(),
    )
    platform = _platform(killed_home, killed_db)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and process.poll() is None:
        runs = list_runs(platform.store)
        steps = {s.step: s.status for s in runs[0].steps} if runs else {}
        if steps.get("portfolio") == "running" and marker.exists():
            break
        time.sleep(0.2)
    assert process.poll() is None, "the run ended before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    [killed] = list_runs(platform.store)
    assert killed.status == "running"  # it could not say otherwise
    assert [s.status for s in killed.steps][-1] == "running"

    # 2. The next run waits for the dead run's lock to expire, then resumes at portfolio.
    deadline = time.monotonic() + 60
    while True:
        try:
            resumed = run_daily(platform, [DAY])
            break
        except DailyRunBusy:
            assert time.monotonic() < deadline
            time.sleep(0.5)
    assert resumed.resumed_from == killed.id
    by_step = {s.step: s.status for s in resumed.steps}
    before = [s for s in by_step if s != "portfolio"][: list(by_step).index("portfolio")]
    assert all(by_step[s] == "reused" for s in before) and before
    assert by_step["portfolio"] == "succeeded"
    log = {r.id: r for r in list_runs(platform.store)}
    assert log[killed.id].status == "killed" and log[killed.id].failed_step == "portfolio"
    assert log[resumed.run_id or 0].status == "succeeded"

    # 3. The same store and read models as a run that was never interrupted.
    whole = _platform(whole_home, whole_db)
    run_daily(whole, [DAY])
    after_resume, uninterrupted = fingerprint(platform, since), fingerprint(whole, since)
    assert after_resume.keys() == uninterrupted.keys()
    assert [k for k in after_resume if after_resume[k] != uninterrupted[k]] == []

    # 4. Idempotence: running the date again changes nothing.
    run_daily(whole, [DAY])
    again = fingerprint(whole, since)
    assert [k for k in again if again[k] != uninterrupted.get(k)] == []
    assert again.keys() == uninterrupted.keys()
    platform.close()
    whole.close()
