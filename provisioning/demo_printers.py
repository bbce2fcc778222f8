"""The demo's kitchen printers: two stations, on a pretend printer that shows each ticket in the
terminal, or on a real ESC/POS printer (`restai-edge demo --printer HOST[:PORT]`)."""

from __future__ import annotations

import click

from edge.printing.printers import DEFAULT_PORT, PrinterError, add_printer, check_host
from edge.store import Store
from provisioning.printer_dev import DevPrinter, Ticket, printed_text

STATIONS = (("Cocina", "Entradas,Platos de fondo,Postres"), ("Bar", "Bebidas"))


def parse_address(text: str) -> tuple[str, int]:
    """`HOST` or `HOST:PORT` (IPv6 as `[ADDR]:PORT`)."""
    host, port = text, DEFAULT_PORT
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest.startswith(":"):
            port = int(rest[1:]) if rest[1:].isdigit() else -1
    elif text.count(":") == 1:
        host, _, tail = text.partition(":")
        port = int(tail) if tail.isdigit() else -1
    if not 1 <= port <= 65535:
        raise PrinterError(f"--printer {text!r}: expected HOST or HOST:PORT")
    return check_host(host), port


def show(ticket: Ticket) -> None:
    rule = "=" * 44
    click.echo(f"\n{rule}\n{printed_text(ticket)}\n{'- ' * 10}✂{' -' * 10}\n")


def pretend_printer() -> DevPrinter:
    return DevPrinter(on_ticket=show).start()


async def add_stations(store: Store, host: str, port: int) -> None:
    for name, categories in STATIONS:
        await add_printer(store, name=name, host=host, port=port, categories=categories)
