"""The uploader's bookkeeping in the `sync_state` table, shared by `serve` and the CLI.

Kept in the store rather than in memory so that `restai-edge sync status` and `sync now`, run as
other processes, see and clear what the serving process recorded, and so that a backoff or a
401/403 stop survives a restart.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edge.clock import iso
from edge.store import Store, Transaction

LAST_SUCCESS = "last_success"
LAST_ERROR = "last_error"
FAILURES = "failures"
NEXT_ATTEMPT_AT = "next_attempt_at"
STOPPED = "stopped"


@dataclass(frozen=True)
class Problem:
    """A failed exchange with the central API: when, its HTTP status (None: no answer), what."""

    at: float
    status: int | None
    message: str

    def view(self) -> dict[str, Any]:
        return {"at": iso(self.at), "status": self.status, "message": self.message}

    @classmethod
    def from_json(cls, text: str) -> Problem:
        data = json.loads(text)
        return cls(float(data["at"]), data["status"], str(data["message"]))

    def to_json(self) -> str:
        return json.dumps({"at": self.at, "status": self.status, "message": self.message})


@dataclass(frozen=True)
class SyncState:
    last_success: float | None = None
    last_error: Problem | None = None
    failures: int = 0
    next_attempt_at: float | None = None
    stopped: Problem | None = None


async def load_state(store: Store) -> SyncState:
    rows = await store.fetch_all("SELECT key, value FROM sync_state")
    values = {row["key"]: row["value"] for row in rows}
    return SyncState(
        last_success=float(values[LAST_SUCCESS]) if LAST_SUCCESS in values else None,
        last_error=Problem.from_json(values[LAST_ERROR]) if LAST_ERROR in values else None,
        failures=int(values.get(FAILURES, 0)),
        next_attempt_at=float(values[NEXT_ATTEMPT_AT]) if NEXT_ATTEMPT_AT in values else None,
        stopped=Problem.from_json(values[STOPPED]) if STOPPED in values else None,
    )


async def _put(tx: Transaction, key: str, value: str) -> None:
    await tx.execute(
        "INSERT INTO sync_state (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


async def _drop(tx: Transaction, *keys: str) -> None:
    await tx.executemany("DELETE FROM sync_state WHERE key = ?", [(key,) for key in keys])


async def record_success(tx: Transaction, now: float) -> None:
    """The central answered a batch: the link is up, and a credentials stop is over."""
    await _put(tx, LAST_SUCCESS, repr(now))
    await _drop(tx, FAILURES, NEXT_ATTEMPT_AT, STOPPED)


async def record_failure(
    tx: Transaction, problem: Problem, delay_after: Callable[[int], float]
) -> float:
    """Count one more failure in a row and set when to try again; returns that time.

    `delay_after(failures)` gives the wait in seconds after that many failures in a row.
    """
    previous = await tx.fetch_value("SELECT value FROM sync_state WHERE key = ?", (FAILURES,))
    failures = int(previous or 0) + 1
    next_attempt = problem.at + delay_after(failures)
    await _put(tx, LAST_ERROR, problem.to_json())
    await _put(tx, FAILURES, str(failures))
    await _put(tx, NEXT_ATTEMPT_AT, repr(next_attempt))
    return next_attempt


async def record_stop(tx: Transaction, problem: Problem) -> None:
    """The central refused the device's credentials: no retries until `sync now` succeeds."""
    await _put(tx, LAST_ERROR, problem.to_json())
    await _put(tx, STOPPED, problem.to_json())
    await _drop(tx, NEXT_ATTEMPT_AT)
