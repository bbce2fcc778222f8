"""Orders of a table session: placed by diners from the device's menu, moved along by staff.

Prices come only from the store's menu and are copied onto the order as it is placed, so a later
menu change never rewrites a bill. Tax is worked out per order in integer cents, and a session's
totals are the sum of its orders that were not cancelled, kept so by every transaction that
changes them; so the bill a waiter prints always adds up to the orders on it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from edge import modifiers
from edge.clock import now_iso
from edge.context import EdgeContext
from edge.errors import (
    InvalidTransition,
    ItemUnavailable,
    NotFound,
    OrderNotCancellable,
    SessionEnded,
    SessionHasOpenOrders,
    SessionNotActive,
    ValidationError,
)
from edge.ids import new_id
from edge.printing import jobs as kitchen_tickets
from edge.store import Params, Row, Transaction, json_array

ORDER_STATUSES = (
    "pending",
    "confirmed",
    "preparing",
    "ready",
    "served",
    "completed",
    "cancelled",
)
# The events an order's changes record (`_record`); the printer loops wake on them.
ORDER_EVENTS = frozenset({"order:new", "order:updated"})
# Not yet on the table: a session cannot end quietly while one of these is in the kitchen.
OPEN_STATUSES = ("pending", "confirmed", "preparing", "ready")
TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"confirmed", "preparing", "cancelled"}),
    "confirmed": frozenset({"preparing", "cancelled"}),
    "preparing": frozenset({"ready", "cancelled"}),
    "ready": frozenset({"served"}),
    "served": frozenset({"completed"}),
    "completed": frozenset(),
    "cancelled": frozenset(),
}

ORDER_SELECT = (
    "SELECT o.id, o.branch_id, o.session_id, o.table_id, t.number AS table_number,"
    " o.order_number, o.status, o.notes, o.subtotal, o.tax, o.total, o.created_at, o.updated_at"
    " FROM orders o JOIN tables t ON t.id = o.table_id"
)
_OPEN_IN = f"({', '.join(repr(status) for status in OPEN_STATUSES)})"

FetchAll = Callable[[str, Params], Awaitable[list[Row]]]


class OrderNotFound(NotFound):
    message = "Pedido no encontrado"


@dataclass(frozen=True)
class OrderLine:
    menu_item_id: str
    quantity: int
    notes: str | None = None
    modifier_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class NewOrder:
    lines: list[OrderLine]
    notes: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Placed:
    order: dict[str, Any]
    # True when an earlier POST with the same Idempotency-Key already placed this order.
    replayed: bool


def tax_for(subtotal: int, tax_rate: int) -> int:
    """`subtotal * tax_rate / 10000` rounded half up, in integers (no float ever sees money)."""
    return (subtotal * tax_rate + 5000) // 10000


def order_view(order: Row, items: list[Row], chosen: dict[str, list[Row]]) -> dict[str, Any]:
    status = order["status"]
    return {
        "id": order["id"],
        "order_number": order["order_number"],
        "status": status,
        # Lines move with their order: the kitchen works an order as a whole.
        "items": [
            {**item, "modifiers": chosen.get(item["id"], []), "status": status} for item in items
        ],
        "subtotal": order["subtotal"],
        "tax": order["tax"],
        "total": order["total"],
        "notes": order["notes"],
        "session_id": order["session_id"],
        "table_id": order["table_id"],
        "table_number": order["table_number"],
        "created_at": order["created_at"],
        "updated_at": order["updated_at"],
    }


async def _views(fetch_all: FetchAll, orders: list[Row]) -> list[dict[str, Any]]:
    if not orders:
        return []
    items = await fetch_all(
        "SELECT id, order_id, menu_item_id, name, quantity, unit_price, subtotal, notes"
        " FROM order_items WHERE order_id IN (SELECT value FROM json_each(?))"
        " ORDER BY order_id, position",
        (json_array(order["id"] for order in orders),),
    )
    by_order: dict[str, list[Row]] = defaultdict(list)
    for item in items:
        by_order[item.pop("order_id")].append(item)
    chosen = await modifiers.of_lines(fetch_all, [order["id"] for order in orders])
    return [order_view(order, by_order[order["id"]], chosen) for order in orders]


async def _view(tx: Transaction, order_id: str) -> dict[str, Any]:
    order = await tx.fetch_one(f"{ORDER_SELECT} WHERE o.id = ?", (order_id,))
    assert order is not None
    return (await _views(tx.fetch_all, [order]))[0]


async def _add_to_session_totals(tx: Transaction, session_id: str, subtotal: int, tax: int) -> None:
    """A new order's share of its session's totals. Added rather than summed again: a table
    that keeps ordering would otherwise make every order read all the ones before it."""
    await tx.execute(
        "UPDATE sessions SET subtotal = subtotal + ?, tax = tax + ?, total = total + ?"
        " WHERE id = ?",
        (subtotal, tax, subtotal + tax, session_id),
    )


async def _update_session_totals(tx: Transaction, session_id: str) -> None:
    await tx.execute(
        "UPDATE sessions SET (subtotal, tax, total) = (SELECT COALESCE(SUM(subtotal), 0),"
        " COALESCE(SUM(tax), 0), COALESCE(SUM(total), 0) FROM orders"
        " WHERE session_id = ? AND status != 'cancelled') WHERE id = ?",
        (session_id, session_id),
    )


async def _record(
    ctx: EdgeContext,
    tx: Transaction,
    name: str,
    branch_id: str,
    order: dict[str, Any],
    **extra: Any,
) -> None:
    await ctx.events.record(
        tx,
        name,
        branch_id=branch_id,
        session_id=order["session_id"],
        table_id=order["table_id"],
        table_number=order["table_number"],
        orderId=order["id"],
        orderNumber=order["order_number"],
        status=order["status"],
        order=order,
        **extra,
    )


async def _menu_rows(tx: Transaction, branch_id: str, lines: list[OrderLine]) -> list[Row]:
    """The menu rows the lines name, in line order; unknown or sold-out items refuse the order."""
    wanted = json_array(sorted({line.menu_item_id for line in lines}))
    menu = {
        row["id"]: row
        for row in await tx.fetch_all(
            "SELECT i.id, i.name, i.price, i.is_available FROM menu_items i"
            " JOIN menu_categories c ON c.id = i.category_id AND c.is_active = 1"
            " WHERE i.branch_id = ? AND i.retired = 0 AND i.id IN (SELECT value FROM json_each(?))",
            (branch_id, wanted),
        )
    }
    for index, line in enumerate(lines):
        if line.menu_item_id not in menu:
            raise ValidationError(
                details={"field": f"items[{index}].menuItemId", "reason": "not on the menu"}
            )
    sold_out = {row["id"]: row["name"] for row in menu.values() if not row["is_available"]}
    if sold_out:
        raise ItemUnavailable(
            f"Producto agotado: {', '.join(sorted(sold_out.values()))}",
            details={"items": [{"menuItemId": k, "name": v} for k, v in sold_out.items()]},
        )
    return [menu[line.menu_item_id] for line in lines]


async def place_order(
    ctx: EdgeContext, session_id: str, diner_id: str | None, new: NewOrder
) -> Placed:
    async def work(tx: Transaction) -> Placed:
        session = await tx.fetch_one(
            "SELECT s.id, s.branch_id, s.table_id, s.status, t.number AS table_number,"
            " b.tax_rate FROM sessions s JOIN tables t ON t.id = s.table_id"
            " JOIN branch b ON b.id = s.branch_id WHERE s.id = ?",
            (session_id,),
        )
        # The token was checked before this transaction; the session may have ended since.
        if session is None or session["status"] in ("rejected", "completed"):
            raise SessionEnded()
        if session["status"] != "active":
            raise SessionNotActive()
        if new.idempotency_key is not None:
            earlier = await tx.fetch_value(
                "SELECT id FROM orders WHERE session_id = ? AND idempotency_key = ?",
                (session_id, new.idempotency_key),
            )
            if earlier is not None:
                return Placed(await _view(tx, earlier), replayed=True)

        branch_id = session["branch_id"]
        rows = await _menu_rows(tx, branch_id, new.lines)
        chosen = await modifiers.choose(
            tx, [row["id"] for row in rows], [line.modifier_ids for line in new.lines]
        )
        # A line's unit price is its item's plus what its modifiers add, all from the store.
        unit_prices = [
            row["price"] + sum(choice.price for choice in extra)
            for row, extra in zip(rows, chosen, strict=True)
        ]
        priced = list(zip(rows, new.lines, unit_prices, strict=True))
        subtotal = sum(unit_price * line.quantity for _, line, unit_price in priced)
        tax = tax_for(subtotal, session["tax_rate"])
        # One sequence for the life of the branch, never reset: a ticket number names one order
        # across midnight and in upstream records, and the device has no setting for when a
        # restaurant's day begins. The single writer makes MAX + 1 race-free.
        number = await tx.fetch_value(
            "SELECT COALESCE(MAX(order_number), 0) + 1 FROM orders WHERE branch_id = ?",
            (branch_id,),
        )
        # The answer is the view of the rows as written, and the rows are written from it: no
        # read back (three more queries were a tenth of an order's time on one core), and no
        # second list of the same values to drift from the first (tests compare it with a read).
        now = now_iso()
        placed = {
            "id": new_id(),
            "branch_id": branch_id,
            "session_id": session_id,
            "table_id": session["table_id"],
            "table_number": session["table_number"],
            "order_number": number,
            "status": "pending",
            "notes": new.notes,
            "subtotal": subtotal,
            "tax": tax,
            "total": subtotal + tax,
            "created_at": now,
            "updated_at": now,
        }
        await tx.execute(
            "INSERT INTO orders (id, branch_id, session_id, table_id, diner_id, order_number,"
            " status, notes, subtotal, tax, total, idempotency_key, created_at, updated_at)"
            " VALUES (:id, :branch_id, :session_id, :table_id, :diner_id, :order_number,"
            " :status, :notes, :subtotal, :tax, :total, :idempotency_key, :created_at,"
            " :updated_at)",
            {**placed, "diner_id": diner_id, "idempotency_key": new.idempotency_key},
        )
        items = [
            {
                "id": new_id(),
                "menu_item_id": row["id"],
                "name": row["name"],
                "quantity": line.quantity,
                "unit_price": unit_price,
                "subtotal": unit_price * line.quantity,
                "notes": line.notes,
            }
            for row, line, unit_price in priced
        ]
        await tx.executemany(
            "INSERT INTO order_items (id, order_id, menu_item_id, position, name, quantity,"
            " unit_price, subtotal, notes) VALUES (:id, :order_id, :menu_item_id, :position,"
            " :name, :quantity, :unit_price, :subtotal, :notes)",
            [
                {**item, "order_id": placed["id"], "position": position}
                for position, item in enumerate(items)
            ],
        )
        line_ids = [item["id"] for item in items]
        await modifiers.keep(tx, line_ids, chosen)
        await _add_to_session_totals(tx, session_id, subtotal, tax)
        order = order_view(
            placed,
            items,
            {
                line_id: [modifiers.chosen_view(choice) for choice in extra]
                for line_id, extra in zip(line_ids, chosen, strict=True)
            },
        )
        await _record(ctx, tx, "order:new", branch_id, order)
        await kitchen_tickets.order_changed(ctx, tx, order, previous=None)
        return Placed(order, replayed=False)

    return await ctx.store.transact(work)


async def change_status(
    ctx: EdgeContext, branch_id: str, order_id: str, status: str
) -> dict[str, Any]:
    """Move an order one step along its life (the contract's transitions, nothing else)."""

    async def work(tx: Transaction) -> dict[str, Any]:
        order = await tx.fetch_one(
            f"{ORDER_SELECT} WHERE o.id = ? AND o.branch_id = ?", (order_id, branch_id)
        )
        if order is None:
            raise OrderNotFound()
        previous = order["status"]
        if status not in TRANSITIONS[previous]:
            raise InvalidTransition(
                details={"from": previous, "to": status, "allowed": sorted(TRANSITIONS[previous])},
            )
        return await _move(ctx, tx, order, status)

    return await ctx.store.transact(work)


async def _move(
    ctx: EdgeContext, tx: Transaction, order: Row, status: str, **extra: Any
) -> dict[str, Any]:
    await tx.execute(
        "UPDATE orders SET status = ?, updated_at = ? WHERE id = ?",
        (status, now_iso(), order["id"]),
    )
    if status == "cancelled":
        await _update_session_totals(tx, order["session_id"])
    updated = await _view(tx, order["id"])
    await _record(
        ctx,
        tx,
        "order:updated",
        order["branch_id"],
        updated,
        previousStatus=order["status"],
        **extra,
    )
    await kitchen_tickets.order_changed(ctx, tx, updated, previous=order["status"])
    return updated


async def cancel_for_diner(ctx: EdgeContext, session_id: str, order_id: str) -> dict[str, Any]:
    """A diner takes back their table's order while the kitchen has not taken it. Cancelling
    an order that is already cancelled answers it as it is (a double tap is not an error)."""

    async def work(tx: Transaction) -> dict[str, Any]:
        order = await tx.fetch_one(
            f"{ORDER_SELECT} WHERE o.id = ? AND o.session_id = ?", (order_id, session_id)
        )
        if order is None:
            raise OrderNotFound()
        if order["status"] == "cancelled":
            return await _view(tx, order_id)
        if order["status"] != "pending":
            raise OrderNotCancellable(details={"status": order["status"]})
        return await _move(ctx, tx, order, "cancelled", cancelledBy="diner")

    return await ctx.store.transact(work)


async def list_orders(
    ctx: EdgeContext,
    branch_id: str,
    *,
    statuses: tuple[str, ...] = (),
    session_id: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """The branch's latest orders (at most `limit`), oldest first as a kitchen board shows them."""
    where, params = ["o.branch_id = ?"], [branch_id]
    if statuses:
        where.append("o.status IN (SELECT value FROM json_each(?))")
        params.append(json_array(statuses))
    if session_id is not None:
        where.append("o.session_id = ?")
        params.append(session_id)
    rows = await ctx.store.fetch_all(
        f"SELECT * FROM ({ORDER_SELECT} WHERE {' AND '.join(where)}"
        " ORDER BY o.order_number DESC LIMIT ?) ORDER BY order_number",
        (*params, limit),
    )
    return await _views(ctx.store.fetch_all, rows)


async def get_order(
    ctx: EdgeContext, order_id: str, *, branch_id: str | None = None, session_id: str | None = None
) -> dict[str, Any]:
    """One order, as long as it belongs to the given branch (staff) or session (diner)."""
    order = await ctx.store.fetch_one(f"{ORDER_SELECT} WHERE o.id = ?", (order_id,))
    if order is None or (branch_id is not None and order["branch_id"] != branch_id):
        raise OrderNotFound()
    if session_id is not None and order["session_id"] != session_id:
        raise OrderNotFound()
    return (await _views(ctx.store.fetch_all, [order]))[0]


async def session_orders(ctx: EdgeContext, session_id: str) -> list[dict[str, Any]]:
    rows = await ctx.store.fetch_all(
        f"{ORDER_SELECT} WHERE o.session_id = ? ORDER BY o.order_number", (session_id,)
    )
    return await _views(ctx.store.fetch_all, rows)


async def close_session_orders(
    ctx: EdgeContext, tx: Transaction, session_id: str, *, force: bool
) -> None:
    """Settle a session's orders as it ends: refuse open ones unless forced, which cancels them;
    served ones become completed; the session's totals follow. Each settled order is announced,
    so kitchen boards and diners' screens drop it."""
    rows = await tx.fetch_all(
        "SELECT id, status, branch_id FROM orders WHERE session_id = ?"
        f" AND (status IN {_OPEN_IN} OR status = 'served') ORDER BY order_number",
        (session_id,),
    )
    still_open = sum(row["status"] in OPEN_STATUSES for row in rows)
    if still_open and not force:
        raise SessionHasOpenOrders(details={"openOrders": still_open})
    now = now_iso()
    for row in rows:
        settled = "cancelled" if row["status"] in OPEN_STATUSES else "completed"
        await tx.execute(
            "UPDATE orders SET status = ?, updated_at = ? WHERE id = ?", (settled, now, row["id"])
        )
        view = await _view(tx, row["id"])
        await _record(
            ctx, tx, "order:updated", row["branch_id"], view, previousStatus=row["status"]
        )
    await _update_session_totals(tx, session_id)


async def orders_for_record(tx: Transaction, session_id: str) -> list[dict[str, Any]]:
    """The session's orders with their lines, as the upstream record carries them."""
    rows = await tx.fetch_all(
        f"{ORDER_SELECT} WHERE o.session_id = ? ORDER BY o.order_number", (session_id,)
    )
    return await _views(tx.fetch_all, rows)
