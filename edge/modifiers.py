"""Modifiers on order lines: what a diner chose for a dish (its "término", extras), checked
against the item's modifier groups and priced by the device.

Every line is checked whole before anything is written: each chosen id must be a modifier of one
of the item's groups, chosen once, and each group's count must lie within its min..max (a min of
1 or more makes the group required). Refusals name the line and the group, so a page can point at
what to fix. What a line chose is copied onto the order (names, group and prices as they were),
so a later catalog never rewrites a bill or a kitchen ticket.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from edge.errors import ItemUnavailable, ValidationError
from edge.store import Params, Row, Transaction, json_array

FetchAll = Callable[[str, Params], Awaitable[list[Row]]]

# A line may name at most this many modifiers (the API checks it before any read).
MAX_PER_LINE = 30


@dataclass(frozen=True)
class Chosen:
    """A modifier as an order line keeps it."""

    modifier_id: str
    group_id: str
    group_name: str
    name: str
    price: int


@dataclass(frozen=True)
class Group:
    id: str
    name: str
    min_selections: int
    max_selections: int


def _group_ref(group: Group | Row | None) -> dict[str, Any] | None:
    if group is None:
        return None
    if isinstance(group, Group):
        return {"id": group.id, "name": group.name}
    return {"id": group["group_id"], "name": group["group_name"]}


def _refuse(line: int, reason: str, *, field: str, group: Any = None, **extra: Any) -> None:
    raise ValidationError(
        details={
            "field": field,
            "line": line,
            "group": _group_ref(group),
            "reason": reason,
            **extra,
        }
    )


async def _item_groups(tx: Transaction, item_ids: list[str]) -> dict[str, list[Group]]:
    """Each item's modifier groups, in the order the diner is asked."""
    rows = await tx.fetch_all(
        "SELECT l.item_id, g.id, g.name, g.min_selections, g.max_selections"
        " FROM menu_item_modifier_groups l JOIN modifier_groups g ON g.id = l.group_id"
        " WHERE l.item_id IN (SELECT value FROM json_each(?)) ORDER BY l.item_id, l.position",
        (json_array(item_ids),),
    )
    groups: dict[str, list[Group]] = defaultdict(list)
    for row in rows:
        groups[row.pop("item_id")].append(Group(**row))
    return groups


async def _modifiers(tx: Transaction, modifier_ids: list[str]) -> dict[str, Row]:
    """The named modifiers that exist, with their group (whichever item that group serves)."""
    rows = await tx.fetch_all(
        "SELECT m.id, m.name, m.price, m.is_available, m.sort_order, m.group_id,"
        " g.name AS group_name, g.sort_order AS group_sort FROM modifiers m"
        " JOIN modifier_groups g ON g.id = m.group_id"
        " WHERE m.id IN (SELECT value FROM json_each(?))",
        (json_array(modifier_ids),),
    )
    return {row["id"]: row for row in rows}


def _check_line(
    index: int, chosen_ids: Sequence[str], groups: list[Group], known: dict[str, Row]
) -> list[Row]:
    """The line's modifiers if its choice is valid, in the order of the item's groups."""
    field = f"items[{index}].modifiers"
    offered = {group.id: group for group in groups}
    seen: set[str] = set()
    rows = []
    for position, modifier_id in enumerate(chosen_ids):
        at = f"{field}[{position}]"
        row = known.get(modifier_id)
        if row is None:
            _refuse(index, "unknown modifier", field=at, modifierId=modifier_id)
        assert row is not None
        if row["group_id"] not in offered:
            _refuse(
                index, "not a modifier of this item", field=at, group=row, modifierId=modifier_id
            )
        if modifier_id in seen:
            _refuse(index, "chosen more than once", field=at, group=row, modifierId=modifier_id)
        seen.add(modifier_id)
        rows.append(row)
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[row["group_id"]] += 1
    for group in groups:
        count = counts[group.id]
        limits = {"min": group.min_selections, "max": group.max_selections, "chosen": count}
        if count < group.min_selections:
            reason = (
                "required: choose one"
                if group.min_selections == 1
                else f"choose at least {group.min_selections}"
            )
            _refuse(index, reason, field=field, group=group, **limits)
        if count > group.max_selections:
            _refuse(
                index, f"choose at most {group.max_selections}", field=field, group=group, **limits
            )
    position_of = {group.id: position for position, group in enumerate(groups)}
    return sorted(
        rows, key=lambda row: (position_of[row["group_id"]], row["sort_order"], row["id"])
    )


async def choose(
    tx: Transaction, item_ids: Sequence[str], choices: Sequence[Sequence[str]]
) -> list[list[Chosen]]:
    """Check every line's modifiers against its item (`item_ids[i]` with `choices[i]`) and
    return what each line chose. Bad choices are refused before sold-out ones, as for items."""
    groups = await _item_groups(tx, sorted(set(item_ids)))
    wanted = sorted({modifier_id for chosen in choices for modifier_id in chosen})
    known = await _modifiers(tx, wanted) if wanted else {}
    lines = [
        _check_line(index, chosen, groups.get(item_id, []), known)
        for index, (item_id, chosen) in enumerate(zip(item_ids, choices, strict=True))
    ]
    sold_out = {row["id"]: row for line in lines for row in line if not row["is_available"]}
    if sold_out:
        names = ", ".join(
            sorted(f"{row['name']} ({row['group_name']})" for row in sold_out.values())
        )
        raise ItemUnavailable(
            f"Opcion agotada: {names}",
            details={
                "modifiers": [
                    {"modifierId": key, "name": row["name"], "group": _group_ref(row)}
                    for key, row in sold_out.items()
                ]
            },
        )
    return [
        [
            Chosen(row["id"], row["group_id"], row["group_name"], row["name"], row["price"])
            for row in line
        ]
        for line in lines
    ]


async def keep(tx: Transaction, order_item_ids: Sequence[str], lines: list[list[Chosen]]) -> None:
    """Copy each line's modifiers onto the order (inside the transaction that places it)."""
    await tx.executemany(
        "INSERT INTO order_item_modifiers (order_item_id, position, modifier_id, group_id,"
        " group_name, name, price) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (item_id, position, c.modifier_id, c.group_id, c.group_name, c.name, c.price)
            for item_id, chosen in zip(order_item_ids, lines, strict=True)
            for position, c in enumerate(chosen)
        ],
    )


async def of_lines(fetch_all: FetchAll, order_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """What the lines of these orders chose, by order line id, as the API shows it."""
    rows = await fetch_all(
        "SELECT m.order_item_id, m.modifier_id, m.name, m.price, m.group_id, m.group_name"
        " FROM order_item_modifiers m JOIN order_items i ON i.id = m.order_item_id"
        " WHERE i.order_id IN (SELECT value FROM json_each(?))"
        " ORDER BY m.order_item_id, m.position",
        (json_array(order_ids),),
    )
    chosen: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        chosen[row["order_item_id"]].append(
            _view(row["modifier_id"], row["name"], row["price"], row["group_id"], row["group_name"])
        )
    return chosen


def chosen_view(choice: Chosen) -> dict[str, Any]:
    """A line's modifier as the API shows it, from what the line is about to keep."""
    return _view(choice.modifier_id, choice.name, choice.price, choice.group_id, choice.group_name)


def _view(
    modifier_id: str, name: str, price: int, group_id: str, group_name: str
) -> dict[str, Any]:
    return {
        "id": modifier_id,
        "name": name,
        "price": price,
        "group_id": group_id,
        "group_name": group_name,
    }
