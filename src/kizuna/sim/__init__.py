"""A believable B2B SaaS customer base, deterministic under a seed.

``simulate(SimConfig.preset("demo"), Path("out"))`` writes the CSV tables in
``kizuna import`` format, usage events in the lake layout and the latent ground
truth; see ``docs/simulator.md``.
"""

from kizuna.sim.config import PRESETS, SimConfig
from kizuna.sim.run import TRUTH_FILE, ProgressCallback, SimSummary, simulate
from kizuna.sim.writer import TABLE_COLUMNS, TABLE_FILES

__all__ = [
    "PRESETS",
    "TABLE_COLUMNS",
    "TABLE_FILES",
    "TRUTH_FILE",
    "ProgressCallback",
    "SimConfig",
    "SimSummary",
    "simulate",
]
