"""Sliding-window counters per client address, kept in memory by the single serving process."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable


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

    def count(self, key: str) -> int:
        """Hits of `key` within the window."""
        return len(self._recent(key, self._clock()))

    def refund(self, key: str) -> None:
        """Take back the latest hit of `key` (an attempt that turned out not to count)."""
        hits = self._hits.get(key)
        if hits:
            hits.pop()
            if not hits:
                del self._hits[key]

    def clear(self, key: str) -> None:
        self._hits.pop(key, None)


class Lockout:
    """After `limit` failures within `window` seconds, refuse the key for `duration` seconds.

    An attempt is counted when it starts (`reserve`, before any await), not when its check
    fails: otherwise a burst of requests would all pass the gate before the first failure was
    counted. Attempts still being checked count against the limit, so however many arrive at
    once, at most `limit` failures per window are ever checked.
    """

    def __init__(self, limit: int, window: float, duration: float, clock=time.monotonic) -> None:
        self._failures = SlidingWindow(limit, window, clock)
        self._in_flight: dict[str, int] = {}
        self._locked_until: dict[str, float] = {}
        self._limit = limit
        self._duration = duration
        self._clock = clock

    def _locked_for(self, key: str) -> int:
        until = self._locked_until.get(key)
        if until is None:
            return 0
        remaining = until - self._clock()
        if remaining <= 0:
            del self._locked_until[key]
            return 0
        return math.ceil(remaining)

    def reserve(self, key: str) -> int:
        """Count an attempt about to be checked: 0 if it may go on, else seconds to wait.

        Every 0 must be followed by exactly one `succeed` or `fail`.
        """
        locked = self._locked_for(key)
        if locked:
            return locked
        in_flight = self._in_flight.get(key, 0)
        failures = self._failures.count(key)
        if failures + in_flight >= self._limit:
            # Full of failures: wait for the oldest to age out. Full of attempts still being
            # checked: they end within moments.
            return self._failures.retry_after(key) if failures >= self._limit else 1
        self._in_flight[key] = in_flight + 1
        return 0

    def _settle(self, key: str) -> None:
        left = self._in_flight.get(key, 0) - 1
        if left > 0:
            self._in_flight[key] = left
        else:
            self._in_flight.pop(key, None)

    def succeed(self, key: str) -> None:
        """The reserved attempt was right: it does not count."""
        self._settle(key)

    def fail(self, key: str) -> None:
        """The reserved attempt was wrong: it counts, and the limit-th locks the key out."""
        self._settle(key)
        self._failures.hit(key)
        if self._failures.count(key) >= self._limit:
            self._locked_until[key] = self._clock() + self._duration
            self._failures.clear(key)


class PendingQuota:
    """At most `limit` table requests waiting for approval per client address.

    A request holds a slot from before its first await (so a burst cannot slip past the count)
    until it either fails (`release`) or opens a pending session (`bind`); a bound slot frees
    itself once `still_pending(session_id)` says the session was approved, rejected or expired.
    """

    def __init__(self, limit: int, still_pending: Callable[[str], bool]) -> None:
        self.limit = limit
        self._still_pending = still_pending
        # address -> slot -> the pending session it holds (None while its request runs)
        self._slots: dict[str, dict[object, str | None]] = {}

    def acquire(self, key: str) -> object | None:
        """A slot for one more request from `key`, or None when its quota is full."""
        slots = self._slots.get(key, {})
        for slot, session_id in list(slots.items()):
            if session_id is not None and not self._still_pending(session_id):
                del slots[slot]
        if len(slots) >= self.limit:
            self._slots[key] = slots
            return None
        slot = object()
        slots[slot] = None
        self._slots[key] = slots
        return slot

    def sessions(self, key: str) -> list[str]:
        """The pending sessions `key` holds slots for."""
        return [sid for sid in self._slots.get(key, {}).values() if sid is not None]

    def bind(self, key: str, slot: object, session_id: str) -> None:
        self._slots.setdefault(key, {})[slot] = session_id

    def release(self, key: str, slot: object) -> None:
        slots = self._slots.get(key)
        if slots is None:
            return
        slots.pop(slot, None)
        if not slots:
            # Forget idle addresses so a scan of many addresses cannot grow memory for ever.
            del self._slots[key]
