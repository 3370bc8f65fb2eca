"""The HTTP layer: error translation, redirects under policy, retries, pacing."""

from __future__ import annotations

import random
from collections.abc import Callable

import httpx
import pytest

from ontolab.errors import (
    ClientHTTPError,
    FetchError,
    NetworkError,
    PolicyViolation,
    ServerError,
    TooManyRedirects,
    is_transient,
)
from ontolab.net import HostRateLimiter, HttpSession, RetryPolicy, translate

SessionFactory = Callable[..., HttpSession]


@pytest.mark.parametrize(
    ("exc", "code", "transient"),
    [
        (httpx.ConnectTimeout("t"), "E_NET_TIMEOUT", True),
        (httpx.ReadTimeout("t"), "E_NET_TIMEOUT", True),
        (httpx.ConnectError("refused"), "E_NET_CONNECT", True),
        (httpx.ReadError("reset"), "E_NET_RESET", True),
        (httpx.RemoteProtocolError("incomplete body"), "E_NET_PROTOCOL", True),
        (httpx.UnsupportedProtocol("gopher"), "E_NET", True),
    ],
)
def test_httpx_exceptions_map_to_codes(exc: httpx.HTTPError, code: str, transient: bool) -> None:
    mapped = translate(exc, "https://example.org/x")
    assert isinstance(mapped, FetchError)
    assert mapped.code == code
    assert is_transient(mapped) is transient
    assert mapped.url == "https://example.org/x"


def test_every_redirect_hop_is_checked_before_connecting(mock_session: SessionFactory) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})

    session = mock_session(handler)
    with pytest.raises(PolicyViolation) as info, session.open("GET", "https://example.org/hp.owl"):
        pass
    assert info.value.code == "E_POLICY_METADATA_ADDRESS"
    assert seen == ["https://example.org/hp.owl"]  # the metadata address was never requested


def test_redirect_loop_stops_at_max_redirects(mock_session: SessionFactory) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url)
        return httpx.Response(302, headers={"Location": "/loop"})

    session = mock_session(handler, max_redirects=4)
    with pytest.raises(TooManyRedirects), session.open("GET", "https://example.org/loop"):
        pass
    assert len(calls) == 5


def test_credentials_only_go_to_their_prefix(mock_session: SessionFactory) -> None:
    auth: dict[str, str | None] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        auth[request.url.host] = request.headers.get("authorization")
        if request.url.host == "api.example.org":
            return httpx.Response(302, headers={"Location": "https://files.example.org/x.owl"})
        return httpx.Response(200, content=b"ok")

    session = mock_session(handler)
    session.credentials = {"https://api.example.org/": {"Authorization": "apikey token=k"}}
    with session.open("GET", "https://api.example.org/ontologies/X/download") as reply:
        assert reply.redirects == ["https://files.example.org/x.owl"]
    assert auth == {"api.example.org": "apikey token=k", "files.example.org": None}


@pytest.mark.parametrize(
    ("status", "cls", "code"),
    [
        (404, ClientHTTPError, "E_HTTP_404"),
        (503, ServerError, "E_HTTP_503"),
        (429, ServerError, "E_HTTP_429"),
        (500, ServerError, "E_HTTP_500"),
    ],
)
def test_statuses_map_to_errors(
    mock_session: SessionFactory, status: int, cls: type[FetchError], code: str
) -> None:
    session = mock_session(lambda r: httpx.Response(status, headers={"Retry-After": "3"}))
    with pytest.raises(cls) as info, session.open("GET", "https://example.org/x"):
        pass
    assert info.value.code == code
    if isinstance(info.value, ServerError):
        assert info.value.retry_after == 3.0


def test_retry_honours_retry_after_then_succeeds() -> None:
    sleeps: list[float] = []
    policy = RetryPolicy(retries=3, sleep=sleeps.append, rng=random.Random(1))
    outcomes = [ServerError("busy", status=429, retry_after=2.0), NetworkError("reset")]

    def attempt(n: int) -> str:
        if n < len(outcomes):
            raise outcomes[n]
        return "done"

    assert policy.call(attempt) == "done"
    assert sleeps[0] == 2.0
    assert 0.5 <= sleeps[1] <= 1.0  # base 0.5 * 2**1 with equal jitter


def test_no_retry_on_terminal_errors() -> None:
    calls = []

    def attempt(n: int) -> None:
        calls.append(n)
        raise ClientHTTPError("gone", status=404)

    with pytest.raises(ClientHTTPError):
        RetryPolicy(retries=5, sleep=lambda s: None).call(attempt)
    assert calls == [0]


def test_exhausted_retries_say_so() -> None:
    def attempt(n: int) -> None:
        raise ServerError("down", status=503)

    with pytest.raises(ServerError, match="gave up after 3 attempts"):
        RetryPolicy(retries=2, backoff_base_s=0, sleep=lambda s: None).call(attempt)


def test_retry_after_beyond_the_cap_gives_up_at_once() -> None:
    sleeps: list[float] = []

    def attempt(n: int) -> None:
        raise ServerError("later", status=503, retry_after=3600)

    with pytest.raises(ServerError, match="max_retry_after_s"):
        RetryPolicy(retries=5, max_retry_after_s=60, sleep=sleeps.append).call(attempt)
    assert sleeps == []


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(backoff_base_s=1, backoff_max_s=8, rng=random.Random(0))
    delays = [policy.delay(n, NetworkError("x")) for n in range(6)]
    assert delays[0] <= 1 and 4 <= delays[3] <= 8 and delays[5] <= 8


def test_rate_limiter_spaces_requests_per_host() -> None:
    clock = [0.0]
    slept: list[float] = []
    limiter = HostRateLimiter({"www.ebi.ac.uk": "4/s"}, clock=lambda: clock[0], sleep=slept.append)
    waits = [limiter.wait("www.ebi.ac.uk") for _ in range(3)]
    assert waits == [0.0, 0.25, 0.5]
    assert limiter.wait("purl.obolibrary.org") == 0.0
    assert slept == [0.25, 0.5]
