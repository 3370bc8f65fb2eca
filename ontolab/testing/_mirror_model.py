"""Value objects of the local mirror: faults, request records and served files."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Literal

__all__ = [
    "BODY_FAULTS",
    "Fault",
    "FaultKind",
    "OlsFileLocation",
    "Release",
    "RequestRecord",
    "ServedFile",
    "content_type_for",
    "file_digest",
]

FaultKind = Literal[
    "status",
    "reset",
    "truncate",
    "trickle",
    "wrong_bytes",
    "redirect_loop",
    "redirect_to",
    "html_page",
]
OlsFileLocation = Literal["release", "null", "iri"]

#: Faults that change how a file body is sent; the others replace the whole response.
BODY_FAULTS: frozenset[str] = frozenset({"reset", "truncate", "trickle", "wrong_bytes"})

_CONTENT_TYPES = {
    ".owl": "application/rdf+xml",
    ".rdf": "application/rdf+xml",
    ".obo": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".ttl": "text/turtle",
    ".gz": "application/gzip",
    ".zip": "application/zip",
    ".txt": "text/plain; charset=utf-8",
    ".xml": "application/xml",
}


@dataclass(frozen=True)
class Fault:
    """A misbehaviour the mirror injects into matching responses.

    Build one with the class methods (``Fault.status(503, retry_after=2)``,
    ``Fault.reset(0.6)``, ...) and register it with ``Mirror.inject``.
    """

    kind: FaultKind
    code: int = 200
    retry_after: int | str | None = None
    body: bytes = b""
    at_fraction: float = 0.5
    bytes_per_s: int = 50_000
    total_s: float = 10.0
    location: str | None = None

    @classmethod
    def status(cls, code: int, retry_after: int | str | None = None, body: bytes = b"") -> Fault:
        """Answer with ``code`` (e.g. 500, 503, 429) and an optional ``Retry-After``."""
        return cls("status", code=code, retry_after=retry_after, body=body)

    @classmethod
    def reset(cls, at_fraction: float = 0.6) -> Fault:
        """Send the headers and ``at_fraction`` of the body, then abort with a TCP RST."""
        _check_fraction(at_fraction)
        return cls("reset", at_fraction=at_fraction)

    @classmethod
    def truncate(cls, at_fraction: float = 0.5) -> Fault:
        """Promise the full ``Content-Length``, send ``at_fraction`` of it, close cleanly."""
        _check_fraction(at_fraction)
        return cls("truncate", at_fraction=at_fraction)

    @classmethod
    def trickle(cls, bytes_per_s: int = 50_000, total_s: float = 10.0) -> Fault:
        """Send the body at ``bytes_per_s``; give up and close after ``total_s`` seconds."""
        if bytes_per_s < 1 or total_s <= 0:
            raise ValueError("trickle needs bytes_per_s >= 1 and total_s > 0")
        return cls("trickle", bytes_per_s=bytes_per_s, total_s=total_s)

    @classmethod
    def wrong_bytes(cls) -> Fault:
        """Send the right length and ETag but corrupted bytes in the middle of the body."""
        return cls("wrong_bytes")

    @classmethod
    def redirect_loop(cls) -> Fault:
        """Redirect into a pair of mirror URLs that redirect to each other forever."""
        return cls("redirect_loop", code=302)

    @classmethod
    def redirect_to(cls, url: str) -> Fault:
        """Answer ``302 Found`` with ``Location: url`` (never fetched by the mirror)."""
        return cls("redirect_to", code=302, location=url)

    @classmethod
    def html_page(cls, status: int = 200) -> Fault:
        """Serve an HTML error page (``text/html``) instead of the requested file."""
        return cls("html_page", code=status)

    @property
    def label(self) -> str:
        """Short name recorded in the request log, e.g. ``"status:503"``."""
        return f"{self.kind}:{self.code}" if self.kind in ("status", "html_page") else self.kind


def _check_fraction(at_fraction: float) -> None:
    if not 0.0 <= at_fraction < 1.0:
        raise ValueError(f"at_fraction must be in [0, 1), got {at_fraction}")


@dataclass(frozen=True)
class RequestRecord:
    """One request as the mirror saw and answered it."""

    method: str
    path: str
    query: str
    status: int
    request_headers: dict[str, str]
    range: str | None
    bytes_sent: int
    started: float
    fault: str | None


@dataclass(frozen=True)
class ServedFile:
    """A file on disk with the validators computed once when it was published."""

    path: Path
    name: str
    size: int
    etag: str
    last_modified: datetime
    content_type: str

    @classmethod
    def describe(
        cls, path: Path, name: str, last_modified: datetime, digest: tuple[int, str]
    ) -> ServedFile:
        """Describe ``path`` served as ``name``; ``digest`` is ``file_digest(path)``."""
        stamp = last_modified if last_modified.tzinfo else last_modified.replace(tzinfo=UTC)
        size, etag = digest
        return cls(
            path=path,
            name=name,
            size=size,
            etag=etag,
            # HTTP dates have whole seconds; truncating keeps If-Modified-Since exact.
            last_modified=stamp.astimezone(UTC).replace(microsecond=0),
            content_type=content_type_for(name),
        )

    @property
    def http_date(self) -> str:
        """``Last-Modified`` as an RFC 7231 IMF-fixdate."""
        return format_datetime(self.last_modified, usegmt=True)


@dataclass(frozen=True)
class Release:
    """One published version of an ontology: a main file and optional products."""

    ontology_id: str
    version: str
    main: str
    files: dict[str, ServedFile]
    submission_id: int
    published: datetime
    title: str | None = None
    license: str | None = None
    number_of_terms: int | None = None


def file_digest(path: Path) -> tuple[int, str]:
    """Return ``(size, strong_etag)``, hashing ``path`` in streaming chunks.

    The ETag is the first 32 hex digits of the SHA-256, quoted.
    """
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, f'"{digest.hexdigest()[:32]}"'


def content_type_for(name: str) -> str:
    """Guess the ``Content-Type`` an ontology host would send for ``name``."""
    return _CONTENT_TYPES.get(Path(name).suffix.lower(), "application/octet-stream")
