"""Finished sessions for the central API: the outbox topic `sessions`.

A finished session's record is queued in the transaction that finishes it (`edge.outbox` holds
the mechanism: claims with leases, acknowledgement, backoff state, pruning). The uploader drains
the topic; `sync status` reads it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from edge import orders
from edge import outbox as topics
from edge.store import Store, Transaction

SESSIONS = "sessions"

# Pruning is one job for the whole outbox: acknowledged tickets go with acknowledged sessions.
prune = topics.prune


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
    await topics.enqueue(tx, SESSIONS, json.dumps(record), session_id=session_id)


async def queue_stats(store: Store) -> QueueStats:
    waiting = await topics.topic_stats(store, SESSIONS)
    kept = await topics.acknowledged_kept(store, SESSIONS)
    return QueueStats(waiting.depth, waiting.oldest_waiting, kept)
