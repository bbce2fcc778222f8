"""`restai-edge printer ...`: the kitchen and bar printers (ESC/POS on the LAN, raw TCP).

Printers live in the store, so a running device picks up a change within a few seconds.
`printer test` talks to the printer itself, right away, and says whether it took the ticket.
"""

from __future__ import annotations

import json
from typing import Any

import click

from edge.printing import render
from edge.printing.printers import (
    DEFAULT_PORT,
    DEFAULT_WIDTH,
    Printer,
    PrinterError,
    add_printer,
    find_printer,
    remove_printer,
)
from edge.printing.status import printer_statuses
from edge.printing.transport import PrintFailed, deliver
from edge.store import Store
from provisioning.command import Obj, pass_obj, run, with_store

TEST_DEADLINE = 10.0


@click.group("printer")
def printer_group() -> None:
    """Kitchen and bar printers (ESC/POS over the network)."""


def _number(flag: str, text: str) -> int:
    # Parsed here rather than by click, so a mistake is one "Error:" line like every other one.
    if not text.strip().isdigit():
        raise click.ClickException(f"{flag} {text!r}: expected a whole number")
    return int(text)


@printer_group.command("add")
@click.option("--name", required=True, help='Station name, e.g. "Cocina"')
@click.option("--host", required=True, help="The printer's IP address or host name")
@click.option("--port", default=str(DEFAULT_PORT), show_default=True, help="Raw TCP port")
@click.option(
    "--categories",
    help='Menu categories it prints, e.g. "Fondos,Bebidas" [default: all]',
)
@click.option("--width", default=str(DEFAULT_WIDTH), show_default=True, help="Characters per line")
@pass_obj
def printer_add(
    obj: Obj, name: str, host: str, port: str, categories: str | None, width: str
) -> None:
    """Add a printer for a station."""
    numbers = {"port": _number("--port", port), "width": _number("--width", width)}
    printer = run(
        with_store(
            obj.provisioned_store(),
            lambda store: add_printer(
                store, name=name, host=host, categories=categories, **numbers
            ),
        )
    )
    prints = "every category" if printer.categories is None else (categories or "").strip()
    click.echo(f"Added printer {printer.name} at {printer.address}, {printer.width} columns,")
    click.echo(f"  printing {prints}. Try it: restai-edge printer test {printer.name!r}")


def _status_line(row: dict[str, Any]) -> str:
    categories = ", ".join(row["categories"]) if row["categories"] is not None else "all"
    host = f"[{row['host']}]" if ":" in row["host"] else row["host"]
    line = (
        f"{row['name']:<16} {host}:{row['port']:<6} {row['width']} cols  {row['status']:<4}"
        f"  {row['queue_depth']} waiting  categories: {categories}"
    )
    if row["status"] == "down" and row["last_error"]:
        line += f"\n{'':<16} last error {row['last_error']['at']}: {row['last_error']['message']}"
    return line


@printer_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON")
@pass_obj
def printer_list(obj: Obj, as_json: bool) -> None:
    """List printers, with their state and waiting tickets."""
    rows = run(with_store(obj.provisioned_store(), printer_statuses))
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for row in rows:
        click.echo(_status_line(row))
    if not rows:
        click.echo("No printers yet: add one with 'restai-edge printer add'")


@printer_group.command("remove")
@click.argument("name")
@pass_obj
def printer_remove(obj: Obj, name: str) -> None:
    """Remove a printer (its waiting tickets are dropped)."""
    printer, dropped = run(
        with_store(obj.provisioned_store(), lambda store: remove_printer(store, name))
    )
    click.echo(f"Removed printer {printer.name} ({dropped} waiting ticket(s) dropped)")


async def _print_test(store: Store, name: str) -> Printer:
    async with store:
        printer = await find_printer(store, name)
    ticket = {"kind": "test", "station": printer.name, "address": printer.address}
    data = render.render(ticket, printer.width)
    try:
        await deliver(printer.host, printer.port, data, TEST_DEADLINE)
    except PrintFailed as exc:
        raise PrinterError(f"printer {printer.name}: {exc}") from None
    return printer


@printer_group.command("test")
@click.argument("name")
@pass_obj
def printer_test(obj: Obj, name: str) -> None:
    """Print a sample ticket (accents, ñ, ¿ and ¡) on a printer, now."""
    printer = run(_print_test(obj.provisioned_store(), name))
    click.echo(f"Printed a test ticket on {printer.name} ({printer.address}).")


COMMANDS: list[click.Command] = [printer_group]
