"""Lifecycle: the columnar evaluation against the day-by-day, account-by-account loop.

    python bench/lifecycle/run.py [--sizes 500 5000] [--work /tmp/kizuna-bench-lifecycle]

For each size, a demo data folder is simulated and loaded once (``kizuna demo
--no-serve --accounts N``, as of 2025-06-30) and kept under ``--work``. Then, in
this process:

* ``columnar``: :func:`kizuna.lifecycle.stages.evaluate_accounts` — one store read,
  one DuckDB scan of the lake, NumPy over accounts × days;
* ``reference``: :func:`kizuna.lifecycle.reference.reference_evaluate` — the
  previous implementation: every day of every account evaluated in Python;
* both must give identical transitions (dates, stages, reasons) and milestone
  completions, or the script fails;
* ``compute`` and ``report``: ``kizuna lifecycle compute`` and ``kizuna onboarding
  report`` end to end (store writes included) through the service functions.

Prints the machine (cores, RAM, CPU model, load) and a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import platform as py_platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from kizuna.lifecycle import compute_lifecycle, definition_for, onboarding_report
from kizuna.lifecycle.reference import reference_evaluate
from kizuna.lifecycle.stages import evaluate_accounts
from kizuna.platform import Platform
from kizuna.settings import Settings

AS_OF = date(2025, 6, 30)
T = TypeVar("T")


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = os.getloadavg()
    return (
        f"{os.cpu_count()} cores, {ram:.1f} GiB RAM, {cpu}, Python {py_platform.python_version()}"
        f"; load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}"
    )


def timed(fn: Callable[[], T]) -> tuple[T, float, float]:
    """Result, wall seconds, CPU seconds of this process."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = fn()
    return result, time.perf_counter() - wall0, time.process_time() - cpu0


def ensure_demo(home: Path, accounts: int) -> None:
    if (home / "kizuna.sqlite3").exists():
        return
    print(f"simulating and loading {accounts} accounts into {home} ...", flush=True)
    subprocess.run(
        [str(Path(sys.executable).parent / "kizuna"), "--home", str(home), "demo", "--no-serve",
         "--accounts", str(accounts)],
        check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip


def compare(got: dict[str, Any], want: dict[str, Any]) -> tuple[int, int]:
    """Fail unless both evaluations agree; return (transitions, completions) compared."""
    if list(got) != list(want):
        raise SystemExit("the two paths evaluated different accounts")
    transitions = completions = 0
    for account_id, res in want.items():
        new = got[account_id]
        if (new.schedule, new.completions, new.transitions) != (
            res.schedule,
            res.completions,
            res.transitions,
        ):
            raise SystemExit(f"the two paths differ on account {account_id}")
        transitions += len(res.transitions)
        completions += len(res.completions)
    return transitions, completions


def run(size: int, work: Path, with_reference: bool) -> list[str]:
    home = work / f"demo-{size}"
    ensure_demo(home, size)
    platform = Platform.from_settings(Settings(home=home))
    definition = definition_for(home)
    lake_events = sum(1 for _ in (home / "lake" / "events").glob("*/*.parquet"))
    rows = []
    got, wall, cpu = timed(lambda: evaluate_accounts(platform, definition, AS_OF))
    rows.append((f"{size:,}", "columnar evaluation (load + evaluate)", wall, cpu))
    checked = "not run"
    if with_reference:
        want, r_wall, r_cpu = timed(lambda: reference_evaluate(platform, definition, AS_OF))
        rows.append((f"{size:,}", "reference: day-by-day loop per account", r_wall, r_cpu))
        transitions, completions = compare(got, want)
        checked = (
            f"identical: {len(want):,} accounts, {transitions:,} transitions, "
            f"{completions:,} completions ({r_wall / wall:.0f}× faster)"
        )
    result, c_wall, c_cpu = timed(lambda: compute_lifecycle(platform, definition, AS_OF))
    rows.append((f"{size:,}", "`lifecycle compute` end to end (writes included)", c_wall, c_cpu))
    _, o_wall, o_cpu = timed(
        lambda: onboarding_report(platform, definition, date(2024, 7, 1), AS_OF, AS_OF)
    )
    rows.append((f"{size:,}", "`onboarding report` end to end", o_wall, o_cpu))
    platform.close()
    print(
        f"size {size}: {lake_events} lake files; {result.transitions_written:,} transitions; "
        f"stages {result.stages}; {checked}",
        flush=True,
    )
    return [f"| {s} | {what} | {w:.2f} s | {c:.2f} s |" for s, what, w, c in rows] + [
        f"| {size:,} | same results? | {checked} | |"
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 5000])
    parser.add_argument("--work", type=Path, default=Path("/tmp/kizuna-bench-lifecycle"))
    parser.add_argument(
        "--no-reference", action="store_true", help="skip the slow day-by-day reference"
    )
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    print("machine:", machine(), flush=True)
    lines = ["| accounts | step | wall | CPU |", "|---|---|---|---|"]
    for size in args.sizes:
        lines += run(size, args.work, not args.no_reference)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print()
    print("\n".join(lines))
    print(f"\npeak RSS of this process: {peak:.0f} MiB; machine after: {machine()}")


if __name__ == "__main__":
    main()
