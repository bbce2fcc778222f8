"""What the central saw, for tests to check: counters and a log of requests per endpoint."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Stats:
    requests: int = 0
    batch_sizes: list[int] = field(default_factory=list)
    # The ingest's requests: `at` (epoch seconds) and `ids` let a test check when each session
    # was sent.
    request_log: list[dict[str, Any]] = field(default_factory=list)
    # The other endpoints' requests, by fault target (`catalog`, `heartbeat`, `media`).
    endpoints: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def note(self, target: str, **fields: Any) -> dict[str, Any]:
        """Log one request; the caller fills in `status` once it is known."""
        entries = self.endpoints.setdefault(target, [])
        entry = {"n": len(entries) + 1, "at": time.time(), "status": None, **fields}
        entries.append(entry)
        return entry
