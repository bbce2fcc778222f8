"""The transactional outbox: finished sessions queued for the central API."""

from __future__ import annotations

import json
import time
from typing import Any

from edge import orders
from edge.store import Transaction


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
