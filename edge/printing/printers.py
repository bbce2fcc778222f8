"""The branch's printers (one per kitchen or bar station) as the store keeps them.

A printer is reached over raw TCP (ESC/POS, port 9100) and prints the lines of the menu
categories it names, or every line when it names none. Each printer is its own outbox topic,
so a printer that is off never holds another one.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any

from edge.clock import now_iso
from edge.ids import new_id
from edge.outbox import drop_topic
from edge.store import Row, Store, Transaction

TOPIC_PREFIX = "printer:"
DEFAULT_PORT = 9100
DEFAULT_WIDTH = 42
# 58 mm paper holds 32 characters of font A, 80 mm paper 42 to 48 depending on the model.
WIDTH_RANGE = (24, 64)
NAME_MAX = 40
HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


class PrinterError(ValueError):
    """A printer set-up mistake; the message is one line for the installer."""


@dataclass(frozen=True)
class Printer:
    id: str
    name: str
    host: str
    port: int
    width: int
    # Menu category ids; None: every category.
    categories: tuple[str, ...] | None

    @property
    def topic(self) -> str:
        return topic_for(self.id)

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def prints(self, category_id: str | None) -> bool:
        return self.categories is None or category_id in self.categories

    @classmethod
    def from_row(cls, row: Row) -> Printer:
        categories = json.loads(row["categories"]) if row["categories"] else None
        return cls(
            row["id"],
            row["name"],
            row["host"],
            row["port"],
            row["width"],
            tuple(categories) if categories is not None else None,
        )


def topic_for(printer_id: str) -> str:
    return f"{TOPIC_PREFIX}{printer_id}"


def check_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= NAME_MAX or not name.isprintable():
        raise PrinterError(f"--name {name!r}: expected 1 to {NAME_MAX} printable characters")
    return name


def check_host(host: str) -> str:
    """An IP address or a host name (never looked up here: the device may be offline)."""
    host = host.strip()
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    looks_like_ip = all(label.isdigit() for label in labels)
    if (
        not host
        or len(host) > 253
        or looks_like_ip
        or not all(HOST_LABEL.fullmatch(label) for label in labels)
    ):
        raise PrinterError(f"--host {host!r}: not an IP address or a host name")
    return host.rstrip(".").lower()


def check_port(port: int) -> int:
    if not 1 <= port <= 65535:
        raise PrinterError(f"--port {port}: expected a TCP port from 1 to 65535 (usually 9100)")
    return port


def check_width(width: int) -> int:
    low, high = WIDTH_RANGE
    if not low <= width <= high:
        raise PrinterError(
            f"--width {width}: expected {low} to {high} characters per line"
            " (32 for 58 mm paper, 42 or 48 for 80 mm)"
        )
    return width


async def _categories_by_name(tx: Transaction) -> dict[str, Row]:
    rows = await tx.fetch_all("SELECT id, name FROM menu_categories ORDER BY sort_order, name")
    return {row["name"].casefold(): row for row in rows}


async def resolve_categories(tx: Transaction, names: str | None) -> tuple[str, ...] | None:
    """Category ids for a comma-separated list of names (any case); None or blank: all."""
    wanted = [part.strip() for part in (names or "").split(",") if part.strip()]
    if not wanted:
        return None
    known = await _categories_by_name(tx)
    ids = []
    for name in wanted:
        row = known.get(name.casefold())
        if row is None:
            names_known = ", ".join(row["name"] for row in known.values()) or "none yet"
            raise PrinterError(f"unknown category {name!r} (menu categories: {names_known})")
        if row["id"] not in ids:
            ids.append(row["id"])
    return tuple(ids)


async def add_printer(
    store: Store,
    *,
    name: str,
    host: str,
    port: int = DEFAULT_PORT,
    width: int = DEFAULT_WIDTH,
    categories: str | None = None,
) -> Printer:
    name, host = check_name(name), check_host(host)
    port, width = check_port(port), check_width(width)

    async def work(tx: Transaction) -> Printer:
        branch_id = await tx.fetch_value("SELECT id FROM branch LIMIT 1")
        if branch_id is None:
            raise PrinterError("the device has no branch yet: run 'restai-edge provision' first")
        if await tx.fetch_value("SELECT 1 FROM printers WHERE name = ?", (name,)):
            raise PrinterError(f"a printer named {name!r} already exists")
        category_ids = await resolve_categories(tx, categories)
        printer = Printer(new_id(), name, host, port, width, category_ids)
        await tx.execute(
            "INSERT INTO printers (id, branch_id, name, host, port, width, categories,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                printer.id,
                branch_id,
                name,
                host,
                port,
                width,
                json.dumps(list(category_ids)) if category_ids is not None else None,
                now_iso(),
            ),
        )
        return printer

    return await store.transact(work)


async def list_printers(store: Store) -> list[Printer]:
    rows = await store.fetch_all("SELECT * FROM printers ORDER BY name")
    return [Printer.from_row(row) for row in rows]


async def find_printer(store: Store, name: str) -> Printer:
    printers = await list_printers(store)
    for printer in printers:
        if printer.name == name or printer.id == name:
            return printer
    known = ", ".join(printer.name for printer in printers) or "none yet"
    raise PrinterError(f"no printer named {name!r} (printers: {known})")


async def remove_printer(store: Store, name: str) -> tuple[Printer, int]:
    """Remove a printer and the tickets still waiting for it; returns both."""
    printer = await find_printer(store, name)

    async def work(tx: Transaction) -> int:
        dropped = await drop_topic(tx, printer.topic)
        await tx.execute("DELETE FROM printers WHERE id = ?", (printer.id,))
        return dropped

    return printer, await store.transact(work)


async def category_names(store: Store) -> dict[str, str]:
    rows = await store.fetch_all("SELECT id, name FROM menu_categories")
    return {row["id"]: row["name"] for row in rows}


def describe_categories(printer: Printer, names: dict[str, str]) -> list[str] | None:
    """The names of the categories a printer prints (None: all); a dropped one shows its id."""
    if printer.categories is None:
        return None
    return [names.get(category, f"(removed {category})") for category in printer.categories]


def view(printer: Printer, names: dict[str, str]) -> dict[str, Any]:
    return {
        "id": printer.id,
        "name": printer.name,
        "host": printer.host,
        "port": printer.port,
        "width": printer.width,
        "categories": describe_categories(printer, names),
    }
