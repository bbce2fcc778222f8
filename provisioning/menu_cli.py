"""`restai-edge menu ...`: load the branch's menu from a JSON file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from edge.menu import ImportSummary, MenuDocument, MenuError, import_menu, parse_menu
from edge.store import Store
from provisioning.command import Obj, pass_obj

MAX_FILE_BYTES = 2 * 1024 * 1024


@click.group("menu")
def menu_group() -> None:
    """Manage the branch's menu."""


async def _import(store: Store, document: MenuDocument) -> ImportSummary:
    async with store:
        return await import_menu(store, document)


@menu_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_obj
def menu_import(obj: Obj, file: Path) -> None:
    """Make FILE.json the branch's menu (items keep their ids; a running device shows it at once).

    \b
    {"currency": "PEN", "taxRate": 1800, "categories": [{"name": "Entradas", "items":
      [{"id"?: UUID, "name": "Ceviche clasico", "description"?: "...", "price": 3500,
        "available"?: true}]}]}
    """
    if file.stat().st_size > MAX_FILE_BYTES:
        raise click.ClickException(f"{file}: larger than {MAX_FILE_BYTES // 1024} KiB")
    try:
        document = parse_menu(file.read_bytes())
    except MenuError as exc:
        raise click.ClickException(f"{file}: {exc}") from None
    store = obj.provisioned_store()
    try:
        summary = asyncio.run(_import(store, document))
    except MenuError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"Imported the menu of {summary.branch_slug}: {summary.categories} categories,"
        f" {summary.items} items ({summary.added} added, {summary.updated} updated)"
    )
    if summary.deleted or summary.retired:
        click.echo(
            f"  left out of the file: {summary.deleted} deleted,"
            f" {summary.retired} retired (kept for the orders that name them)"
        )
    click.echo(f"  currency {summary.currency}, tax {summary.tax_rate / 100:.2f}%")
