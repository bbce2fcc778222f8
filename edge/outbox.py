"""The transactional outbox: durable topics of work for the world outside the device.

Whatever the device must deliver (finished sessions to the central API, kitchen tickets to each
printer) is written as an item of a topic in the same transaction as the change that causes it,
so a crash can separate neither from the other. A worker drains a topic: it claims items in one
short transaction, delivers them with no lock held, then, in another short transaction,
acknowledges what was delivered and releases the rest. Each topic has its own delivery state
(failures in a row, when to try again, last success and error, a stop), so one topic that cannot
deliver never holds another.

A claim names its owner ("pid:nonce") and lapses at the end of its lease, or as soon as its owner
is seen dead, so a device killed mid-delivery delivers again at once on restart. Acknowledged
items stay for a while, for audit, before `prune` deletes them.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edge.clock import iso
from edge.store import Store, Transaction

PRUNE_CHUNK = 500
# A timer may fire a hair before the instant it was set for.
DUE_SLACK = 0.05
# Past any rowid: "no busy item" when looking for the first claimed item of a topic.
NO_ID = 1 << 62


@dataclass(frozen=True)
class Item:
    id: int
    payload: str
    session_id: str | None
    attempts: int


@dataclass(frozen=True)
class TopicStats:
    depth: int
    oldest_waiting: float | None


@dataclass(frozen=True)
class Problem:
    """A failed delivery: when, the far end's status if it answered (HTTP status), what."""

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
class TopicState:
    last_success: float | None = None
    last_error: Problem | None = None
    failures: int = 0
    next_attempt_at: float | None = None
    stopped: Problem | None = None

    def due(self, now: float) -> bool:
        """Whether a worker that respects backoff and stops may deliver now."""
        if self.stopped is not None:
            return False
        return self.next_attempt_at is None or self.next_attempt_at <= now + DUE_SLACK


def full_jitter(
    failures: int, period: float, cap: float, rand: Callable[[], float] = random.random
) -> float:
    """Seconds to wait after `failures` failures in a row ("full jitter").

    Uniform in [0, min(cap, period * 2 ** (failures - 1))]: the first retry comes within one
    period, each failure doubles the ceiling, and devices (or printers) that failed together do
    not come back in step.
    """
    if failures < 1:
        return 0.0
    # Past 2 ** 32 the ceiling is the cap anyway; the exponent is bounded to keep floats finite.
    ceiling = min(cap, period * 2.0 ** min(failures - 1, 32))
    return rand() * ceiling


# --------------------------------------------------------------------------- items


def new_owner() -> str:
    """A claim owner for one worker of this process: "pid:nonce"."""
    return f"{os.getpid()}:{uuid.uuid4().hex[:12]}"


def owner_alive(owner: str) -> bool:
    """Whether the process named by a claim owner ("pid:nonce") still runs on this machine.

    Another claimant in this very process counts as alive: its claim lapses with its lease.
    """
    pid_text, _, _ = owner.partition(":")
    if not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _marks(count: int) -> str:
    return ", ".join("?" * count)


def encode_payload(payload: str) -> bytes:
    """Payloads are stored compressed: a finished session's JSON record was 43% of the bytes a
    session leaves in the store (3.2 KB of 7.5 KB; bench/store_size.py), about 0.9 KB so."""
    return zlib.compress(payload.encode("utf-8"))


def decode_payload(stored: str | bytes) -> str:
    """A stored payload as the JSON text it was queued as (stores from before compression hold
    it as text)."""
    if isinstance(stored, bytes):
        return zlib.decompress(stored).decode("utf-8")
    return stored


async def enqueue(
    tx: Transaction, topic: str, payload: str, *, session_id: str | None = None
) -> None:
    """Queue an item in the caller's transaction. An item naming a session is queued once."""
    await tx.execute(
        "INSERT INTO outbox (topic, session_id, payload, enqueued_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (session_id) WHERE session_id IS NOT NULL DO NOTHING",
        (topic, session_id, encode_payload(payload), time.time()),
    )


