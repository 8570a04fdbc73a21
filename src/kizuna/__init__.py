"""Kizuna (絆): an open-source customer success platform.

The package is organised as a framework-free domain core (one module per
customer success concept) with thin edges (CLI, API, web UI) on top.
"""

from kizuna.clock import Clock, FixedClock, SystemClock
from kizuna.errors import KizunaError
from kizuna.platform import Platform
from kizuna.settings import Settings

__version__ = "0.1.0"

__all__ = [
    "Clock",
    "FixedClock",
    "KizunaError",
    "Platform",
    "Settings",
    "SystemClock",
    "__version__",
]
