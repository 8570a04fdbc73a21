"""The web UI: server-rendered pages over the same services as the CLI and the API.

``create_web_app(platform)`` builds the UI; ``mount_web(app, platform)`` mounts
it into the API at ``/ui``; ``serve_demo`` serves it for ``kizuna demo``.
"""

from __future__ import annotations

from kizuna.web.app import MOUNT_PATH, create_standalone_app, create_web_app, mount_web
from kizuna.web.demo import serve_demo

__all__ = ["MOUNT_PATH", "create_standalone_app", "create_web_app", "mount_web", "serve_demo"]
