"""How long to wait before the next upload after failures: arithmetic only, no I/O."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC
from email.utils import parsedate_to_datetime

# A central asking for more than an hour is more likely confused than overloaded.
RETRY_AFTER_MAX = 3600.0


def full_jitter(
    failures: int, period: float, cap: float, rand: Callable[[], float] = random.random
) -> float:
    """Seconds to wait after `failures` failures in a row ("full jitter").

    Uniform in [0, min(cap, period * 2 ** (failures - 1))]: the first retry comes within one sync
    period, each failure doubles the ceiling, and devices that lost the uplink together do not
    come back in step.
    """
    if failures < 1:
        return 0.0
    # Past 2 ** 32 the ceiling is the cap anyway; the exponent is bounded to keep floats finite.
    ceiling = min(cap, period * 2.0 ** min(failures - 1, 32))
    return rand() * ceiling


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
