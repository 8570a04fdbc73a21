"""The web UI: server-rendered pages over the same services as the CLI and the API.

``create_web_app(platform)`` builds the UI; ``mount_web(app, platform)`` mounts
it into an app at ``/ui`` (the composition root :mod:`kizuna.server` mounts it
into the API and serves the demo).
"""

from __future__ import annotations

from kizuna.web.app import MOUNT_PATH, create_standalone_app, create_web_app, mount_web

__all__ = ["MOUNT_PATH", "create_standalone_app", "create_web_app", "mount_web"]
