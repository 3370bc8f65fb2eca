"""Per-host request pacing from ``http.rate_limits`` (``{host-glob: "4/s"}``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from fnmatch import fnmatchcase

from ontolab.settings import parse_rate


class HostRateLimiter:
    """Spaces requests to a host at least ``1/rate`` seconds apart (thread-safe).

    Examples
    --------
    >>> now = [0.0]
    >>> no_sleep = lambda seconds: None
    >>> limiter = HostRateLimiter({"*.ebi.ac.uk": "2/s"}, clock=lambda: now[0], sleep=no_sleep)
    >>> [limiter.wait("www.ebi.ac.uk") for _ in range(3)]
    [0.0, 0.5, 1.0]
    >>> limiter.wait("example.org")
    0.0
    """

    def __init__(
        self,
        limits: Mapping[str, str],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._intervals = [(pattern.lower(), 1.0 / parse_rate(r)) for pattern, r in limits.items()]
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    def interval(self, host: str) -> float | None:
        host = host.lower()
        for pattern, interval in self._intervals:
            if fnmatchcase(host, pattern):
                return interval
        return None

    def wait(self, host: str) -> float:
        """Block until a request to ``host`` is allowed; return the seconds waited."""
        interval = self.interval(host)
        if interval is None:
            return 0.0
        with self._lock:
            now = self._clock()
            slot = max(now, self._next.get(host.lower(), now))
            self._next[host.lower()] = slot + interval
        delay = slot - now
        if delay > 0:
            self._sleep(delay)
        return delay
