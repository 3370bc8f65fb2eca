"""Host allow-list and SSRF guard.

A URL passes when its scheme is http(s), its host (and port, when the entry names one) matches
``allowed_hosts``, and every address the name resolves to is public. Loopback, private,
link-local, cloud-metadata and other special addresses are refused unless the host is listed
*exactly* (no wildcard) or ``allow_private_networks`` is set. Metadata addresses need an exact
listing even then. The check runs before every request and on every redirect hop, and again
on the resolved address at connect time (see ``ontolab.net``), so DNS rebinding cannot
slip past it.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

from ontolab.errors import NetworkError, PolicyViolation

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]

# Instance-metadata endpoints of the big clouds: never reachable through a wildcard.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
DEFAULT_PORTS = {"http": 80, "https": 443}


def classify_address(address: IPAddress) -> str | None:
    """Why ``address`` is special (``"loopback"``, ``"private"``, ...), or None if public."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return "metadata"
    for attr in ("loopback", "link_local", "multicast", "unspecified", "reserved"):
        if getattr(address, f"is_{attr}"):
            return attr.replace("_", "-")
    if address.is_private or not address.is_global:
        return "private"
    return None


def system_resolver(host: str, port: int) -> list[str]:
    """All addresses ``host`` resolves to (A and AAAA)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


@dataclass(frozen=True)
class _Entry:
    host: str
    port: int | None
    wildcard: bool

    @classmethod
    def parse(cls, text: str) -> _Entry:
        text = text.strip().lower()
        host, port = text, None
        if text.startswith("["):  # [::1]:8080
            host, _, rest = text[1:].partition("]")
            port = int(rest[1:]) if rest.startswith(":") else None
        elif text.count(":") == 1:
            host, _, port_text = text.partition(":")
            port = int(port_text)
        return cls(host=host, port=port, wildcard="*" in host)

    def matches(self, host: str, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        return fnmatchcase(host, self.host) if self.wildcard else host == self.host


class HostPolicy:
    """Decides whether a URL or a resolved address may be contacted.

    Examples
    --------
    >>> p = HostPolicy(["127.0.0.1:8765", "*.example.org"], resolver=lambda h, p: ["93.184.215.14"])
    >>> p.check_url("http://127.0.0.1:8765/hp.owl")
    >>> p.check_url("http://127.0.0.1:9999/hp.owl")
    Traceback (most recent call last):
    ...
    ontolab.errors.PolicyViolation: [E_POLICY_HOST_NOT_ALLOWED] ...
    """

    def __init__(
        self,
        allowed_hosts: Iterable[str],
        *,
        allow_private_networks: bool = False,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.entries = tuple(_Entry.parse(h) for h in allowed_hosts if h.strip())
        self.allow_private_networks = allow_private_networks
        self._resolve = resolver

    @staticmethod
    def split(url: str) -> tuple[str, str, int]:
        """``(scheme, host, port)`` of ``url``, host lower-cased without brackets."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise PolicyViolation(
                f"only http and https URLs are fetched, not {scheme or 'a bare path'!r}",
                code="E_POLICY_SCHEME",
                url=url,
            )
        if not parts.hostname:
            raise PolicyViolation("the URL has no host", code="E_POLICY_SCHEME", url=url)
        try:
            port = parts.port or DEFAULT_PORTS[scheme]
        except ValueError as exc:
            raise PolicyViolation(f"bad port: {exc}", code="E_POLICY_SCHEME", url=url) from exc
        return scheme, parts.hostname.lower().rstrip("."), port

    def _listed(self, host: str, port: int, *, exact: bool) -> bool:
        return any(e.matches(host, port) for e in self.entries if not (exact and e.wildcard)) or (
            not exact and any(e.host == "*" and e.port in (None, port) for e in self.entries)
        )

    def check_address(self, host: str, port: int, address: str, *, url: str | None = None) -> None:
        """Refuse a special address unless ``host`` is listed exactly (or private is allowed)."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        kind = classify_address(ip)
        if kind is None or self._listed(host, port, exact=True):
            return
        if self.allow_private_networks and kind != "metadata":
            return
        code = "E_POLICY_METADATA_ADDRESS" if kind == "metadata" else "E_POLICY_PRIVATE_ADDRESS"
        shown = host if host == address else f"{host} ({address})"
        raise PolicyViolation(
            f"refusing to connect to {kind} address {shown}:{port}; "
            f"list '{host}:{port}' in http.allowed_hosts if this is intended",
            code=code,
            url=url,
        )

    def check_url(self, url: str) -> None:
        """Raise :class:`PolicyViolation` unless ``url`` may be fetched. Resolves the name."""
        _, host, port = self.split(url)
        literal = _literal_ip(host)
        if literal is not None:
            self.check_address(host, port, literal, url=url)
        if not self._listed(host, port, exact=False):
            raise PolicyViolation(
                f"host {host}:{port} is not in http.allowed_hosts; add it (or "
                f"'{host}:{port}') to fetch from it",
                code="E_POLICY_HOST_NOT_ALLOWED",
                url=url,
            )
        if literal is None:
            for address in self.resolve(host, port, url=url):
                self.check_address(host, port, address, url=url)

    def resolve(self, host: str, port: int, *, url: str | None = None) -> Sequence[str]:
        try:
            addresses = self._resolve(host, port)
        except OSError as exc:
            raise NetworkError(f"cannot resolve {host}: {exc}", code="E_NET_DNS", url=url) from exc
        if not addresses:
            raise NetworkError(f"{host} resolves to no address", code="E_NET_DNS", url=url)
        return addresses


def _literal_ip(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None
