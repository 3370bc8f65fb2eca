"""A cheap version probe: HEAD, then a Range read of the first 64 KiB.

Ontologies declare their version near the top (``data-version:`` in OBO, ``owl:versionIRI`` in
OWL), so 64 KiB is enough to know what a download would bring without downloading it.
"""

from __future__ import annotations

import bz2
import lzma
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from ontolab.errors import OntolabError
from ontolab.formats import decode_head, detect_text, release_from_iri
from ontolab.models import Artifact
from ontolab.net import HttpSession, Reply

HEAD_BYTES = 64 * 1024
_OBO_TAG = re.compile(rb"^(data-version|ontology|date|property_value):[ \t]*(.+?)[ \t]*$", re.M)
_VERSION_IRI = re.compile(
    rb"""owl:versionIRI\s*(?:rdf:resource\s*=\s*["']([^"']+)["']|<([^>]+)>)"""
    rb"""|<VersionIRI\s+IRI\s*=\s*["']([^"']+)["']"""
)
_VERSION_INFO = re.compile(
    rb"""owl:versionInfo[^>]*>([^<]+)<|owl:versionInfo\s+"([^"]+)"|"versionInfo"\s*:\s*"([^"]+)\""""
)
_FUNCTIONAL = re.compile(rb"^\s*Ontology\(\s*<([^>]+)>\s*<([^>]+)>", re.M)
_JSON_VERSION = re.compile(rb'"version"\s*:\s*"([^"]+)"|"versionInfo"\s*:\s*"([^"]+)"')
_TITLE = re.compile(rb"<(?:dc|dcterms|terms):title[^>]*>([^<]+)<")
_LICENCE = re.compile(
    rb"""<(?:dc|dcterms|terms):license\s+rdf:resource\s*=\s*["']([^"']+)["']"""
    rb"""|<(?:dc|dcterms|terms):license[^>]*>([^<]+)<"""
    rb"""|property_value:\s*(?:dcterms:license|http://purl.org/dc/terms/license)\s+(\S+)"""
)


@dataclass(frozen=True)
class Sniff:
    """What the first bytes of a file say about it."""

    kind: str | None = None  # obo, rdfxml, owlxml, turtle, ntriples, json, functional, html
    version: str | None = None
    version_iri: str | None = None
    title: str | None = None
    licence: str | None = None
    compression: str | None = None


@dataclass(frozen=True)
class Probe:
    url: str
    final_url: str
    size: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    redirects: tuple[str, ...] = ()
    sniff: Sniff = field(default_factory=Sniff)

    @property
    def version(self) -> str | None:
        return self.sniff.version or release_from_iri(self.final_url)


def _decompress_head(head: bytes) -> tuple[bytes, str | None]:
    """Best-effort decompression of a compressed file's first bytes."""
    try:
        if head[:2] == b"\x1f\x8b":
            return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, HEAD_BYTES), "gzip"
        if head[:3] == b"BZh":
            return bz2.BZ2Decompressor().decompress(head, HEAD_BYTES), "bz2"
        if head[:6] == b"\xfd7zXZ\x00":
            return lzma.LZMADecompressor().decompress(head, HEAD_BYTES), "xz"
    except (zlib.error, OSError, EOFError, lzma.LZMAError):
        return b"", "unknown"
    if head[:4] == b"PK\x03\x04":
        return b"", "zip"
    if head[:4] == b"\x28\xb5\x2f\xfd":
        return b"", "zstd"
    return head, None


def _kind(text: bytes) -> str | None:
    found = detect_text(decode_head(text), complete=False)
    return None if found == "unknown" else found


def _first(match: re.Match[bytes] | None) -> str | None:
    if match is None:
        return None
    for group in match.groups():
        if group:
            return group.decode("utf-8", "replace").strip()
    return None


