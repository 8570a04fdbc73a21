"""How ``kizuna serve`` runs the app under uvicorn.

With ``--workers N`` uvicorn binds the listening socket itself, without the
TCP protocol number, and asyncio then skips ``TCP_NODELAY`` on the accepted
connections (it checks ``sock.proto``). A small answer (headers, then body, in
two writes) then waits for the client's delayed ACK: about 40 ms per request
on Linux, measured in ``bench/api``. :class:`NoDelayHttpProtocol` is uvicorn's
own HTTP protocol that turns Nagle's algorithm off on every connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

from uvicorn.config import HTTP_PROTOCOLS
from uvicorn.importer import import_from_string

_Base: Any = import_from_string(HTTP_PROTOCOLS["auto"])

#: The import string to give uvicorn as ``http=``.
HTTP_PROTOCOL = "kizuna.api.serving:NoDelayHttpProtocol"


def set_nodelay(transport: asyncio.BaseTransport) -> None:
    """Send small writes at once on a TCP connection (no-op for other sockets)."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):  # e.g. the peer already closed
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class NoDelayHttpProtocol(_Base):
    """uvicorn's default HTTP protocol with ``TCP_NODELAY`` on each connection."""

    def connection_made(self, transport: asyncio.Transport) -> None:
        set_nodelay(transport)
        super().connection_made(transport)
