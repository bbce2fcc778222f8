"""The branch's catalog: categories, items and modifier groups, as the central RestAI API sends
it (CONTRACT.md, "Catalog from the central") or an installer's menu file describes it.

A catalog is checked whole before anything is written and applied in one transaction, so a
broken one changes nothing and the last good one stays. Ids are kept (the central's, or those of
the items a file names the same way), so a phone holding a cart keeps working across a change.
An item left out is deleted, unless an order names it: then it is retired, gone from the menu
but still there for the bills and the upstream records that copied it. Modifier groups and
modifiers are simply replaced: an order line copies the names and prices it chose.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec

from edge.clock import now_iso
from edge.events import EventLog
from edge.ids import new_id
from edge.store import Store, Transaction, json_array

MAX_PRICE = 10_000_000
MAX_CATEGORIES = 500
MAX_ITEMS = 10_000
MAX_GROUPS = 2_000
MAX_MODIFIERS_PER_GROUP = 100
MAX_GROUPS_PER_ITEM = 30
MAX_TAGS = 30
CURRENCY_PATTERN = re.compile(r"[A-Z]{3}")
# Served by the device itself (see the images fetched at pull time); never the central's URL.
MEDIA_PREFIX = "/_media/"

Price = Annotated[int, msgspec.Meta(ge=0, le=MAX_PRICE)]
Order = Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]
Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
Tags = Annotated[list[Tag], msgspec.Meta(max_length=MAX_TAGS)]


class CatalogError(ValueError):
    """A catalog that cannot be applied; the message names the place and the problem."""


# --------------------------------------------------------------------------- documents


class BranchDoc(msgspec.Struct):
    currency: str
    tax_rate: Annotated[int, msgspec.Meta(ge=0, le=10000)]
    name: Annotated[str, msgspec.Meta(max_length=120)] | None = None


class CategoryDoc(msgspec.Struct):
    id: str
    name: Annotated[str, msgspec.Meta(max_length=100)]
    sort_order: Order = 0
    is_active: bool = True


class ModifierDoc(msgspec.Struct):
    id: str
    name: Annotated[str, msgspec.Meta(max_length=100)]
    price: Price = 0
    is_available: bool = True
    sort_order: Order = 0


class GroupDoc(msgspec.Struct):
    id: str
    name: Annotated[str, msgspec.Meta(max_length=100)]
    min_selections: Annotated[int, msgspec.Meta(ge=0, le=MAX_MODIFIERS_PER_GROUP)]
    max_selections: Annotated[int, msgspec.Meta(ge=1, le=MAX_MODIFIERS_PER_GROUP)]
    modifiers: Annotated[list[ModifierDoc], msgspec.Meta(max_length=MAX_MODIFIERS_PER_GROUP)]


class ItemDoc(msgspec.Struct):
    id: str
    category_id: str
    name: Annotated[str, msgspec.Meta(max_length=120)]
    price: Price
    description: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    image_url: Annotated[str, msgspec.Meta(max_length=2048)] | None = None
    is_available: bool = True
    sort_order: Order = 0
    allergens: Tags = msgspec.field(default_factory=list)
    dietary_tags: Tags = msgspec.field(default_factory=list)
    spice_level: Annotated[int, msgspec.Meta(ge=0, le=10)] | None = None
    preparation_time_min: Annotated[int, msgspec.Meta(ge=0, le=1440)] | None = None
    modifier_groups: Annotated[list[str], msgspec.Meta(max_length=MAX_GROUPS_PER_ITEM)] = (
        msgspec.field(default_factory=list)
    )


class Catalog(msgspec.Struct):
    """CONTRACT.md's CATALOG document."""

    version: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    branch: BranchDoc
    categories: Annotated[list[CategoryDoc], msgspec.Meta(max_length=MAX_CATEGORIES)]
    items: Annotated[list[ItemDoc], msgspec.Meta(max_length=MAX_ITEMS)]
    modifier_groups: Annotated[list[GroupDoc], msgspec.Meta(max_length=MAX_GROUPS)] = msgspec.field(
        default_factory=list
    )


# The older menu file an installer writes by hand: categories by name, items with optional ids.


