"""Benchmark: importing contract lines with ``kizuna.dataio`` against a naive row-by-row load.

Run: ``python bench/import/bench_import.py --lines 1000000 [--url postgresql+psycopg://...]``

Prints the machine, then for the batched importer: first import, re-import of
the same file (all rows unchanged) and the peak resident memory while it ran;
for the naive way (one ORM ``session.merge`` per row, validated with the same
row model) the rate on a smaller sample, in the same run.
"""

from __future__ import annotations

import argparse
import os
import platform as py_platform
import random
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

from kizuna.dataio import import_file
from kizuna.dataio.schemas import ContractLineRow
from kizuna.platform import Platform
from kizuna.settings import Settings
from kizuna.store.models import ContractLine

SEGMENTS = ["enterprise", "mid-market", "smb"]
PRODUCTS = ["Core", "Analytics", "Seats"]


def machine() -> str:
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    version = py_platform.python_version()
    return f"{os.cpu_count()} cores, {pages / 2**30:.0f} GiB RAM, {cpu}, Python {version}"


class PeakRss:
    """Samples this process's resident memory every 50 ms."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> int:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(0.05)

    def __enter__(self) -> PeakRss:
        self.peak = self._rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def write_files(folder: Path, accounts: int, lines: int, seed: int = 7) -> tuple[Path, Path]:
    rng = random.Random(seed)
    acc = folder / "accounts.csv"
    with acc.open("w", encoding="utf-8") as fh:
        fh.write("id,name,segment\n")
        for i in range(accounts):
            fh.write(f"A{i:06d},Customer {i} 株式会社,{rng.choice(SEGMENTS)}\n")
    con = folder / "contracts.csv"
    start0 = date(2020, 1, 1)
    with con.open("w", encoding="utf-8") as fh:
        fh.write(
            "id,account_id,product,arr,currency,quantity,start_date,end_date,status,renews_line_id\n"
        )
        for i in range(lines):
            start = start0 + timedelta(days=rng.randrange(1800))
            renews = f"L{i - 1:07d}" if i and rng.random() < 0.4 else ""
            fh.write(
                f"L{i:07d},A{rng.randrange(accounts):06d},{rng.choice(PRODUCTS)},"
                f"{rng.randrange(100, 500_000)}.{rng.randrange(100):02d},"
                f"{rng.choice(['USD', 'JPY', 'EUR'])},{rng.randrange(1, 500)},"
                f"{start},{start + timedelta(days=364)},active,{renews}\n"
            )
    return acc, con


def naive_load(platform: Platform, path: Path, limit: int) -> float:
    """One validated row, one ``session.merge``: how a first version usually looks."""
    import csv

    began = time.perf_counter()
    with path.open(encoding="utf-8") as fh, platform.store.session() as session:
        for n, row in enumerate(csv.DictReader(fh)):
            if n >= limit:
                break
            values = ContractLineRow.model_validate({k: v or None for k, v in row.items()})
            session.merge(ContractLine(**values.model_dump()))
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--naive", type=int, default=20_000, help="rows for the naive comparison")
    parser.add_argument("--url", default=None, help="store URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory(prefix="kizuna-bench-") as tmp:
        folder = Path(tmp)
        acc, con = write_files(folder, args.accounts, args.lines)
        print(f"contracts.csv: {args.lines:,} lines, {con.stat().st_size / 2**20:.0f} MiB")
        settings = Settings(home=folder / "home", database_url=args.url)
        platform = Platform.from_settings(settings)
        platform.store.upgrade()
        if platform.store.dialect != "sqlite":  # a re-run on the same PostgreSQL database
            with platform.store.session() as s:
                s.execute(sa.text("TRUNCATE contract_lines, accounts CASCADE"))
        print(f"store: {platform.store.dialect}")
        import_file(platform, "accounts", acc)

        with PeakRss() as rss:
            began = time.perf_counter()
            report = import_file(platform, "contracts", con)
            first = time.perf_counter() - began
        print(
            f"kizuna import, first load:  {first:7.1f} s  {args.lines / first:9,.0f} rows/s  "
            f"peak RSS {rss.peak / 2**20:,.0f} MiB  (inserted {report.inserted:,})"
        )
        with PeakRss() as rss:
            began = time.perf_counter()
            report = import_file(platform, "contracts", con)
            again = time.perf_counter() - began
        print(
            f"kizuna import, re-import:   {again:7.1f} s  {args.lines / again:9,.0f} rows/s  "
            f"peak RSS {rss.peak / 2**20:,.0f} MiB  (unchanged {report.unchanged:,})"
        )

        n = min(args.naive, args.lines)
        # The naive way and the importer on the same sample, each into an empty table.
        sample = folder / "sample.csv"
        with con.open(encoding="utf-8") as src, sample.open("w", encoding="utf-8") as dst:
            for i, line in enumerate(src):
                if i > n:
                    break
                dst.write(line)
        platform.close()
        # A fresh store for the comparison: deleting 1M lines row by row is slow (the
        # renews_line_id ON DELETE SET NULL has no index to use).
        platform = Platform.from_settings(Settings(home=folder / "home2", database_url=args.url))
        platform.store.upgrade()
        if platform.store.dialect != "sqlite":
            with platform.store.session() as s:
                s.execute(sa.text("TRUNCATE contract_lines, accounts CASCADE"))
        import_file(platform, "accounts", acc)
        began = time.perf_counter()
        import_file(platform, "contracts", sample)
        batched = time.perf_counter() - began
        print(f"kizuna import ({n:,}):       {batched:7.1f} s  {n / batched:9,.0f} rows/s")
        with platform.store.session() as s:
            s.execute(sa.text("UPDATE contract_lines SET renews_line_id = NULL"))
            s.execute(sa.text("DELETE FROM contract_lines"))
        # The sample has no forward references: each renewal follows the line it renews.
        naive = naive_load(platform, sample, n)
        print(f"naive merge per row ({n:,}):  {naive:7.1f} s  {n / naive:9,.0f} rows/s")
        print(f"speed-up on the same {n:,} rows: {naive / batched:.1f}x")
        platform.close()


if __name__ == "__main__":
    main()