def sniff(head: bytes) -> Sniff:
    """Read kind, version, version IRI, title and licence from a file's first bytes.

    Examples
    --------
    >>> sniff(b"format-version: 1.2\\ndata-version: hp/releases/2025-01-16\\n").version
    '2025-01-16'
    >>> s = sniff(b'<rdf:RDF><owl:Ontology><owl:versionIRI rdf:resource="http://x/releases/v2/x.owl"/>')
    >>> (s.kind, s.version, s.version_iri)
    ('rdfxml', 'v2', 'http://x/releases/v2/x.owl')
    """
    text, compression = _decompress_head(head)
    kind = _kind(text)
    version = version_iri = title = licence = None
    if kind == "obo":
        tags = {k.decode(): v.decode("utf-8", "replace") for k, v in _OBO_TAG.findall(text)}
        raw = tags.get("data-version")
        version = release_from_iri(f"/{raw}/") if raw and "/releases/" in f"/{raw}/" else raw
        licence = _first(_LICENCE.search(text))
    elif kind == "functional":
        match = _FUNCTIONAL.search(text)
        version_iri = match[2].decode() if match else None
    elif kind in ("obographs", "jsonld"):
        version_iri = _first(_VERSION_IRI.search(text))
        version = _first(_JSON_VERSION.search(text))
    elif kind not in (None, "html"):
        version_iri = _first(_VERSION_IRI.search(text))
        title = _first(_TITLE.search(text))
        licence = _first(_LICENCE.search(text))
    if version is None and kind not in (None, "html", "obo"):
        version = release_from_iri(version_iri) or _first(_VERSION_INFO.search(text))
        if version is None and version_iri and kind not in ("obographs", "jsonld"):
            version = version_iri
    if kind in ("obographs", "jsonld") and version and version.startswith("http"):
        version_iri, version = version, release_from_iri(version) or version
    return Sniff(kind, version, version_iri, title, licence, compression)


def read_head(reply: Reply, limit: int = HEAD_BYTES) -> bytes:
    """Up to ``limit`` bytes of a streaming body; the rest is never read."""
    buffer = bytearray()
    for chunk in reply.response.iter_raw():
        buffer += chunk
        if len(buffer) >= limit:
            break
    return bytes(buffer[:limit])


def probe(
    session: HttpSession, url: str, *, known: Callable[[str], Artifact | None] | None = None
) -> Probe:
    """HEAD ``url`` then read its first 64 KiB; no body beyond that is transferred.

    Servers that refuse HEAD (405/501) are probed with the ranged GET alone. When ``known``
    returns an artifact for the final URL with the same strong ETag, nothing changed
    upstream: its version is reused and no body byte is read.
    """
    headers: dict[str, str | None] = {}
    redirects: tuple[str, ...] = ()
    final = url
    size: int | None = None

    def head(_: int) -> None:
        nonlocal final, redirects, size
        headers_ = {"Accept-Encoding": "identity"}
        with session.open("HEAD", url, headers=headers_, expect=(200, 405, 501)) as reply:
            if reply.status != 200:
                return  # HEAD not supported: the ranged GET below tells us everything
            final, redirects = reply.url, tuple(reply.redirects)
            for name in ("etag", "last-modified", "content-type"):
                headers[name] = reply.header(name)
            length = reply.header("content-length")
            size = int(length) if length and length.isdigit() else None

    session.retry.call(head)
    seen = known(final) if known is not None else None
    etag = headers.get("etag")
    if seen is not None and etag and not etag.startswith("W/") and seen.etag == etag:
        return Probe(
            url=url,
            final_url=final,
            size=size,
            etag=etag,
            last_modified=headers.get("last-modified"),
            content_type=headers.get("content-type"),
            redirects=redirects,
            sniff=Sniff(version=seen.version, version_iri=seen.version_iri),
        )

    def ranged(_: int) -> bytes:
        nonlocal final, redirects, size
        request_headers = {"Range": f"bytes=0-{HEAD_BYTES - 1}", "Accept-Encoding": "identity"}
        with session.open("GET", final, headers=request_headers, expect=(200, 206)) as reply:
            if final == url:
                final, redirects = reply.url, tuple(reply.redirects)
            for name in ("etag", "last-modified", "content-type"):
                headers[name] = headers.get(name) or reply.header(name)
            total = (reply.header("content-range") or "").rpartition("/")[2]
            if size is None and total.isdigit():
                size = int(total)
            return read_head(reply)

    try:
        head_bytes = session.retry.call(ranged)
    except OntolabError:
        head_bytes = b""  # metadata from HEAD is still useful; the version stays unknown
    return Probe(
        url=url,
        final_url=final,
        size=size,
        etag=headers.get("etag"),
        last_modified=headers.get("last-modified"),
        content_type=headers.get("content-type"),
        redirects=redirects,
        sniff=sniff(head_bytes),
    )
