"""How long to wait before the next upload after failures: arithmetic only, no I/O.

The jitter is the outbox's own (`edge.outbox.full_jitter`, shared with the print worker); what is
proper to HTTP, a central's `Retry-After`, is read here.
"""

from __future__ import annotations

from datetime import UTC
from email.utils import parsedate_to_datetime

from edge.outbox import full_jitter

__all__ = ["RETRY_AFTER_MAX", "full_jitter", "retry_after_seconds"]

# A central asking for more than an hour is more likely confused than overloaded.
RETRY_AFTER_MAX = 3600.0


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """The wait a `Retry-After` header asks for (delta-seconds or HTTP-date), or None."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        seconds = float(text)
    else:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - now
    return min(max(seconds, 0.0), RETRY_AFTER_MAX)
