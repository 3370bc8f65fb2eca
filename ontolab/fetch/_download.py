"""One download: conditional GET, resume with Range + If-Range, sha256 while streaming.

The partial file and what we know about it (``.part`` + ``.part.json``) survive a failed
attempt and even a killed process, so the next attempt or the next run resumes where the last
one stopped, provided the server still serves the same representation (If-Range).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import httpx

from ontolab.durable import storage_error
from ontolab.errors import IntegrityError, NetworkError, TooLarge
from ontolab.fetch._store import ContentStore
from ontolab.models import Artifact, PlanItem
from ontolab.net import HttpSession, Reply, translate

CHUNK = 1 << 20
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


class Progress(Protocol):
    """Receives download progress; the CLI draws bars, notebooks use tqdm."""

    def start(self, ontology: str, total: int | None, done: int) -> None: ...
    def advance(self, ontology: str, nbytes: int) -> None: ...
    def finish(self, ontology: str) -> None: ...


class NoProgress:
    def start(self, ontology: str, total: int | None, done: int) -> None:
        pass

    def advance(self, ontology: str, nbytes: int) -> None:
        pass

    def finish(self, ontology: str) -> None:
        pass


@dataclass
class Downloaded:
    """What one successful download produced."""

    artifact: Artifact
    changed: bool
    bytes_transferred: int
    resumed_from: int
    attempts: int


class _Partial:
    """A ``.part`` file plus the validators of the response that started it."""

    def __init__(self, store: ContentStore, item: PlanItem) -> None:
        key = hashlib.sha256(item.url.encode()).hexdigest()[:16]
        self.path = store.staging_path(f"{item.ontology}-{key}.part")
        self.meta_path = self.path.with_suffix(".part.json")
        self.url = item.url

    def resumable(self) -> tuple[int, str] | None:
        """``(offset, if_range)`` when a usable partial file exists."""
        try:
            meta = json.loads(self.meta_path.read_text())
            size = self.path.stat().st_size
        except (OSError, ValueError):
            return None
        validator = meta.get("etag") if not str(meta.get("etag", "W/")).startswith("W/") else None
        validator = validator or meta.get("last_modified")
        if meta.get("url") != self.url or not validator or size == 0:
            return None
        return size, validator

    def remember(self, reply: Reply) -> None:
        meta = {
            "url": self.url,
            "etag": reply.header("etag"),
            "last_modified": reply.header("last-modified"),
        }
        self.meta_path.write_text(json.dumps(meta))

    def discard(self) -> None:
        for path in (self.path, self.meta_path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def _hash_file(path: Path, hasher: hashlib._Hash) -> None:
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            hasher.update(block)


def download(
    session: HttpSession,
    store: ContentStore,
    item: PlanItem,
    *,
    previous: Artifact | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> Downloaded:
    """Fetch ``item.url`` into the store; a 304 or a pinned blob already stored is a no-op.

    Raises
    ------
    IntegrityError
        The bytes do not match the sha256 pin (nothing is stored).
    PolicyViolation
        A host, address or size guard refused the download.
    FetchError
        Network and HTTP failures, after retries.
    """
    if item.sha256 and not force and store.has(item.sha256):
        return Downloaded(_cached(store, item, previous), False, 0, 0, 0)
    job = _Download(session, store, item, previous, force, progress or NoProgress())
    result = session.retry.call(job.attempt)
    result.attempts, result.bytes_transferred = job.attempts, job.transferred
    return result


class _Download:
    """The state one download keeps across its attempts."""

    def __init__(
        self,
        session: HttpSession,
        store: ContentStore,
        item: PlanItem,
        previous: Artifact | None,
        force: bool,
        progress: Progress,
    ) -> None:
        self.session, self.store, self.item = session, store, item
        self.previous, self.force, self.progress = previous, force, progress
        self.partial = _Partial(store, item)
        self.max_bytes = int(session.settings.max_download_bytes)
        self.started = time.monotonic()
        self.attempts = 0
        self.transferred = 0
        if force:
            self.partial.discard()

    def _request_headers(self) -> tuple[dict[str, str], tuple[int, str] | None]:
        headers = {"Accept-Encoding": "identity"}
        resume = self.partial.resumable()
        if resume is not None:
            headers["Range"] = f"bytes={resume[0]}-"
            headers["If-Range"] = resume[1]
        elif (
            self.previous is not None
            and not self.force
            and self.store.has(self.previous.sha256)
            # A 304 would vouch for stored bytes that the pin rules out: fetch and compare.
            and self.item.sha256 in (None, self.previous.sha256)
        ):
            if self.previous.etag:
                headers["If-None-Match"] = self.previous.etag
            if self.previous.last_modified:
                headers["If-Modified-Since"] = self.previous.last_modified
        return headers, resume

    def attempt(self, number: int) -> Downloaded:
        self.attempts = number + 1
        headers, resume = self._request_headers()
        expect = (200, 206, 304, 416)
        with self.session.open("GET", self.item.url, headers=headers, expect=expect) as reply:
            if reply.status == 304 and self.previous is not None:
                return Downloaded(self.previous, False, 0, 0, self.attempts)
            if reply.status in (304, 416):
                self.partial.discard()
                raise NetworkError(
                    f"server answered {reply.status} to a request it should have served; "
                    "starting over",
                    code="E_FETCH_RANGE",
                    url=reply.url,
                )
            offset = _offset(reply, resume, self.partial)
            digest, size = self._stream_body(reply, offset)
            return self._commit(reply, digest, size, offset)

    def _stream_body(self, reply: Reply, offset: int) -> tuple[str, int]:
        """Append the body to the partial file, hashing as it goes; return (sha256, size)."""
        length = reply.header("content-length")
        declared = offset + int(length) if length and length.isdigit() else None
        if declared is not None and declared > self.max_bytes:
            self.partial.discard()
            raise _too_large(declared, self.max_bytes, reply.url)
        hasher = hashlib.sha256()
        if offset:
            _hash_file(self.partial.path, hasher)
        self.partial.remember(reply)
        encoded = reply.header("content-encoding") not in (None, "identity")
        chunks = reply.response.iter_bytes(CHUNK) if encoded else reply.response.iter_raw()
        received = offset
        self.progress.start(self.item.ontology, declared, offset)
        try:
            with self.partial.path.open("ab" if offset else "wb", buffering=0) as out:
                try:
                    for chunk in chunks:
                        received += len(chunk)
                        self.transferred += len(chunk)
                        if received > self.max_bytes:
                            self.partial.discard()
                            raise _too_large(received, self.max_bytes, reply.url)
                        out.write(chunk)
                        hasher.update(chunk)
                        self.progress.advance(self.item.ontology, len(chunk))
                finally:
                    os.fsync(out.fileno())
        except OSError as exc:
            self.partial.discard()  # a full disk: give the space back rather than resume
            raise storage_error(exc, self.partial.path) from exc
        except httpx.HTTPError as exc:
            error = translate(exc, reply.url)
            if error.code == "E_NET_PROTOCOL" and declared is not None and received < declared:
                error.code = "E_NET_TRUNCATED"
                error.message = f"body cut short at {received} of {declared} bytes; will resume"
            raise error from exc
        finally:
            self.progress.finish(self.item.ontology)
        if declared is not None and received != declared:
            raise NetworkError(
                f"body cut short at {received} of {declared} bytes; will resume",
                code="E_NET_TRUNCATED",
                url=reply.url,
            )
        return hasher.hexdigest(), received

    def _commit(self, reply: Reply, digest: str, size: int, offset: int) -> Downloaded:
        """Check the pin, move the file into the store, describe the artifact."""
        item = self.item
        if item.sha256 and digest != item.sha256:
            self.partial.discard()
            raise IntegrityError(
                f"sha256 is {digest}, but {item.sha256} was pinned; the upstream file changed "
                "or is corrupt. Nothing was stored; update the pin only if the change is expected",
                code="E_FETCH_PIN_MISMATCH",
                url=reply.url,
            )
        path = self.store.commit(self.partial.path, digest)
        self.partial.discard()
        artifact = Artifact(
            ontology=item.ontology,
            url=item.url,
            sha256=digest,
            size=size,
            path=path,
            final_url=reply.url,
            etag=reply.header("etag"),
            last_modified=reply.header("last-modified"),
            content_type=reply.header("content-type"),
            resolver=item.resolver,
            version=item.version,
            version_iri=item.version_iri,
            fetched_at=datetime.now(UTC),
            elapsed_s=time.monotonic() - self.started,
            redirects=tuple(reply.redirects),
        )
        changed = self.previous is None or self.previous.sha256 != digest
        return Downloaded(artifact, changed, self.transferred, offset, self.attempts)


def _offset(reply: Reply, resume: tuple[int, str] | None, partial: _Partial) -> int:
    """Where the body starts: the resume offset for a matching 206, else 0."""
    if reply.status == 206:
        match = _CONTENT_RANGE.match(reply.header("content-range") or "")
        if resume is None or not match or int(match[1]) != resume[0]:
            partial.discard()
            raise NetworkError(
                "server sent a range we did not ask for; starting over",
                code="E_FETCH_RANGE",
                url=reply.url,
            )
        return resume[0]
    return 0


def _too_large(size: int, limit: int, url: str) -> TooLarge:
    return TooLarge(f"download is {size} bytes, over http.max_download_bytes={limit}", url=url)


def _cached(store: ContentStore, item: PlanItem, previous: Artifact | None) -> Artifact:
    assert item.sha256 is not None
    if previous is not None and previous.sha256 == item.sha256:
        return previous
    path = store.path_for(item.sha256)
    return Artifact(
        ontology=item.ontology,
        url=item.url,
        sha256=item.sha256,
        size=path.stat().st_size,
        path=path,
        resolver=item.resolver,
        version=item.version,
        version_iri=item.version_iri,
    )
