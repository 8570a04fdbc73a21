"""Load a simulator output folder's tables into a SQLite store next to its lake.

    kizuna sim --preset M --out bench/data/M      # writes CSVs and bench/data/M/lake/events
    python bench/metrics/prepare.py bench/data/M  # -> bench/data/M/kizuna.sqlite3

The folder then is a Kizuna home: ``Settings(home=DIR)`` finds the store and the lake.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def prepare(home: Path) -> None:
    from kizuna.dataio import import_file
    from kizuna.platform import Platform
    from kizuna.settings import Settings
    from kizuna.sim.demo import IMPORT_ORDER
    from kizuna.sim.writer import TABLE_FILES

    db = home / "kizuna.sqlite3"
    if db.exists():
        print(f"{db} exists; nothing to do")
        return
    platform = Platform.from_settings(Settings(home=home, database_url=f"sqlite:///{db}"))
    platform.store.upgrade()
    started = time.perf_counter()
    for table in IMPORT_ORDER:
        import_file(platform, table, home / TABLE_FILES[table])
    print(f"imported {', '.join(IMPORT_ORDER)} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    prepare(Path(sys.argv[1]))
