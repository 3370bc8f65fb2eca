"""HTTP for every stage: one guarded httpx client, redirects under policy, pacing, retries."""

from __future__ import annotations

from ontolab.net._ratelimit import HostRateLimiter
from ontolab.net._retry import RetryPolicy, parse_retry_after
from ontolab.net._session import HttpSession, Reply, status_error, translate
from ontolab.net._transport import GuardedTransport

__all__ = [
    "GuardedTransport",
    "HostRateLimiter",
    "HttpSession",
    "Reply",
    "RetryPolicy",
    "parse_retry_after",
    "status_error",
    "translate",
]
