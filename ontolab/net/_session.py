"""The one place ontolab's HTTP client is built and every request goes through.

Redirects are followed here, hop by hop, so the host policy sees each target *before* a
connection is made; httpx exceptions are translated to ontolab's error tree here and only here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urljoin, urlsplit

import httpx

from ontolab._version import __version__
from ontolab.errors import (
    ClientHTTPError,
    FetchError,
    HTTPStatusError,
    NetworkError,
    OntolabError,
    ServerError,
    TooManyRedirects,
)
from ontolab.net._ratelimit import HostRateLimiter
from ontolab.net._retry import RetryHook, RetryPolicy, parse_retry_after
from ontolab.net._transport import GuardedTransport
from ontolab.policy import HostPolicy
from ontolab.settings import HttpSettings, OntolabSettings

log = logging.getLogger("ontolab.net")
T = TypeVar("T")
REDIRECTS = frozenset({301, 302, 303, 307, 308})
USER_AGENT = f"ontolab/{__version__} (+https://pypi.org/project/ontolab/)"


@dataclass(frozen=True)
class RetryNotice:
    """One retry about to happen: what failed, and how long the session waits before it.

    ``attempt`` counts from 1 (the attempt that failed); ``status`` is the HTTP status of a
    429/5xx answer, None for a network error.
    """

    url: str | None
    host: str | None
    error_code: str
    status: int | None
    attempt: int
    wait_s: float


RetryObserver = Callable[[RetryNotice], None]


@dataclass
class _SessionRetry(RetryPolicy):
    """The session's retry policy: every retry, of a download, a probe or an API call, is
    logged and handed to the session's observer, whoever called ``session.retry.call``."""

    hook: RetryHook | None = None

    def call(self, fn: Callable[[int], T], *, on_retry: RetryHook | None = None) -> T:
        if self.hook is None:
            return super().call(fn, on_retry=on_retry)
        hook = self.hook

        def both(exc: OntolabError, attempt: int, wait: float) -> None:
            if on_retry is not None:
                on_retry(exc, attempt, wait)
            hook(exc, attempt, wait)

        return super().call(fn, on_retry=both)


@dataclass
class Reply:
    """A response whose body has not been read, plus the redirect chain that led to it."""

    response: httpx.Response
    url: str
    redirects: list[str] = field(default_factory=list)
    started: float = 0.0
    ttfb_s: float = 0.0

    @property
    def status(self) -> int:
        return self.response.status_code

    def header(self, name: str) -> str | None:
        value: str | None = self.response.headers.get(name)
        return value


def translate(exc: httpx.HTTPError, url: str) -> FetchError:
    """Map an httpx exception to the ontolab error a user can act on."""
    if isinstance(exc, httpx.TimeoutException):
        kind = type(exc).__name__.replace("Timeout", "").lower() or "request"
        return NetworkError(
            f"{kind} timed out; raise http.timeout_s or retry later",
            code="E_NET_TIMEOUT",
            url=url,
        )
    if isinstance(exc, httpx.ConnectError):
        return NetworkError(f"cannot connect: {exc}", code="E_NET_CONNECT", url=url)
    if isinstance(exc, httpx.RemoteProtocolError):
        return NetworkError(f"protocol error: {exc}", code="E_NET_PROTOCOL", url=url)
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return NetworkError(
            f"connection broken mid-transfer: {exc or type(exc).__name__}",
            code="E_NET_RESET",
            url=url,
        )
    return NetworkError(f"{type(exc).__name__}: {exc}", code="E_NET", url=url)


def status_error(reply: Reply, snippet: str = "") -> FetchError:
    """The error for an unexpected status, with the server's own words when short."""
    status = reply.status
    said = f": {snippet.strip()[:200]}" if snippet.strip() else ""
    if status == 429 or status >= 500:
        retry_after = parse_retry_after(reply.header("retry-after"))
        hint = f" (Retry-After {retry_after:.0f}s)" if retry_after is not None else ""
        return ServerError(
            f"server answered {status}{hint}{said}",
            status=status,
            retry_after=retry_after,
            url=reply.url,
        )
    return ClientHTTPError(f"server answered {status}{said}", status=status, url=reply.url)


