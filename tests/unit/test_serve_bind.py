"""``ontolab serve`` binds its own listening socket; it must say it is TCP."""

from __future__ import annotations

import socket

from ontolab.cli._serve import _bind


def test_the_listening_socket_says_tcp_so_asyncio_sets_nodelay() -> None:
    # asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP; with proto 0
    # every keep-alive answer waited ~40 ms for a delayed ACK.
    sock = _bind("127.0.0.1", 0, as_json=False)
    try:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.getsockname()[0] == "127.0.0.1"
    finally:
        sock.close()
