"""The branch's menu: loaded from a JSON document, read by diners, sold-out toggled by staff.

A re-import describes the whole menu. Items keep their ids (given in the file, or found by
category and name when the file has none), so a phone holding a cart keeps working after a price
change. An item left out of the file is deleted, unless an order names it: then it is retired,
gone from the menu but still there for the orders and the bills that copied it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec

from edge.clock import now_iso
from edge.errors import NotFound
from edge.store import Row, Store, Transaction

MAX_PRICE = 10_000_000
MAX_CATEGORIES = 100
MAX_ITEMS = 1000
CURRENCY_PATTERN = re.compile(r"[A-Z]{3}")

ITEM_COLUMNS = "id, category_id, name, description, price, is_available"


class MenuItemNotFound(NotFound):
    message = "Producto no encontrado"


class MenuError(ValueError):
    """A menu document that cannot be imported; the message names the place and the problem."""


class MenuItemDoc(msgspec.Struct):
    name: Annotated[str, msgspec.Meta(max_length=120)]
    price: Annotated[int, msgspec.Meta(ge=0, le=MAX_PRICE)]
    id: str | None = None
    description: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    available: bool = True


class CategoryDoc(msgspec.Struct):
    name: Annotated[str, msgspec.Meta(max_length=100)]
    items: Annotated[list[MenuItemDoc], msgspec.Meta(min_length=1)]


class MenuDocument(msgspec.Struct):
    currency: str
    tax_rate: Annotated[int, msgspec.Meta(ge=0, le=10000)] = msgspec.field(name="taxRate")
    categories: Annotated[list[CategoryDoc], msgspec.Meta(min_length=1, max_length=MAX_CATEGORIES)]


@dataclass(frozen=True)
class ImportSummary:
    branch_slug: str
    currency: str
    tax_rate: int
    categories: int
    items: int
    added: int
    updated: int
    deleted: int
    retired: int


def _clean_name(value: str, where: str) -> str:
    if any(ord(ch) < 32 for ch in value):
        raise MenuError(f"{where}: must not contain control characters")
    name = " ".join(value.split())
    if not name:
        raise MenuError(f"{where}: must not be blank")
    return name


def _decode_error(message: str) -> MenuError:
    """msgspec says 'Expected `int`, got `float` - at `$.categories[0].items[1].price`'."""
    reason, _, where = message.partition(" - at ")
    path = where.strip("`").removeprefix("$").removeprefix(".") or "menu"
    if path.endswith(".price") and "int" in reason:
        reason += " (prices are integer cents: 3500 means 35.00)"
    return MenuError(f"{path}: {reason}")


def parse_menu(raw: bytes) -> MenuDocument:
    """Decode and check a whole menu document before anything is written."""
    try:
        document = msgspec.json.decode(raw, type=MenuDocument)
    except msgspec.ValidationError as exc:
        raise _decode_error(str(exc)) from None
    except msgspec.DecodeError as exc:
        raise MenuError(f"not valid JSON ({exc})") from None
    if not CURRENCY_PATTERN.fullmatch(document.currency):
        raise MenuError(f"currency: must be an ISO 4217 code like PEN, got {document.currency!r}")
    seen_categories: set[str] = set()
    seen_ids: set[str] = set()
    count = 0
    for c, category in enumerate(document.categories):
        where = f"categories[{c}]"
        category.name = _clean_name(category.name, f"{where}.name")
        if category.name in seen_categories:
            raise MenuError(f"{where}.name: category {category.name!r} appears twice")
        seen_categories.add(category.name)
        names: set[str] = set()
        for i, item in enumerate(category.items):
            at = f"{where}.items[{i}]"
            item.name = _clean_name(item.name, f"{at}.name")
            if item.name in names:
                raise MenuError(f"{at}.name: {item.name!r} appears twice in {category.name!r}")
            names.add(item.name)
            if item.description is not None:
                item.description = item.description.strip() or None
            if item.id is not None:
                item.id = _item_id(item.id, f"{at}.id")
                if item.id in seen_ids:
                    raise MenuError(f"{at}.id: {item.id} is used by two items")
                seen_ids.add(item.id)
            count += 1
    if count > MAX_ITEMS:
        raise MenuError(f"categories: at most {MAX_ITEMS} items, got {count}")
    return document


def _item_id(value: str, where: str) -> str:
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise MenuError(f"{where}: must be a UUID, got {value!r}") from None
    if str(parsed) != value.lower():
        raise MenuError(f"{where}: must be a UUID, got {value!r}")
    return value.lower()


async def import_menu(store: Store, document: MenuDocument) -> ImportSummary:
    """Make the store's menu the document's, in one transaction (all of it or nothing)."""

    async def work(tx: Transaction) -> ImportSummary:
        branch = await tx.fetch_one("SELECT id, slug FROM branch LIMIT 1")
        if branch is None:
            raise MenuError("no branch is provisioned: run 'restai-edge provision' first")
        branch_id = branch["id"]
        now = now_iso()
        await tx.execute(
            "UPDATE branch SET currency = ?, tax_rate = ? WHERE id = ?",
            (document.currency, document.tax_rate, branch_id),
        )
        existing = {
            row["id"]: row
            for row in await tx.fetch_all(
                "SELECT i.id, i.name, c.name AS category FROM menu_items i"
                " LEFT JOIN menu_categories c ON c.id = i.category_id WHERE i.branch_id = ?",
                (branch_id,),
            )
        }
        item_ids = _resolve_item_ids(document, existing)
        category_ids = await _upsert_categories(tx, branch_id, document)

        # Everything steps off the menu first, so that swapping two names never trips the
        # one-live-name-per-category index; the upserts below put back what the file keeps.
        await tx.execute(
            "UPDATE menu_items SET retired = 1, category_id = NULL WHERE branch_id = ?",
            (branch_id,),
        )
        placed = zip(document.categories, category_ids, item_ids, strict=True)
        for category, category_id, ids in placed:
            for position, (item, item_id) in enumerate(zip(category.items, ids, strict=True)):
                await tx.execute(
                    "INSERT INTO menu_items (id, branch_id, category_id, name, description,"
                    " price, is_available, sort_order, retired, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?)"
                    " ON CONFLICT (id) DO UPDATE SET category_id = excluded.category_id,"
                    " name = excluded.name, description = excluded.description,"
                    " price = excluded.price, is_available = excluded.is_available,"
                    " sort_order = excluded.sort_order, retired = 0,"
                    " updated_at = excluded.updated_at",
                    (
                        item_id,
                        branch_id,
                        category_id,
                        item.name,
                        item.description,
                        item.price,
                        int(item.available),
                        position,
                        now,
                    ),
                )
        deleted = await tx.execute(
            "DELETE FROM menu_items WHERE branch_id = ? AND retired = 1 AND NOT EXISTS"
            " (SELECT 1 FROM order_items o WHERE o.menu_item_id = menu_items.id)",
            (branch_id,),
        )
        await tx.execute(
            "DELETE FROM menu_categories WHERE branch_id = ? AND id NOT IN"
            " (SELECT value FROM json_each(?))",
            (branch_id, msgspec.json.encode(category_ids).decode()),
        )
        kept = {item_id for ids in item_ids for item_id in ids}
        was_live = {key for key, row in existing.items() if row["category"] is not None}
        return ImportSummary(
            branch_slug=branch["slug"],
            currency=document.currency,
            tax_rate=document.tax_rate,
            categories=len(category_ids),
            items=len(kept),
            added=len(kept - existing.keys()),
            updated=len(kept & existing.keys()),
            deleted=deleted,
            # An item retired earlier is named by an order, so only live ones can be deleted.
            retired=len(was_live - kept) - deleted,
        )

    return await store.transact(work)


def _resolve_item_ids(document: MenuDocument, existing: dict[str, Row]) -> list[list[str]]:
    """The store id of each item of the document, category by category."""
    claimed = {item.id for category in document.categories for item in category.items if item.id}
    by_name = {
        (row["category"], row["name"]): key
        for key, row in existing.items()
        if row["category"] is not None and key not in claimed
    }
    return [
        [
            item.id or by_name.get((category.name, item.name)) or str(uuid.uuid4())
            for item in category.items
        ]
        for category in document.categories
    ]


async def _upsert_categories(tx: Transaction, branch_id: str, document: MenuDocument) -> list[str]:
    current = {
        row["name"]: row["id"]
        for row in await tx.fetch_all(
            "SELECT id, name FROM menu_categories WHERE branch_id = ?", (branch_id,)
        )
    }
    ids = []
    for position, category in enumerate(document.categories):
        category_id = current.get(category.name) or str(uuid.uuid4())
        await tx.execute(
            "INSERT INTO menu_categories (id, branch_id, name, sort_order) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET sort_order = excluded.sort_order",
            (category_id, branch_id, category.name, position),
        )
        ids.append(category_id)
    return ids


def item_view(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "category_id": row["category_id"],
        "name": row["name"],
        "description": row["description"],
        "price": row["price"],
        "is_available": bool(row["is_available"]),
    }


async def read_menu(store: Store, branch_id: str) -> dict[str, Any]:
    """The branch (read fresh: an import may have changed its currency or tax) and its live
    menu: categories in order, then their items in order, retired ones left out."""
    branch = await store.fetch_one(
        "SELECT id, name, slug, currency, tax_rate FROM branch WHERE id = ?", (branch_id,)
    )
    categories = await store.fetch_all(
        "SELECT id, name, sort_order FROM menu_categories WHERE branch_id = ? ORDER BY sort_order",
        (branch_id,),
    )
    items = await store.fetch_all(
        "SELECT i.id, i.category_id, i.name, i.description, i.price, i.is_available"
        " FROM menu_items i JOIN menu_categories c ON c.id = i.category_id"
        " WHERE i.branch_id = ? AND i.retired = 0 ORDER BY c.sort_order, i.sort_order",
        (branch_id,),
    )
    return {
        "branch": branch,
        "categories": categories,
        "items": [item_view(row) for row in items],
    }


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
        return await tx.fetch_one(f"SELECT {ITEM_COLUMNS} FROM menu_items WHERE id = ?", (item_id,))

    row = await store.transact(work)
    if row is None:
        raise MenuItemNotFound()
    return row