class FileItem(msgspec.Struct):
    name: Annotated[str, msgspec.Meta(max_length=120)]
    price: Price
    id: str | None = None
    description: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    available: bool = True


class FileCategory(msgspec.Struct):
    name: Annotated[str, msgspec.Meta(max_length=100)]
    items: Annotated[list[FileItem], msgspec.Meta(min_length=1)]


class MenuFile(msgspec.Struct):
    currency: str
    tax_rate: Annotated[int, msgspec.Meta(ge=0, le=10000)] = msgspec.field(name="taxRate")
    categories: Annotated[list[FileCategory], msgspec.Meta(min_length=1, max_length=100)]


# --------------------------------------------------------------------------- checking


def _decode_error(message: str) -> CatalogError:
    """msgspec says 'Expected `int`, got `float` - at `$.items[0].price`'."""
    reason, _, where = message.partition(" - at ")
    path = where.strip("`").removeprefix("$").removeprefix(".") or "menu"
    if path.endswith(".price") and "int" in reason:
        reason += " (prices are integer cents: 3500 means 35.00)"
    return CatalogError(f"{path}: {reason}")


def _decode(raw: bytes, kind: type[Any]) -> Any:
    try:
        return msgspec.json.decode(raw, type=kind)
    except msgspec.ValidationError as exc:
        raise _decode_error(str(exc)) from None
    except msgspec.DecodeError as exc:
        raise CatalogError(f"not valid JSON ({exc})") from None


def _clean_name(value: str, where: str) -> str:
    if any(ord(ch) < 32 for ch in value):
        raise CatalogError(f"{where}: must not contain control characters")
    name = " ".join(value.split())
    if not name:
        raise CatalogError(f"{where}: must not be blank")
    return name


def _uuid(value: str, where: str) -> str:
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise CatalogError(f"{where}: must be a UUID, got {value[:60]!r}") from None
    if str(parsed) != value.lower():
        raise CatalogError(f"{where}: must be a UUID, got {value[:60]!r}")
    return value.lower()


def _currency(value: str, where: str) -> str:
    if not CURRENCY_PATTERN.fullmatch(value):
        raise CatalogError(f"{where}: must be an ISO 4217 code like PEN, got {value!r}")
    return value


