"""The UI's static files, served compressed under versioned URLs with long-lived cache headers.

Each file (the package's ``static/`` folder and plotly's bundle from the installed
``plotly`` package — never a copy in the repository) is read once, hashed and
gzip-compressed once, and kept in an :class:`Assets` that lives on the UI app's
state. Pages link ``/static/<name>?v=<hash>``: a browser keeps such a response for a
year (``immutable``) and a changed file gets a new URL. plotly's 4.8 MB bundle is
about 1.4 MB compressed, and cached after the first page with a chart.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from importlib.util import find_spec
from pathlib import Path

from kizuna.errors import MissingExtra

__all__ = ["Asset", "Assets", "plotly_bundle"]

TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
#: Cache-Control of a versioned URL (the content never changes) and of a bare one.
IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=3600"
PLOTLY = "plotly.min.js"


def plotly_bundle() -> Path:
    """plotly.js as shipped inside the installed ``plotly`` Python package."""
    spec = find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtra("web", "charts in the web UI")
    return Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"


@dataclass(frozen=True, slots=True)
class Asset:
    """One static file: its bytes, their gzip form, content type and version (a hash)."""

    body: bytes
    gzipped: bytes
    media_type: str
    version: str


def _asset(data: bytes, suffix: str) -> Asset:
    return Asset(
        body=data,
        gzipped=gzip.compress(data, compresslevel=6, mtime=0),
        media_type=TYPES[suffix],
        version=hashlib.sha256(data).hexdigest()[:12],
    )


class Assets:
    """The static files by name, each loaded and compressed at its first use."""

    def __init__(self, plotly: Callable[[], Path] = plotly_bundle) -> None:
        self._root = resources.files("kizuna.web") / "static"
        self._plotly = plotly
        self._lock = threading.Lock()
        self._loaded: dict[str, Asset] = {}

    def get(self, name: str) -> Asset | None:
        """The asset ``name`` (None: no such file; names never hold a path)."""
        suffix = Path(name).suffix
        if "/" in name or "\\" in name or suffix not in TYPES:
            return None
        with self._lock:
            hit = self._loaded.get(name)
            if hit is not None:
                return hit
            if name == PLOTLY:
                data = self._plotly().read_bytes()
            else:
                target = self._root / name
                if not target.is_file():
                    return None
                data = target.read_bytes()
            asset = self._loaded[name] = _asset(data, suffix)
            return asset

    def version(self, name: str) -> str:
        """The version of ``name`` for its URL ('' for an unknown file)."""
        asset = self.get(name)
        return asset.version if asset is not None else ""
