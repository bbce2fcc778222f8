"""Timestamps as the API writes them: ISO-8601 UTC with a trailing Z, to the second."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def iso(epoch: float) -> str:
    # time.strftime: a third of datetime's cost, on every write's timestamps.
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def now_iso() -> str:
    return iso(time.time())


def parse_iso(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
