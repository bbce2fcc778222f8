"""Which station prints what: kitchen tickets queued in the transaction that changes the order.

`order_changed` is the one call `edge.orders` makes. When the branch prints on `new` orders, a
ticket is queued as the order is placed; on `confirmed` (the default), as staff take it from
pending (to confirmed, or straight to preparing). Each printer whose categories match gets one
ticket with only its lines; a printer none of whose categories is in the order gets none.

A ticket is a snapshot (names, notes, modifiers, diner) taken in that transaction, so what the
kitchen reads is what was ordered, even if it prints an hour later after a printer comes back.
"""

from __future__ import annotations

import json
from typing import Any

from edge import outbox
from edge.context import EdgeContext
from edge.printing.printers import Printer
from edge.store import Store, Transaction, json_array

PRINT_ON = ("new", "confirmed")
ACCEPTED = frozenset({"confirmed", "preparing"})


class NothingToPrint(LookupError):
    """No printer prints any line of the order (or the one asked for does not exist)."""


async def order_changed(
    ctx: EdgeContext, tx: Transaction, order: dict[str, Any], previous: str | None
) -> None:
    """Queue the order's tickets if this change is the one the branch prints on.

    `previous` is None when the order was just placed, else the status it moved from.
    """
    if previous is None:
        due = ctx.directory.settings.print_on == "new"
    else:
        due = (
            ctx.directory.settings.print_on == "confirmed"
            and previous == "pending"
            and order["status"] in ACCEPTED
        )
    if due:
        await queue_tickets(tx, order)


def _line(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "quantity": item["quantity"],
        "name": item["name"],
        "modifiers": [modifier["name"] for modifier in item.get("modifiers") or []],
        "notes": item.get("notes"),
    }


async def queue_tickets(
    tx: Transaction,
    order: dict[str, Any],
    *,
    reprint: bool = False,
    printer_id: str | None = None,
) -> list[Printer]:
    """Queue one ticket per matching printer (or only `printer_id`); returns those printers."""
    rows = await tx.fetch_all("SELECT * FROM printers ORDER BY name")
    printers = [Printer.from_row(row) for row in rows]
    if printer_id is not None:
        printers = [printer for printer in printers if printer.id == printer_id]
    if not printers:
        return []
    items = order["items"]
    categories = {
        row["id"]: row["category_id"]
        for row in await tx.fetch_all(
            "SELECT id, category_id FROM menu_items WHERE id IN (SELECT value FROM json_each(?))",
            (json_array(item["menu_item_id"] for item in items),),
        )
    }
    header = await tx.fetch_one(
        "SELECT b.name AS branch, COALESCE(d.name, s.customer_name) AS diner FROM orders o"
        " JOIN branch b ON b.id = o.branch_id JOIN sessions s ON s.id = o.session_id"
        " LEFT JOIN diners d ON d.id = o.diner_id WHERE o.id = ?",
        (order["id"],),
    )
    assert header is not None
    queued = []
    for printer in printers:
        lines = [
            _line(item) for item in items if printer.prints(categories.get(item["menu_item_id"]))
        ]
        if not lines:
            continue
        ticket = {
            "kind": "order",
            "order_id": order["id"],
            "order_number": order["order_number"],
            "table_number": order["table_number"],
            "created_at": order["created_at"],
            "branch": header["branch"],
            "diner": header["diner"],
            "station": printer.name,
            "notes": order["notes"],
            "lines": lines,
            "reprint": reprint,
        }
        await outbox.enqueue(tx, printer.topic, json.dumps(ticket))
        queued.append(printer)
    return queued


async def reprint(
    store: Store, order: dict[str, Any], printer_id: str | None = None
) -> list[Printer]:
    """Queue the order's tickets again, marked as a reprint; raises `NothingToPrint` if none would
    print anything."""

    async def work(tx: Transaction) -> list[Printer]:
        return await queue_tickets(tx, order, reprint=True, printer_id=printer_id)

    queued = await store.transact(work)
    if not queued:
        raise NothingToPrint(order["id"])
    return queued
