"""``kizuna serve``'s HTTP protocol turns Nagle's algorithm off on every TCP connection."""

from __future__ import annotations

import socket
from typing import Any

from uvicorn.importer import import_from_string

from kizuna.api.serving import HTTP_PROTOCOL, NoDelayHttpProtocol, set_nodelay
from kizuna.cli.api import serve  # noqa: F401  (the command passes HTTP_PROTOCOL to uvicorn)


class _Transport:
    def __init__(self, sock: socket.socket | None) -> None:
        self.sock = sock

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.sock if name == "socket" else default


def test_set_nodelay_on_an_accepted_tcp_connection() -> None:
    # a socket object made without the protocol number, as uvicorn's --workers makes it
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM, 0) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with socket.create_connection(listener.getsockname()) as client:
            accepted, _ = listener.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
                set_nodelay(_Transport(accepted))  # type: ignore[arg-type]
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
            assert client


def test_set_nodelay_ignores_transports_without_a_tcp_socket() -> None:
    set_nodelay(_Transport(None))  # type: ignore[arg-type]
    left, right = socket.socketpair()
    with left, right:
        set_nodelay(_Transport(left))  # type: ignore[arg-type]


def test_the_protocol_is_importable_by_uvicorn_workers() -> None:
    assert import_from_string(HTTP_PROTOCOL) is NoDelayHttpProtocol
