"""The CloudTrail LookupEvents API, paged by hand so that every call waits for the limiter.

LookupEvents returns the last 90 days of management events of one account in one region, at
most 50 a page, and AWS allows about 2 calls a second per account per region; botocore's
adaptive retries (see ``dormant.sources.aws``) handle any throttling that still happens.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any


class RateLimiter:
    """A token bucket: at most ``rate`` calls a second, with bursts of ``burst``."""

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Wait until a call may be made."""
        with self._lock:
            while True:
                now = self._clock()
                self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                self._sleep((1 - self._tokens) / self.rate)


def lookup_pages(
    client: Any,
    start: dt.datetime | None,
    end: dt.datetime | None,
    limiter: RateLimiter,
) -> Iterator[list[dict[str, Any]]]:
    """Each page's ``Events`` from LookupEvents, one rate-limited call per page."""
    params: dict[str, Any] = {"MaxResults": 50}
    if start is not None:
        params["StartTime"] = start
    if end is not None:
        params["EndTime"] = end
    while True:
        limiter.acquire()
        page = client.lookup_events(**params)
        yield page.get("Events") or []
        token = page.get("NextToken")
        if not token:
            return
        params["NextToken"] = token