class HttpSession:
    """One httpx client, the host policy, per-host pacing, credentials and retries.

    Parameters
    ----------
    settings
        The ``http`` section.
    policy
        Host policy (default: built from ``settings``).
    transport
        Replace the guarded transport, e.g. with ``httpx.MockTransport`` in unit tests.
        The policy still checks every URL and redirect hop.
    credentials
        ``{url_prefix: headers}``; headers are sent only to URLs under the prefix, so a
        redirect to another host never carries an API key.
    on_retry
        Called with a :class:`RetryNotice` before each retry (from the thread that retries);
        a pipeline run records it as a ``fetch.retry`` event. Settable later as ``on_retry``.
    """

    def __init__(
        self,
        settings: HttpSettings,
        *,
        policy: HostPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        credentials: Mapping[str, Mapping[str, str]] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_retry: RetryObserver | None = None,
    ) -> None:
        self.settings = settings
        self.on_retry = on_retry
        self.policy = policy or HostPolicy(
            settings.allowed_hosts, allow_private_networks=settings.allow_private_networks
        )
        self.rate_limiter = HostRateLimiter(settings.rate_limits, sleep=sleep)
        self.retry: RetryPolicy = _SessionRetry(
            retries=settings.retries,
            backoff_base_s=settings.backoff_base_s,
            backoff_max_s=settings.backoff_max_s,
            max_retry_after_s=settings.max_retry_after_s,
            sleep=sleep,
            hook=self._retrying,
        )
        self.credentials = {k: dict(v) for k, v in (credentials or {}).items()}
        self.client = httpx.Client(
            transport=transport or GuardedTransport(self.policy, verify=settings.verify_tls),
            timeout=httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s),
            follow_redirects=False,
            headers={"User-Agent": settings.user_agent or USER_AGENT},
        )

    @classmethod
    def from_settings(
        cls, settings: OntolabSettings, *, transport: httpx.BaseTransport | None = None
    ) -> HttpSession:
        """Build the session for a whole run, with resolver credentials wired in."""
        credentials: dict[str, dict[str, str]] = {}
        bioportal = settings.resolvers.bioportal
        if bioportal.api_key is not None:
            token = bioportal.api_key.get_secret_value()
            credentials[bioportal.base_url.rstrip("/") + "/"] = {
                "Authorization": f"apikey token={token}"
            }
        return cls(settings.http, transport=transport, credentials=credentials)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> HttpSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _headers_for(self, url: str, headers: Mapping[str, str] | None) -> dict[str, str]:
        merged = dict(headers or {})
        for prefix, extra in self.credentials.items():
            if url.startswith(prefix) or url + "/" == prefix:
                merged.update(extra)
        return merged

    @contextmanager
    def open(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        expect: tuple[int, ...] = (200,),
    ) -> Iterator[Reply]:
        """Send one request, following redirects hop by hop under the policy.

        The body is not read; the response is closed when the block exits. A status outside
        ``expect`` raises the matching error (``ServerError`` for 5xx/429 with Retry-After).
        """
        chain: list[str] = []
        started = time.monotonic()
        current = url
        for _hop in range(self.settings.max_redirects + 1):
            self.policy.check_url(current)
            self.rate_limiter.wait(urlsplit(current).hostname or "")
            request = self.client.build_request(
                method, current, headers=self._headers_for(current, headers)
            )
            try:
                response = self.client.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise translate(exc, current) from exc
            except OntolabError as exc:  # the connect-time guard
                raise exc.with_context(url=current) from None
            location = response.headers.get("location")
            if response.status_code in REDIRECTS and location:
                response.close()
                current = urljoin(current, location)
                chain.append(current)
                if response.status_code == 303:
                    method = "GET"
                continue
            break
        else:
            raise TooManyRedirects(
                f"more than http.max_redirects={self.settings.max_redirects} redirects "
                f"(last: {current})",
                url=url,
            )
        reply = Reply(response, current, chain, started, time.monotonic() - started)
        try:
            if response.status_code not in expect:
                snippet = ""
                if method != "HEAD":
                    try:
                        snippet = next(response.iter_text(4096), "")
                    except httpx.HTTPError:
                        snippet = ""
                raise status_error(reply, snippet)
            yield reply
        except httpx.HTTPError as exc:
            raise translate(exc, current) from exc
        finally:
            response.close()

    def get_json(self, url: str, *, headers: Mapping[str, str] | None = None) -> object:
        """GET a small JSON document with retries."""

        def attempt(_: int) -> object:
            with self.open(
                "GET", url, headers={"Accept": "application/json", **(headers or {})}
            ) as r:
                r.response.read()
                try:
                    return r.response.json()
                except ValueError as exc:
                    raise ClientHTTPError(
                        f"expected JSON, got {r.header('content-type') or 'no content type'}",
                        status=r.status,
                        code="E_HTTP_NOT_JSON",
                        url=r.url,
                    ) from exc

        return self.retry.call(attempt)

    def _retrying(self, exc: OntolabError, attempt: int, wait: float) -> None:
        """Log a retry and tell the observer; an observer's failure never stops the retry."""
        url = exc.url
        log.warning("retrying %s in %.1fs after %s (attempt %d)", url, wait, exc.code, attempt + 1)
        observer = self.on_retry
        if observer is None:
            return
        notice = RetryNotice(
            url=url,
            host=(urlsplit(url).hostname if url else None),
            error_code=exc.code,
            status=exc.status if isinstance(exc, HTTPStatusError) else None,
            attempt=attempt + 1,
            wait_s=wait,
        )
        try:
            observer(notice)
        except Exception:  # observability must not turn a retry into a failure
            log.warning("retry observer failed for %s", url, exc_info=True)