async def claim(
    store: Store, topic: str, owner: str, limit: int, lease: float, *, in_order: bool = False
) -> list[Item]:
    """Claim up to `limit` waiting items of `topic`, oldest first, for `lease` seconds.

    Items claimed by a live process whose lease runs are busy. Without `in_order` they are
    skipped (the central de-duplicates, so two uploaders may share a backlog); with it, nothing
    at or after the first busy item is claimed, so a topic is delivered strictly in order.
    `owner`'s own earlier claims count as free: its caller runs one pass at a time, so they
    were left by a cancelled pass.
    """
    now = time.time()
    owners = await store.fetch_all(
        "SELECT DISTINCT claimed_by FROM outbox WHERE topic = ? AND claimed_by IS NOT NULL"
        " AND acknowledged_at IS NULL",
        (topic,),
    )
    # Only owners found dead are listed: a claimant appearing after this read stays respected.
    stale = [
        row["claimed_by"]
        for row in owners
        if row["claimed_by"] == owner or not owner_alive(row["claimed_by"])
    ]
    busy = (
        "claimed_by IS NOT NULL AND claimed_until >= ?"
        f" AND claimed_by NOT IN ({_marks(len(stale))})"
    )
    if in_order:
        free = (
            f"id < COALESCE((SELECT min(id) FROM outbox WHERE topic = ?"
            f" AND acknowledged_at IS NULL AND {busy}), {NO_ID})"
        )
        free_params: tuple[Any, ...] = (topic, now, *stale)
    else:
        free, free_params = f"NOT ({busy})", (now, *stale)

    async def work(tx: Transaction) -> list[Item]:
        rows = await tx.fetch_all(
            "UPDATE outbox SET claimed_by = ?, claimed_until = ?, attempts = attempts + 1,"
            " last_attempt_at = ? WHERE id IN ("
            "  SELECT id FROM outbox WHERE topic = ? AND acknowledged_at IS NULL"
            f"  AND {free} ORDER BY id LIMIT ?)"
            " RETURNING id, payload, session_id, attempts",
            (owner, now + lease, now, topic, *free_params, limit),
        )
        rows.sort(key=lambda row: row["id"])
        return [
            Item(row["id"], decode_payload(row["payload"]), row["session_id"], row["attempts"])
            for row in rows
        ]

    return await store.transact(work)


async def acknowledge(tx: Transaction, ids: list[int], now: float) -> int:
    """Mark items delivered; returns how many were still waiting."""
    if not ids:
        return 0
    return await tx.execute(
        "UPDATE outbox SET acknowledged_at = ?, claimed_by = NULL, claimed_until = NULL"
        f" WHERE id IN ({_marks(len(ids))}) AND acknowledged_at IS NULL",
        (now, *ids),
    )


async def release(tx: Transaction, owner: str, ids: list[int]) -> None:
    """Give back items `owner` claimed and did not deliver."""
    if not ids:
        return
    await tx.execute(
        "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL"
        f" WHERE id IN ({_marks(len(ids))}) AND claimed_by = ?",
        (*ids, owner),
    )


async def drop_topic(tx: Transaction, topic: str) -> int:
    """Forget a topic whose destination is gone: its waiting items and its state."""
    await tx.execute("DELETE FROM outbox_state WHERE topic = ?", (topic,))
    return await tx.execute(
        "DELETE FROM outbox WHERE topic = ? AND acknowledged_at IS NULL", (topic,)
    )


async def topic_stats(store: Store, topic: str) -> TopicStats:
    row = await store.fetch_one(
        "SELECT count(*) AS depth, min(enqueued_at) AS oldest FROM outbox"
        " WHERE topic = ? AND acknowledged_at IS NULL",
        (topic,),
    )
    assert row is not None
    return TopicStats(row["depth"], row["oldest"])


