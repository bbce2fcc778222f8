"""Sliding-window counters per client address, kept in memory by the single serving process."""

from __future__ import annotations

import math
import time
from collections import deque


class SlidingWindow:
    """At most `limit` hits per `window` seconds per key."""

    def __init__(self, limit: int, window: float, clock=time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if not hits:
            # Forget idle addresses so a scan of many addresses cannot grow memory for ever.
            del self._hits[key]
            hits = deque()
        return hits

    def retry_after(self, key: str) -> int:
        """Seconds until `key` may hit again; 0 if it may now."""
        now = self._clock()
        hits = self._recent(key, now)
        if len(hits) < self.limit:
            return 0
        return max(1, math.ceil(hits[0] + self.window - now))

    def hit(self, key: str) -> None:
        now = self._clock()
        hits = self._recent(key, now)
        hits.append(now)
        self._hits[key] = hits

    def take(self, key: str) -> int:
        """Count a hit if allowed; returns 0 when counted, else the seconds to wait."""
        wait = self.retry_after(key)
        if wait == 0:
            self.hit(key)
        return wait

    def clear(self, key: str) -> None:
        self._hits.pop(key, None)


class Lockout:
    """After `limit` failures within `window` seconds, refuse the key for `duration` seconds."""

    def __init__(self, limit: int, window: float, duration: float, clock=time.monotonic) -> None:
        self._failures = SlidingWindow(limit, window, clock)
        self._locked_until: dict[str, float] = {}
        self._duration = duration
        self._clock = clock

    def retry_after(self, key: str) -> int:
        until = self._locked_until.get(key)
        if until is None:
            return 0
        remaining = until - self._clock()
        if remaining <= 0:
            del self._locked_until[key]
            return 0
        return math.ceil(remaining)

    def fail(self, key: str) -> None:
        self._failures.hit(key)
        if self._failures.retry_after(key):
            self._locked_until[key] = self._clock() + self._duration
            self._failures.clear(key)
