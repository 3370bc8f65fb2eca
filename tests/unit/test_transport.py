"""The connection layer: the resolved address is checked at connect time (DNS rebinding)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from ontolab.errors import PolicyViolation
from ontolab.net import GuardedTransport, HttpSession
from ontolab.net._transport import READ_SIZE, GuardedBackend
from ontolab.policy import HostPolicy
from ontolab.settings import HttpSettings


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback socket that counts as 'a connection was made' if anything connects."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.settimeout(0.2)
    yield sock
    sock.close()


def accepted(sock: socket.socket) -> bool:
    try:
        conn, _ = sock.accept()
    except TimeoutError:
        return False
    conn.close()
    return True


def test_rebinding_name_is_refused_at_connect_time(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    answers = iter(["93.184.215.14", "127.0.0.1"])  # public at check time, loopback after
    # a wildcard entry: an exact listing would (deliberately) allow the private address
    policy = HostPolicy(["*.example.org"], resolver=lambda h, p: [next(answers)])
    policy.check_url(f"http://rebind.example.org:{port}/x")  # passes: public address
    with pytest.raises(PolicyViolation) as info:
        GuardedBackend(policy).connect_tcp("rebind.example.org", port, timeout=1)
    assert info.value.code == "E_POLICY_PRIVATE_ADDRESS"
    assert not accepted(listener)


def test_allowed_loopback_connects_to_the_checked_address(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    policy = HostPolicy([f"localhost:{port}"], resolver=lambda h, p: ["127.0.0.1"])
    stream = GuardedBackend(policy).connect_tcp("localhost", port, timeout=1)
    try:
        assert accepted(listener)
    finally:
        stream.close()


def test_session_with_the_guarded_transport_refuses_before_connecting(
    listener: socket.socket,
) -> None:
    port = listener.getsockname()[1]
    settings = HttpSettings(allowed_hosts=["*"])
    with (
        HttpSession(settings) as session,
        pytest.raises(PolicyViolation),
        session.open("GET", f"http://127.0.0.1:{port}/x"),
    ):
        pass
    assert not accepted(listener)
    assert isinstance(session.client._transport, GuardedTransport)


def test_reads_are_large() -> None:
    assert READ_SIZE >= 1 << 20
