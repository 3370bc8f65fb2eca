"""Retries with exponential backoff and jitter; 429/503 honour ``Retry-After``.

Whether to retry is decided by the error's marker (:class:`~ontolab.errors.Transient`), never by
its message.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from ontolab.errors import OntolabError, ServerError, is_transient

T = TypeVar("T")
RetryHook = Callable[[OntolabError, int, float], None]


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date).

    Examples
    --------
    >>> parse_retry_after("2")
    2.0
    >>> then = datetime(2015, 10, 21, 7, 28, tzinfo=UTC)
    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:05 GMT", now=then)
    5.0
    >>> parse_retry_after("soon") is None
    True
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass
class RetryPolicy:
    """How many times and how long to wait; ``sleep`` and ``rng`` are injectable for tests."""

    retries: int = 5
    backoff_base_s: float = 0.5
    backoff_max_s: float = 60.0
    max_retry_after_s: float = 300.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int, exc: OntolabError) -> float:
        """Wait before retry number ``attempt + 1``: Retry-After, else jittered backoff."""
        if isinstance(exc, ServerError) and exc.retry_after is not None:
            return exc.retry_after
        ceiling = min(self.backoff_max_s, self.backoff_base_s * 2.0**attempt)
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def call(self, fn: Callable[[int], T], *, on_retry: RetryHook | None = None) -> T:
        """Run ``fn(attempt)`` until it returns, retrying transient errors."""
        attempt = 0
        while True:
            try:
                return fn(attempt)
            except OntolabError as exc:
                if not is_transient(exc) or attempt >= self.retries:
                    if attempt:
                        exc.message += f" (gave up after {attempt + 1} attempts)"
                    raise
                wait = self.delay(attempt, exc)
                if wait > self.max_retry_after_s:
                    exc.message += (
                        f" (server asked to wait {wait:.0f}s, more than "
                        f"http.max_retry_after_s={self.max_retry_after_s:.0f}s)"
                    )
                    raise
                if on_retry is not None:
                    on_retry(exc, attempt, wait)
                self.sleep(wait)
                attempt += 1
