"""The menu as staff run it on the device: marking a dish sold out, or back on.

The catalog itself (what is on the menu, at what price) comes from the central or a file, see
`edge.catalog`. A toggle here changes only `is_available`, never `central_available`, so it lasts
until staff undo it or the central changes that item's availability (the newer change wins).
"""

from __future__ import annotations

from edge.catalog import ITEM_COLUMNS
from edge.clock import now_iso
from edge.errors import NotFound
from edge.store import Row, Store, Transaction


class MenuItemNotFound(NotFound):
    message = "Producto no encontrado"


async def set_availability(store: Store, branch_id: str, item_id: str, available: bool) -> Row:
    """Mark a live menu item sold out or back on; returns the item."""

    async def work(tx: Transaction) -> Row | None:
        changed = await tx.execute(
            "UPDATE menu_items SET is_available = ?, updated_at = ?"
            " WHERE id = ? AND branch_id = ? AND retired = 0",
            (int(available), now_iso(), item_id, branch_id),
        )
        if not changed:
            return None
        return await tx.fetch_one(
            f"SELECT {ITEM_COLUMNS} FROM menu_items i WHERE i.id = ?", (item_id,)
        )

    row = await store.transact(work)
    if row is None:
        raise MenuItemNotFound()
    return row
