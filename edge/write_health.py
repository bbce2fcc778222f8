"""Whether the store takes writes, as the last writes found out; and one log line per interval
while it does not.

A full disk fails every write. Logging each failure (with a traceback) wrote 36 MB of log in a
minute onto a disk that was already full; here the first failure is logged, then one line per
`LOG_EVERY` seconds with the count, then one line when writes work again. A commit that changed
a row ends the condition (one that changed nothing wrote nothing, `Store.transact`), and the
maintenance job probes while it lasts, so recovery needs no restart and no traffic.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable

log = logging.getLogger("restai_edge.store")

LOG_EVERY = 60.0


def is_storage_full(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.Error) and exc.sqlite_errorcode == sqlite3.SQLITE_FULL


class WriteHealth:
    def __init__(
        self, log_every: float = LOG_EVERY, clock: Callable[[], float] = time.time
    ) -> None:
        self._log_every = log_every
        self._clock = clock
        self.failing_since: float | None = None
        self.last_write: float = clock()
        self._failures = 0
        self._unlogged = 0
        self._logged_at = -log_every
        # Whether the log last said that writes fail (so that it says when they work again).
        self._told = False

    @property
    def degraded(self) -> bool:
        return self.failing_since is not None

    def failed(self, exc: BaseException | str) -> None:
        """A write failed because the disk is full (`exc` says which, for the log)."""
        now = self._clock()
        self._failures += 1
        self._unlogged += 1
        if self.failing_since is None:
            self.failing_since = now
            if now - self._logged_at < self._log_every:
                # A disk at the edge of full lets a write through now and then: failing again
                # within the interval of the last line is counted for the next one, not told.
                return
            log.error(
                "Store writes fail: the disk is full (%s). Writes answer 503 until space is"
                " freed; this is logged once a minute while it lasts",
                exc,
            )
        elif now - self._logged_at >= self._log_every:
            log.error(
                "Store writes still fail, disk full: %d failed write(s) in the last %.0f s",
                self._unlogged,
                now - self._logged_at,
            )
        else:
            return
        self._logged_at = now
        self._unlogged = 0
        self._told = True

    def succeeded(self) -> None:
        """A write committed."""
        self.last_write = self._clock()
        if self.failing_since is None:
            return
        if self._told:
            log.warning(
                "Store writes work again after %.0f s with a full disk (%d failed write(s))",
                self.last_write - self.failing_since,
                self._failures,
            )
            self._told = False
        self.failing_since = None
        self._failures = 0
