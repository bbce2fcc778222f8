"""The transactional outbox: finished sessions queued for the central API.

A row is written in the transaction that finishes its session. An uploader claims a few rows in
one short transaction, sends them with no lock held, then, in another short transaction, marks
the ones the central acknowledged and releases the rest. Acknowledged rows stay for a while, for
audit, before `prune` deletes them.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any

from edge import orders
from edge.store import Store, Transaction

PRUNE_CHUNK = 500


@dataclass(frozen=True)
class Claimed:
    session_id: str
    payload: str


@dataclass(frozen=True)
class QueueStats:
    depth: int
    oldest_waiting: float | None
    acknowledged_kept: int


async def session_record(tx: Transaction, session_id: str) -> dict[str, Any]:
    """Everything the central API keeps of a finished session: table, diners, orders, totals."""
    session = await tx.fetch_one(
        "SELECT s.id, s.status, s.reason, s.customer_name, s.customer_phone, s.started_at,"
        " s.approved_at, s.ended_at, s.subtotal, s.tax, s.total, s.table_id,"
        " t.number AS table_number, t.code AS table_code"
        " FROM sessions s JOIN tables t ON t.id = s.table_id WHERE s.id = ?",
        (session_id,),
    )
    if session is None:
        raise LookupError(f"session {session_id} does not exist")
    diners = await tx.fetch_all(
        "SELECT id, name, phone, email, birth_date, marketing_opt_in, joined_at"
        " FROM diners WHERE session_id = ? ORDER BY joined_at, id",
        (session_id,),
    )
    for diner in diners:
        diner["marketing_opt_in"] = bool(diner["marketing_opt_in"])
    return {
        **session,
        "diners": diners,
        "orders": await orders.orders_for_record(tx, session_id),
    }


async def enqueue_session(tx: Transaction, session_id: str) -> None:
    record = await session_record(tx, session_id)
    await tx.execute(
        "INSERT INTO outbox (session_id, payload, enqueued_at) VALUES (?, ?, ?)"
        " ON CONFLICT (session_id) DO NOTHING",
        (session_id, json.dumps(record), time.time()),
    )


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


async def claim(store: Store, owner: str, limit: int, lease: float) -> list[Claimed]:
    """Claim up to `limit` waiting rows, oldest first, for `lease` seconds.

    Rows claimed by a live process whose lease runs are skipped. `owner`'s own earlier claims
    count as free: its caller runs one pass at a time, so they were left by a cancelled pass.
    """
    now = time.time()
    owners = await store.fetch_all(
        "SELECT DISTINCT claimed_by FROM outbox WHERE claimed_by IS NOT NULL"
        " AND acknowledged_at IS NULL"
    )
    # Only owners found dead are listed: a claimant appearing after this read stays respected.
    stale = [
        row["claimed_by"]
        for row in owners
        if row["claimed_by"] == owner or not owner_alive(row["claimed_by"])
    ]

    async def work(tx: Transaction) -> list[Claimed]:
        rows = await tx.fetch_all(
            "UPDATE outbox SET claimed_by = ?, claimed_until = ?, attempts = attempts + 1,"
            " last_attempt_at = ? WHERE session_id IN ("
            "  SELECT session_id FROM outbox WHERE acknowledged_at IS NULL"
            "  AND (claimed_by IS NULL OR claimed_until < ?"
            f"  OR claimed_by IN ({_marks(len(stale))}))"
            "  ORDER BY enqueued_at, session_id LIMIT ?)"
            " RETURNING session_id, payload, enqueued_at",
            (owner, now + lease, now, now, *stale, limit),
        )
        rows.sort(key=lambda row: (row["enqueued_at"], row["session_id"]))
        return [Claimed(row["session_id"], row["payload"]) for row in rows]

    return await store.transact(work)


async def acknowledge(tx: Transaction, session_ids: list[str], now: float) -> int:
    """Mark rows the central acknowledged; returns how many were still waiting."""
    if not session_ids:
        return 0
    return await tx.execute(
        "UPDATE outbox SET acknowledged_at = ?, claimed_by = NULL, claimed_until = NULL"
        f" WHERE session_id IN ({_marks(len(session_ids))}) AND acknowledged_at IS NULL",
        (now, *session_ids),
    )


async def release(tx: Transaction, owner: str, session_ids: list[str]) -> None:
    """Give back rows `owner` claimed and the central did not acknowledge."""
    if not session_ids:
        return
    await tx.execute(
        "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL"
        f" WHERE session_id IN ({_marks(len(session_ids))}) AND claimed_by = ?",
        (*session_ids, owner),
    )


async def queue_stats(store: Store) -> QueueStats:
    waiting = await store.fetch_one(
        "SELECT count(*) AS depth, min(enqueued_at) AS oldest FROM outbox"
        " WHERE acknowledged_at IS NULL"
    )
    kept = await store.fetch_value("SELECT count(*) FROM outbox WHERE acknowledged_at IS NOT NULL")
    assert waiting is not None
    return QueueStats(waiting["depth"], waiting["oldest"], kept)


async def prune(store: Store, retention: float, now: float | None = None) -> int:
    """Delete rows acknowledged more than `retention` seconds ago; returns how many.

    Deletes in small transactions so that a week of backlog never holds the writer for long.
    """
    cutoff = (time.time() if now is None else now) - retention
    total = 0
    while True:

        async def work(tx: Transaction) -> int:
            return await tx.execute(
                "DELETE FROM outbox WHERE session_id IN (SELECT session_id FROM outbox"
                " WHERE acknowledged_at < ? LIMIT ?)",
                (cutoff, PRUNE_CHUNK),
            )

        deleted = await store.transact(work)
        total += deleted
        if deleted < PRUNE_CHUNK:
            return total
