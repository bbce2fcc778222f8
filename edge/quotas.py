"""What one client address may take from the branch's tables: session openings per window
(`RESTAI_EDGE_SESSION_RATE_LIMIT`) and requests waiting for approval at once
(`RESTAI_EDGE_PENDING_PER_ADDRESS`), so one phone cannot squat the tables.

Both are taken before the request's first await, so a burst from one address meets the same
limits as requests sent one by one, and given back when the request did not open a session: a
409 on a pending table, a join or a failure uses up nothing.
"""

from __future__ import annotations

import math
import time

from edge.clock import parse_iso
from edge.context import EdgeContext
from edge.errors import RateLimited
from edge.sessions import TableRequest


def _pending_retry_after(ctx: EdgeContext, address: str) -> int:
    """Seconds until the address's oldest waiting request expires at the latest."""
    assert ctx.pending_quota is not None
    ttl = ctx.directory.settings.pending_ttl
    remaining = [
        parse_iso(live.started_at) + ttl - time.time()
        for session_id in ctx.pending_quota.sessions(address)
        if (live := ctx.live.get(session_id)) is not None
    ]
    return max(1, math.ceil(min(remaining, default=ttl)))


class AddressQuotas:
    """Takes the address's quotas on entry; on exit gives back what the request's outcome
    (`settle`) did not use. A class rather than a generator: it wraps every table request."""

    __slots__ = ("_ctx", "_address", "_slot", "_outcome")

    def __init__(self, ctx: EdgeContext, address: str) -> None:
        self._ctx, self._address = ctx, address
        self._slot: object | None = None
        self._outcome: TableRequest | None = None

    def __enter__(self) -> AddressQuotas:
        ctx, address = self._ctx, self._address
        limiter, pending = ctx.session_limiter, ctx.pending_quota
        if limiter is not None:
            wait = limiter.take(address)
            if wait:
                raise RateLimited(wait)
        if pending is not None:
            self._slot = pending.acquire(address)
            if self._slot is None:
                if limiter is not None:
                    limiter.refund(address)
                raise RateLimited(
                    _pending_retry_after(ctx, address),
                    details={"reason": "a table request from this device is still waiting"},
                )
        return self

    def settle(self, outcome: TableRequest) -> None:
        self._outcome = outcome

    def __exit__(self, *exc: object) -> None:
        limiter, pending = self._ctx.session_limiter, self._ctx.pending_quota
        address = self._address
        outcome = self._outcome
        session = outcome.session if outcome is not None and not outcome.existing else None
        if limiter is not None and session is None:
            limiter.refund(address)
        if pending is not None and self._slot is not None:
            if session is not None and session["status"] == "pending":
                pending.bind(address, self._slot, session["id"])
            else:
                pending.release(address, self._slot)