class _Ids:
    """Ids seen so far in one kind of thing, to name the second use of one."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.seen: set[str] = set()

    def add(self, value: str, where: str) -> str:
        ident = _uuid(value, where)
        if ident in self.seen:
            raise CatalogError(f"{where}: {ident} is used by two {self.kind}")
        self.seen.add(ident)
        return ident


def _check_groups(catalog: Catalog) -> None:
    groups, modifiers = _Ids("modifier groups"), _Ids("modifiers")
    for g, group in enumerate(catalog.modifier_groups):
        at = f"modifier_groups[{g}]"
        group.id = groups.add(group.id, f"{at}.id")
        group.name = _clean_name(group.name, f"{at}.name")
        if group.min_selections > group.max_selections:
            raise CatalogError(
                f"{at}: min_selections {group.min_selections} is above"
                f" max_selections {group.max_selections}"
            )
        if group.min_selections > len(group.modifiers):
            raise CatalogError(
                f"{at}: asks for at least {group.min_selections} of"
                f" {len(group.modifiers)} modifiers, which nobody could order"
            )
        for m, modifier in enumerate(group.modifiers):
            modifier.id = modifiers.add(modifier.id, f"{at}.modifiers[{m}].id")
            modifier.name = _clean_name(modifier.name, f"{at}.modifiers[{m}].name")


def _check_items(catalog: Catalog, category_names: dict[str, str]) -> None:
    items = _Ids("items")
    group_ids = {group.id for group in catalog.modifier_groups}
    names: set[tuple[str, str]] = set()
    for i, item in enumerate(catalog.items):
        at = f"items[{i}]"
        item.id = items.add(item.id, f"{at}.id")
        item.name = _clean_name(item.name, f"{at}.name")
        category = item.category_id.lower()
        if category not in category_names:
            raise CatalogError(f"{at}.category_id: unknown category {item.category_id[:60]!r}")
        item.category_id = category
        if (category, item.name) in names:
            raise CatalogError(
                f"{at}.name: {item.name!r} appears twice in {category_names[category]!r}"
            )
        names.add((category, item.name))
        if item.description is not None:
            item.description = item.description.strip() or None
        chosen: list[str] = []
        for position, group_id in enumerate(item.modifier_groups):
            where = f"{at}.modifier_groups[{position}]"
            group = _uuid(group_id, where)
            if group not in group_ids:
                raise CatalogError(f"{where}: unknown modifier group {group}")
            if group in chosen:
                raise CatalogError(f"{where}: modifier group {group} is listed twice")
            chosen.append(group)
        item.modifier_groups = chosen


def check_catalog(catalog: Catalog) -> Catalog:
    """Check what the types cannot say: ids, references, names the store keeps unique."""
    catalog.version = catalog.version.strip()
    if not catalog.version:
        raise CatalogError("version: must not be blank")
    _currency(catalog.branch.currency, "branch.currency")
    if catalog.branch.name is not None:
        catalog.branch.name = _clean_name(catalog.branch.name, "branch.name")
    categories = _Ids("categories")
    category_names: dict[str, str] = {}
    for c, category in enumerate(catalog.categories):
        at = f"categories[{c}]"
        category.id = categories.add(category.id, f"{at}.id")
        category.name = _clean_name(category.name, f"{at}.name")
        if category.name in category_names.values():
            raise CatalogError(f"{at}.name: category {category.name!r} appears twice")
        category_names[category.id] = category.name
    _check_groups(catalog)
    _check_items(catalog, category_names)
    return catalog


def parse_catalog(raw: bytes) -> Catalog:
    """Decode and check a whole CATALOG document before anything is written."""
    catalog: Catalog = _decode(raw, Catalog)
    return check_catalog(catalog)


def _parse_file(raw: bytes) -> MenuFile:
    document: MenuFile = _decode(raw, MenuFile)
    _currency(document.currency, "currency")
    seen_categories: set[str] = set()
    ids = _Ids("items")
    for c, category in enumerate(document.categories):
        where = f"categories[{c}]"
        category.name = _clean_name(category.name, f"{where}.name")
        if category.name in seen_categories:
            raise CatalogError(f"{where}.name: category {category.name!r} appears twice")
        seen_categories.add(category.name)
        names: set[str] = set()
        for i, item in enumerate(category.items):
            at = f"{where}.items[{i}]"
            item.name = _clean_name(item.name, f"{at}.name")
            if item.name in names:
                raise CatalogError(f"{at}.name: {item.name!r} appears twice in {category.name!r}")
            names.add(item.name)
            if item.description is not None:
                item.description = item.description.strip() or None
            if item.id is not None:
                item.id = ids.add(item.id, f"{at}.id")
    return document


def parse_menu_document(raw: bytes) -> Catalog | MenuFile:
    """A CATALOG document, or the older hand-written menu file (which nests its items in its
    categories and carries no version)."""
    try:
        head = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise CatalogError(f"not valid JSON ({exc})") from None
    if isinstance(head, dict) and ("version" in head or "items" in head):
        return parse_catalog(raw)
    return _parse_file(raw)


# --------------------------------------------------------------------------- applying


@dataclass(frozen=True)
class ApplySummary:
    branch_slug: str
    version: str
    currency: str
    tax_rate: int
    categories: int
    items: int
    added: int
    updated: int
    deleted: int
    retired: int
    modifier_groups: int
    modifiers: int


def file_version(raw: bytes) -> str:
    """A file carries no version: its content names it."""
    return "file-" + hashlib.sha256(raw).hexdigest()[:12]


async def _from_file(tx: Transaction, branch_id: str, document: MenuFile, version: str) -> Catalog:
    """The file as a CATALOG: categories keep their ids by name, items without an id keep
    theirs by category and name, everything new gets a fresh id."""
    category_ids = {
        row["name"]: row["id"]
        for row in await tx.fetch_all(
            "SELECT id, name FROM menu_categories WHERE branch_id = ?", (branch_id,)
        )
    }
    claimed = {item.id for category in document.categories for item in category.items if item.id}
    by_name = {
        (row["category"], row["name"]): row["id"]
        for row in await tx.fetch_all(
            "SELECT i.id, i.name, c.name AS category FROM menu_items i"
            " JOIN menu_categories c ON c.id = i.category_id"
            " WHERE i.branch_id = ? AND i.retired = 0",
            (branch_id,),
        )
        if row["id"] not in claimed
    }
    categories, items = [], []
    for position, category in enumerate(document.categories):
        category_id = category_ids.get(category.name) or new_id()
        categories.append(CategoryDoc(category_id, category.name, position))
        for order, item in enumerate(category.items):
            item_id = item.id or by_name.get((category.name, item.name)) or new_id()
            items.append(
                ItemDoc(
                    item_id,
                    category_id,
                    item.name,
                    item.price,
                    description=item.description,
                    is_available=item.available,
                    sort_order=order,
                )
            )
    return Catalog(version, BranchDoc(document.currency, document.tax_rate), categories, items)


def _item_row(
    branch_id: str, item: ItemDoc, image_file: str | None, central: bool, now: str
) -> tuple[Any, ...]:
    return (
        item.id,
        branch_id,
        item.category_id,
        item.name,
        item.description,
        item.price,
        int(item.is_available),
        item.sort_order,
        item.image_url,
        image_file,
        json.dumps(item.allergens),
        json.dumps(item.dietary_tags),
        item.spice_level,
        item.preparation_time_min,
        int(item.is_available) if central else None,
        now,
    )


# A staff sold-out toggle outlives a catalog that says nothing new about the item: the
# central's value replaces it only where the central's own value changed (newer wins). A file
# is an installer's explicit act, so its value always applies.
_UPSERT_ITEM = (
    "INSERT INTO menu_items (id, branch_id, category_id, name, description, price, is_available,"
    " sort_order, image_url, image_file, allergens, dietary_tags, spice_level,"
    " preparation_time_min, central_available, retired, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)"
    " ON CONFLICT (id) DO UPDATE SET category_id = excluded.category_id,"
    " name = excluded.name, description = excluded.description, price = excluded.price,"
    " is_available = CASE WHEN excluded.central_available IS NOT NULL"
    "  AND menu_items.central_available IS excluded.central_available"
    "  THEN menu_items.is_available ELSE excluded.is_available END,"
    " sort_order = excluded.sort_order, image_url = excluded.image_url,"
    " image_file = excluded.image_file, allergens = excluded.allergens,"
    " dietary_tags = excluded.dietary_tags, spice_level = excluded.spice_level,"
    " preparation_time_min = excluded.preparation_time_min,"
    " central_available = excluded.central_available, retired = 0,"
    " updated_at = excluded.updated_at"
)


async def _put_state(tx: Transaction, values: Mapping[str, str]) -> None:
    await tx.executemany(
        "INSERT INTO catalog_state (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        list(values.items()),
    )


async def _replace_groups(tx: Transaction, branch_id: str, catalog: Catalog) -> int:
    groups = catalog.modifier_groups
    await tx.execute(
        "DELETE FROM menu_item_modifier_groups WHERE item_id IN"
        " (SELECT id FROM menu_items WHERE branch_id = ?)",
        (branch_id,),
    )
    keep = json_array(group.id for group in groups)
    await tx.execute(
        "DELETE FROM modifier_groups WHERE branch_id = ? AND id NOT IN"
        " (SELECT value FROM json_each(?))",
        (branch_id, keep),
    )
    await tx.executemany(
        "INSERT INTO modifier_groups (id, branch_id, name, min_selections, max_selections,"
        " sort_order) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
        " name = excluded.name, min_selections = excluded.min_selections,"
        " max_selections = excluded.max_selections, sort_order = excluded.sort_order",
        [
            (group.id, branch_id, group.name, group.min_selections, group.max_selections, g)
            for g, group in enumerate(groups)
        ],
    )
    modifiers = [(group.id, modifier) for group in groups for modifier in group.modifiers]
    await tx.execute(
        "DELETE FROM modifiers WHERE group_id IN"
        " (SELECT id FROM modifier_groups WHERE branch_id = ?)"
        " AND id NOT IN (SELECT value FROM json_each(?))",
        (branch_id, json_array(modifier.id for _, modifier in modifiers)),
    )
    await tx.executemany(
        "INSERT INTO modifiers (id, group_id, name, price, is_available, sort_order)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET group_id = excluded.group_id,"
        " name = excluded.name, price = excluded.price, is_available = excluded.is_available,"
        " sort_order = excluded.sort_order",
        [
            (m.id, group_id, m.name, m.price, int(m.is_available), m.sort_order)
            for group_id, m in modifiers
        ],
    )
    await tx.executemany(
        "INSERT INTO menu_item_modifier_groups (item_id, group_id, position) VALUES (?, ?, ?)",
        [
            (item.id, group_id, position)
            for item in catalog.items
            for position, group_id in enumerate(item.modifier_groups)
        ],
    )
    return len(modifiers)


async def apply_catalog(
    store: Store,
    document: Catalog | MenuFile,
    *,
    source: str,
    etag: str | None = None,
    version: str | None = None,
    images: Mapping[str, str] | None = None,
    events: EventLog | None = None,
) -> ApplySummary:
    """Make the store's menu the document's, in one transaction (all of it or nothing).

    `images` maps an item's `image_url` to the file the puller fetched for it; an item whose
    picture is not there is shown without one. `version` names a file's content (a CATALOG
    carries its own). The change is announced as `menu:updated` on the branch.
    """
    pictures = images or {}
    central = source == "central"

    async def work(tx: Transaction) -> ApplySummary:
        branch = await tx.fetch_one("SELECT id, slug FROM branch LIMIT 1")
        if branch is None:
            raise CatalogError("no branch is provisioned: run 'restai-edge provision' first")
        branch_id = branch["id"]
        if isinstance(document, MenuFile):
            catalog = await _from_file(tx, branch_id, document, version or "file")
        else:
            catalog = document
        now = now_iso()
        await tx.execute(
            "UPDATE branch SET currency = ?, tax_rate = ?, name = COALESCE(?, name) WHERE id = ?",
            (catalog.branch.currency, catalog.branch.tax_rate, catalog.branch.name, branch_id),
        )
        before = {
            row["id"]: bool(row["live"])
            for row in await tx.fetch_all(
                "SELECT id, retired = 0 AS live FROM menu_items WHERE branch_id = ?", (branch_id,)
            )
        }
        # Everything steps off the menu (and off its category names) first, so that swapping
        # two names never trips the one-live-name indexes; the upserts put back what stays.
        await tx.execute(
            "UPDATE menu_items SET retired = 1, category_id = NULL WHERE branch_id = ?",
            (branch_id,),
        )
        await tx.execute(
            "UPDATE menu_categories SET name = '~' || id WHERE branch_id = ?", (branch_id,)
        )
        await tx.execute(
            "DELETE FROM menu_categories WHERE branch_id = ? AND id NOT IN"
            " (SELECT value FROM json_each(?))",
            (branch_id, json_array(category.id for category in catalog.categories)),
        )
        await tx.executemany(
            "INSERT INTO menu_categories (id, branch_id, name, sort_order, is_active)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
            " sort_order = excluded.sort_order, is_active = excluded.is_active",
            [(c.id, branch_id, c.name, c.sort_order, int(c.is_active)) for c in catalog.categories],
        )
        await tx.executemany(
            _UPSERT_ITEM,
            [
                _item_row(branch_id, item, pictures.get(item.image_url or ""), central, now)
                for item in catalog.items
            ],
        )
        deleted = await tx.execute(
            "DELETE FROM menu_items WHERE branch_id = ? AND retired = 1 AND NOT EXISTS"
            " (SELECT 1 FROM order_items o WHERE o.menu_item_id = menu_items.id)",
            (branch_id,),
        )
        modifier_count = await _replace_groups(tx, branch_id, catalog)
        await _put_state(
            tx,
            {
                "source": source,
                "version": catalog.version,
                "etag": etag or "",
                "applied_at": now,
            },
        )
        log = events or EventLog(store)
        await log.record(
            tx,
            "menu:updated",
            branch_id=branch_id,
            session_id=None,
            table_id=None,
            table_number=None,
            version=catalog.version,
        )
        kept = {item.id for item in catalog.items}
        was_live = {key for key, live in before.items() if live}
        return ApplySummary(
            branch_slug=branch["slug"],
            version=catalog.version,
            currency=catalog.branch.currency,
            tax_rate=catalog.branch.tax_rate,
            categories=len(catalog.categories),
            items=len(kept),
            added=len(kept - before.keys()),
            updated=len(kept & before.keys()),
            deleted=deleted,
            # An item retired earlier is named by an order, so only live ones can be deleted.
            retired=len(was_live - kept) - deleted,
            modifier_groups=len(catalog.modifier_groups),
            modifiers=modifier_count,
        )

    return await store.transact(work)


# --------------------------------------------------------------------------- reading


async def catalog_state(store: Store) -> dict[str, str]:
    rows = await store.fetch_all("SELECT key, value FROM catalog_state")
    return {row["key"]: row["value"] for row in rows}


def _groups_by_item(
    links: list[dict[str, Any]], modifiers: list[dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    by_group: dict[str, list[dict[str, Any]]] = {}
    for row in modifiers:
        by_group.setdefault(row["group_id"], []).append(
            {
                "id": row["id"],
                "name": row["name"],
                "price": row["price"],
                "is_available": bool(row["is_available"]),
            }
        )
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in links:
        groups.setdefault(row["item_id"], []).append(
            {
                "id": row["id"],
                "name": row["name"],
                "min_selections": row["min_selections"],
                "max_selections": row["max_selections"],
                "modifiers": by_group.get(row["id"], []),
            }
        )
    return groups


def item_view(row: dict[str, Any], groups: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """An item as diners and staff see it (the contract's fields, then the catalog's), with its
    modifier groups when they were read."""
    view = {
        "id": row["id"],
        "category_id": row["category_id"],
        "name": row["name"],
        "description": row["description"],
        "price": row["price"],
        "is_available": bool(row["is_available"]),
        "image_url": MEDIA_PREFIX + row["image_file"] if row["image_file"] else None,
        "sort_order": row["sort_order"],
        "allergens": json.loads(row["allergens"]),
        "dietary_tags": json.loads(row["dietary_tags"]),
        "spice_level": row["spice_level"],
        "preparation_time_min": row["preparation_time_min"],
    }
    if groups is not None:
        view["modifier_groups"] = groups
    return view


ITEM_COLUMNS = (
    "i.id, i.category_id, i.name, i.description, i.price, i.is_available, i.image_file,"
    " i.sort_order, i.allergens, i.dietary_tags, i.spice_level, i.preparation_time_min"
)


async def read_menu(store: Store, branch_id: str) -> dict[str, Any]:
    """The branch (read fresh: a catalog may have changed its currency or tax) and its live menu:
    active categories in order, then their items in order with their modifier groups inline."""
    branch = await store.fetch_one(
        "SELECT id, name, slug, currency, tax_rate FROM branch WHERE id = ?", (branch_id,)
    )
    categories = await store.fetch_all(
        "SELECT id, name, sort_order FROM menu_categories WHERE branch_id = ? AND is_active = 1"
        " ORDER BY sort_order, name",
        (branch_id,),
    )
    items = await store.fetch_all(
        f"SELECT {ITEM_COLUMNS} FROM menu_items i JOIN menu_categories c ON c.id = i.category_id"
        " WHERE i.branch_id = ? AND i.retired = 0 AND c.is_active = 1"
        " ORDER BY c.sort_order, c.name, i.sort_order, i.name",
        (branch_id,),
    )
    links = await store.fetch_all(
        "SELECT l.item_id, g.id, g.name, g.min_selections, g.max_selections"
        " FROM menu_item_modifier_groups l JOIN modifier_groups g ON g.id = l.group_id"
        " WHERE g.branch_id = ? ORDER BY l.item_id, l.position",
        (branch_id,),
    )
    modifiers = await store.fetch_all(
        "SELECT m.id, m.group_id, m.name, m.price, m.is_available FROM modifiers m"
        " JOIN modifier_groups g ON g.id = m.group_id WHERE g.branch_id = ?"
        " ORDER BY m.group_id, m.sort_order, m.name",
        (branch_id,),
    )
    groups = _groups_by_item(links, modifiers)
    return {
        "branch": branch,
        "categories": categories,
        "items": [item_view(row, groups.get(row["id"], [])) for row in items],
    }
