"""Download semantics over MockTransport: conditional GET, resume, pins, limits, store."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from ontolab.errors import IntegrityError, NetworkError, PolicyViolation
from ontolab.fetch import ContentStore, download
from ontolab.models import PlanItem
from ontolab.net import HttpSession

BODY = bytes(range(256)) * 4096  # 1 MiB
SHA = hashlib.sha256(BODY).hexdigest()
ETAG = '"v1"'
URL = "https://example.org/hp.owl"


class Breaking(httpx.SyncByteStream):
    """A body that breaks after ``cut`` bytes, as a reset connection does."""

    def __init__(self, data: bytes, cut: int) -> None:
        self.data, self.cut = data, cut

    def __iter__(self) -> Iterator[bytes]:
        yield self.data[: self.cut]
        raise httpx.ReadError("connection reset by peer")


class Server:
    """Serves BODY with ETag and Range like a real origin; can break the first response."""

    def __init__(self, *, break_at: float | None = None, body: bytes = BODY) -> None:
        self.break_at = break_at
        self.body = body
        self.requests: list[httpx.Request] = []
        self.sent = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        headers = {"ETag": ETAG, "Accept-Ranges": "bytes"}
        if request.headers.get("if-none-match") == ETAG:
            return httpx.Response(304, headers=headers)
        body, status = self.body, 200
        ranged = request.headers.get("range")
        if ranged and request.headers.get("if-range") == ETAG:
            start = int(ranged.removeprefix("bytes=").rstrip("-"))
            body, status = self.body[start:], 206
            headers["Content-Range"] = f"bytes {start}-{len(self.body) - 1}/{len(self.body)}"
        headers["Content-Length"] = str(len(body))
        if self.break_at is not None:
            cut = int(len(body) * self.break_at)
            self.break_at = None
            self.sent += cut
            return httpx.Response(status, headers=headers, stream=Breaking(body, cut))
        self.sent += len(body)
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(body))


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(tmp_path)


def item(**kw: object) -> PlanItem:
    return PlanItem(ontology="hp", resolver="url", url=URL, **kw)  # type: ignore[arg-type]


def test_download_stores_by_sha256_atomically(
    mock_session: Callable[..., HttpSession], store: ContentStore
) -> None:
    done = download(mock_session(Server()), store, item())
    assert done.artifact.sha256 == SHA
    assert done.artifact.path == store.path_for(SHA)
    assert done.artifact.path.read_bytes() == BODY
    assert list(store.staging.iterdir()) == []  # nothing left half-written


def test_second_download_is_conditional_and_moves_no_body(
    mock_session: Callable[..., HttpSession], store: ContentStore
) -> None:
    server = Server()
    session = mock_session(server)
    first = download(session, store, item())
    second = download(session, store, item(), previous=first.artifact)
    assert server.requests[-1].headers["if-none-match"] == ETAG
    assert second.changed is False and second.bytes_transferred == 0
    assert server.sent == len(BODY)


def test_reset_mid_body_resumes_with_range_and_if_range(
    mock_session: Callable[..., HttpSession], store: ContentStore
) -> None:
    server = Server(break_at=0.6)
    done = download(mock_session(server), store, item())
    assert done.artifact.sha256 == SHA
    assert done.resumed_from == int(len(BODY) * 0.6)
    retry = server.requests[1]
    assert retry.headers["range"] == f"bytes={int(len(BODY) * 0.6)}-"
    assert retry.headers["if-range"] == ETAG
    assert done.bytes_transferred <= 1.1 * len(BODY)


def test_pin_mismatch_stores_nothing(
    mock_session: Callable[..., HttpSession], store: ContentStore
) -> None:
    with pytest.raises(IntegrityError) as info:
        download(mock_session(Server()), store, item(sha256="0" * 64))
    assert info.value.code == "E_FETCH_PIN_MISMATCH"
    assert not store.root.exists() or not any(store.root.rglob("*"))
    assert list(store.staging.iterdir()) == []


def test_a_pin_the_stored_bytes_break_is_not_satisfied_by_a_304(
    mock_session: Callable[..., HttpSession], store: ContentStore
) -> None:
    # A hand-edited lock file: the stored version is unchanged upstream, but its sha256
    # is not the pinned one. A conditional GET would answer 304 and vouch for it.
    server = Server()
    session = mock_session(server)
    first = download(session, store, item())
    with pytest.raises(IntegrityError) as info:
        download(session, store, item(sha256="0" * 64), previous=first.artifact)
    assert info.value.code == "E_FETCH_PIN_MISMATCH"
    assert "if-none-match" not in server.requests[-1].headers


def test_pinned_bytes_already_stored_need_no_request(
    mock_session: Callable[..., HttpSession], store: ContentStore
) -> None:
    server = Server()
    session = mock_session(server)
    download(session, store, item())
    again = download(session, store, item(sha256=SHA))
    assert again.artifact.sha256 == SHA
    assert len(server.requests) == 1


def test_declared_size_over_the_limit_is_refused_before_reading(
    mock_session: Callable[..., HttpSession], store: ContentStore
) -> None:
    with pytest.raises(PolicyViolation) as info:
        download(mock_session(Server(), max_download_bytes=1000), store, item())
    assert info.value.code == "E_POLICY_TOO_LARGE"
    assert list(store.staging.iterdir()) == []


def test_undeclared_size_is_capped_while_streaming(
    mock_session: Callable[..., HttpSession], store: ContentStore
) -> None:
    def chunked(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=httpx.ByteStream(BODY))  # no Content-Length

    with pytest.raises(PolicyViolation, match=r"over http\.max_download_bytes"):
        download(mock_session(chunked, max_download_bytes=4096), store, item())


def test_short_body_is_truncation_and_is_retried(
    mock_session: Callable[..., HttpSession], store: ContentStore
) -> None:
    calls = []

    def short(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(
            200, headers={"Content-Length": str(len(BODY))}, stream=httpx.ByteStream(BODY[:10])
        )

    with pytest.raises(NetworkError) as info:
        download(mock_session(short, retries=2), store, item())
    assert info.value.code == "E_NET_TRUNCATED"
    assert len(calls) == 3
    assert not store.root.exists()


def test_identical_content_from_two_urls_is_stored_once(
    mock_session: Callable[..., HttpSession], store: ContentStore
) -> None:
    session = mock_session(Server())
    a = download(session, store, item())
    b = download(session, store, PlanItem(ontology="hp2", resolver="url", url=URL + "?mirror=2"))
    assert a.artifact.path == b.artifact.path
    assert sum(1 for p in store.root.rglob("*") if p.is_file()) == 1