async def waiting_by_topic(store: Store, prefix: str) -> dict[str, TopicStats]:
    """Waiting items of every topic whose name starts with `prefix` (topics with none left out)."""
    rows = await store.fetch_all(
        "SELECT topic, count(*) AS depth, min(enqueued_at) AS oldest FROM outbox"
        " WHERE acknowledged_at IS NULL AND substr(topic, 1, ?) = ? GROUP BY topic",
        (len(prefix), prefix),
    )
    return {row["topic"]: TopicStats(row["depth"], row["oldest"]) for row in rows}


async def acknowledged_kept(store: Store, topic: str) -> int:
    return int(
        await store.fetch_value(
            "SELECT count(*) FROM outbox WHERE topic = ? AND acknowledged_at IS NOT NULL",
            (topic,),
        )
    )


async def prune(store: Store, retention: float, now: float | None = None) -> int:
    """Delete items of every topic acknowledged more than `retention` seconds ago.

    Deletes in small transactions so that a week of backlog never holds the writer for long.
    """
    cutoff = (time.time() if now is None else now) - retention
    total = 0
    while True:

        async def work(tx: Transaction) -> int:
            return await tx.execute(
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox"
                " WHERE acknowledged_at < ? LIMIT ?)",
                (cutoff, PRUNE_CHUNK),
            )

        deleted = await store.transact(work)
        total += deleted
        if deleted < PRUNE_CHUNK:
            return total


# --------------------------------------------------------------------------- delivery state

_STATE_COLUMNS = "topic, failures, next_attempt_at, last_success, last_error, stopped"


def _state(row: dict[str, Any] | None) -> TopicState:
    if row is None:
        return TopicState()
    return TopicState(
        last_success=row["last_success"],
        last_error=Problem.from_json(row["last_error"]) if row["last_error"] else None,
        failures=row["failures"],
        next_attempt_at=row["next_attempt_at"],
        stopped=Problem.from_json(row["stopped"]) if row["stopped"] else None,
    )


async def load_state(store: Store, topic: str) -> TopicState:
    row = await store.fetch_one(
        f"SELECT {_STATE_COLUMNS} FROM outbox_state WHERE topic = ?", (topic,)
    )
    return _state(row)


async def load_states(store: Store, prefix: str) -> dict[str, TopicState]:
    rows = await store.fetch_all(
        f"SELECT {_STATE_COLUMNS} FROM outbox_state WHERE substr(topic, 1, ?) = ?",
        (len(prefix), prefix),
    )
    return {row["topic"]: _state(row) for row in rows}


async def _ensure_state(tx: Transaction, topic: str) -> None:
    await tx.execute(
        "INSERT INTO outbox_state (topic) VALUES (?) ON CONFLICT (topic) DO NOTHING", (topic,)
    )


async def record_success(tx: Transaction, topic: str, now: float) -> None:
    """The far end took a delivery: the link is up, and a stop is over."""
    await _ensure_state(tx, topic)
    await tx.execute(
        "UPDATE outbox_state SET last_success = ?, failures = 0, next_attempt_at = NULL,"
        " stopped = NULL WHERE topic = ?",
        (now, topic),
    )


async def record_failure(
    tx: Transaction, topic: str, problem: Problem, delay_after: Callable[[int], float]
) -> float:
    """Count one more failure in a row and set when to try again; returns that time.

    `delay_after(failures)` gives the wait in seconds after that many failures in a row.
    """
    await _ensure_state(tx, topic)
    previous = await tx.fetch_value("SELECT failures FROM outbox_state WHERE topic = ?", (topic,))
    failures = int(previous or 0) + 1
    next_attempt = problem.at + delay_after(failures)
    await tx.execute(
        "UPDATE outbox_state SET last_error = ?, failures = ?, next_attempt_at = ? WHERE topic = ?",
        (problem.to_json(), failures, next_attempt, topic),
    )
    return next_attempt


async def record_stop(tx: Transaction, topic: str, problem: Problem) -> None:
    """The far end refused us for good: no retries until someone acts and a delivery succeeds."""
    await _ensure_state(tx, topic)
    await tx.execute(
        "UPDATE outbox_state SET last_error = ?, stopped = ?, next_attempt_at = NULL"
        " WHERE topic = ?",
        (problem.to_json(), problem.to_json(), topic),
    )
