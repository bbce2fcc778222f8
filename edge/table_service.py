"""Table service: diners call the waiter or ask for the bill; staff see what waits and mark it done.

A table has at most one open request per action: the store's partial unique index settles a
second tap, or two diners of one table tapping at once, so staff are alerted once. Requests die
with their session: ending it closes the open ones in the same transaction and tells the staff
tablets, which would otherwise keep ringing for a table that has left.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edge import orders
from edge.clock import now_iso
from edge.context import EdgeContext
from edge.errors import NotFound, SessionEnded, SessionNotActive
from edge.ids import new_id
from edge.store import Row, Transaction

ACTIONS = ("call_waiter", "request_bill")

REQUEST_SELECT = (
    "SELECT r.id, r.action, r.status, r.branch_id, r.session_id, r.table_id,"
    " t.number AS table_number, r.diner_id, COALESCE(d.name, s.customer_name) AS customer_name,"
    " r.created_at, r.closed_at, r.done_by FROM table_requests r JOIN tables t ON t.id = r.table_id"
    " JOIN sessions s ON s.id = r.session_id LEFT JOIN diners d ON d.id = r.diner_id"
)


class RequestNotFound(NotFound):
    message = "Solicitud no encontrada"


@dataclass(frozen=True)
class Requested:
    request: Row
    # True when the same action was already open for the session: nothing new was created.
    already_pending: bool


async def _request(tx: Transaction, request_id: str) -> Row:
    row = await tx.fetch_one(f"{REQUEST_SELECT} WHERE r.id = ?", (request_id,))
    assert row is not None
    return row


async def _record(ctx: EdgeContext, tx: Transaction, name: str, request: Row, **extra: Any) -> None:
    await ctx.events.record(
        tx,
        name,
        branch_id=request["branch_id"],
        session_id=request["session_id"],
        table_id=request["table_id"],
        table_number=request["table_number"],
        requestId=request["id"],
        action=request["action"],
        customerName=request["customer_name"],
        request=request,
        **extra,
    )


async def request_service(
    ctx: EdgeContext, session_id: str, diner_id: str | None, action: str
) -> Requested:
    """Open a request of `action` for the session, or return the one already open."""

    async def work(tx: Transaction) -> Requested:
        session = await tx.fetch_one(
            "SELECT branch_id, table_id, status FROM sessions WHERE id = ?", (session_id,)
        )
        # The token was checked before this transaction; the session may have ended since.
        if session is None or session["status"] in ("rejected", "completed"):
            raise SessionEnded()
        if session["status"] != "active":
            raise SessionNotActive()
        request_id = new_id()
        created = await tx.execute(
            "INSERT INTO table_requests (id, branch_id, session_id, table_id, diner_id, action,"
            " status, created_at) VALUES (?, ?, ?, ?, ?, ?, 'open', ?) ON CONFLICT DO NOTHING",
            (
                request_id,
                session["branch_id"],
                session_id,
                session["table_id"],
                diner_id,
                action,
                now_iso(),
            ),
        )
        if not created:
            open_id = await tx.fetch_value(
                "SELECT id FROM table_requests WHERE session_id = ? AND action = ?"
                " AND status = 'open'",
                (session_id, action),
            )
            return Requested(await _request(tx, open_id), already_pending=True)
        request = await _request(tx, request_id)
        await _record(ctx, tx, f"table:{action}", request)
        return Requested(request, already_pending=False)

    return await ctx.store.transact(work)


async def mark_done(ctx: EdgeContext, branch_id: str, staff_id: str, request_id: str) -> Row:
    """Close an open request as handled. A request already closed is answered as it is, so two
    waiters tapping at once both see it handled and the tables hear of it once."""

    async def work(tx: Transaction) -> Row:
        changed = await tx.execute(
            "UPDATE table_requests SET status = 'done', closed_at = ?, done_by = ?"
            " WHERE id = ? AND branch_id = ? AND status = 'open'",
            (now_iso(), staff_id, request_id, branch_id),
        )
        request = await tx.fetch_one(
            f"{REQUEST_SELECT} WHERE r.id = ? AND r.branch_id = ?", (request_id, branch_id)
        )
        if request is None:
            raise RequestNotFound()
        if changed:
            await _record(ctx, tx, "table:request_done", request, requestStatus="done")
        return request

    return await ctx.store.transact(work)


async def close_for_session(ctx: EdgeContext, tx: Transaction, session_id: str) -> None:
    """Close a finishing session's open requests (inside the transaction that finishes it)."""
    open_ids = await tx.fetch_all(
        "SELECT id FROM table_requests WHERE session_id = ? AND status = 'open'", (session_id,)
    )
    if not open_ids:
        return
    await tx.execute(
        "UPDATE table_requests SET status = 'closed', closed_at = ?"
        " WHERE session_id = ? AND status = 'open'",
        (now_iso(), session_id),
    )
    for row in open_ids:
        request = await _request(tx, row["id"])
        await _record(ctx, tx, "table:request_done", request, requestStatus="closed")


async def open_requests(ctx: EdgeContext, branch_id: str) -> list[Row]:
    """What waits for staff in the branch, oldest first."""
    return await ctx.store.fetch_all(
        f"{REQUEST_SELECT} WHERE r.status = 'open' AND r.branch_id = ? ORDER BY r.created_at, r.id",
        (branch_id,),
    )


async def session_requests(ctx: EdgeContext, session_id: str) -> list[Row]:
    """A session's open requests (what a diner's page shows as "en camino" after a reload)."""
    return await ctx.store.fetch_all(
        f"{REQUEST_SELECT} WHERE r.session_id = ? AND r.status = 'open' ORDER BY r.created_at",
        (session_id,),
    )


async def bill(ctx: EdgeContext, session: Row) -> dict[str, Any]:
    """The table's bill: its orders that were not cancelled, and their sums. The sums are made
    from the very orders listed, so the bill always adds up whatever lands meanwhile."""
    kept = [
        order
        for order in await orders.session_orders(ctx, session["id"])
        if order["status"] != "cancelled"
    ]
    branch = await ctx.store.fetch_one(
        "SELECT currency, tax_rate FROM branch WHERE id = ?", (session["branch_id"],)
    )
    assert branch is not None
    return {
        "session_id": session["id"],
        "table_id": session["table_id"],
        "currency": branch["currency"],
        "tax_rate": branch["tax_rate"],
        "orders": kept,
        "subtotal": sum(order["subtotal"] for order in kept),
        "tax": sum(order["tax"] for order in kept),
        "total": sum(order["total"] for order in kept),
    }
