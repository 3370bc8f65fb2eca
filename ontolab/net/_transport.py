"""The connection layer under the one httpx client: SSRF guard at connect time, big reads.

httpx lets policy run per request; this backend also checks the *resolved* address of every
new connection, and connects to exactly that address, so a DNS answer that changes between
the check and the connect (rebinding) cannot reach a private host. Reads ask the socket for up
to 1 MiB at a time instead of httpcore's 64 KiB, which lets a download run at loopback speed
(see benchmarks/fetch_throughput.py).
"""

from __future__ import annotations

import ssl
import typing

import httpcore
import httpx

from ontolab.policy import HostPolicy

READ_SIZE = 1 << 20
SOCKET_OPTIONS = typing.Iterable[
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
]


class _BigReadStream(httpcore.NetworkStream):
    """A stream whose reads fill up to :data:`READ_SIZE` bytes per call."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max(max_bytes, READ_SIZE), timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _BigReadStream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """Resolves, checks every address against the policy, then connects to a checked one."""

    def __init__(self, policy: HostPolicy) -> None:
        self.policy = policy
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: SOCKET_OPTIONS | None = None,
    ) -> httpcore.NetworkStream:
        host = host.lower().strip("[]")
        addresses = self.policy.resolve(host, port)
        for address in addresses:
            self.policy.check_address(host, port, address)
        last: Exception | None = None
        for address in addresses:
            try:
                stream = self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
                continue
            return _BigReadStream(stream)
        assert last is not None
        raise last

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: SOCKET_OPTIONS | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not used by ontolab")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport (and its exception mapping) over :class:`GuardedBackend`."""

    def __init__(
        self, policy: HostPolicy, *, verify: bool = True, limits: httpx.Limits | None = None
    ) -> None:
        limits = limits or httpx.Limits(max_connections=32, max_keepalive_connections=16)
        context = httpx.create_ssl_context(verify=verify)  # loading CA certs costs ~25 ms: once
        super().__init__(verify=context, limits=limits)
        self._pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(policy),
        )
