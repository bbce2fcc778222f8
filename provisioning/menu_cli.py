"""`restai-edge menu ...`: the branch's menu, from a file an installer writes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from edge.catalog import (
    ApplySummary,
    Catalog,
    CatalogError,
    MenuFile,
    apply_catalog,
    file_version,
    parse_menu_document,
)
from edge.store import Store
from provisioning import catalog_cli
from provisioning.command import Obj, pass_obj

# A hand-written menu is a few KiB; a central's catalog of thousands of items a few MiB.
MAX_FILE_BYTES = 16 * 1024 * 1024


@click.group("menu")
def menu_group() -> None:
    """Manage the branch's menu."""


async def _import(store: Store, document: Catalog | MenuFile, version: str) -> ApplySummary:
    async with store:
        return await apply_catalog(store, document, source="file", version=version)


@menu_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_obj
def menu_import(obj: Obj, file: Path) -> None:
    """Make FILE.json the branch's menu (items keep their ids; a running device shows it at once).

    FILE is either the CATALOG document the central serves (see CONTRACT.md: version, branch,
    categories, items, modifier_groups, all with ids), or the simpler hand-written form:

    \b
    {"currency": "PEN", "taxRate": 1800, "categories": [{"name": "Entradas", "items":
      [{"id"?: UUID, "name": "Ceviche clasico", "description"?: "...", "price": 3500,
        "available"?: true}]}]}
    """
    if file.stat().st_size > MAX_FILE_BYTES:
        raise click.ClickException(f"{file}: larger than {MAX_FILE_BYTES // 1024 // 1024} MiB")
    raw = file.read_bytes()
    try:
        document = parse_menu_document(raw)
    except CatalogError as exc:
        raise click.ClickException(f"{file}: {exc}") from None
    store = obj.provisioned_store()
    try:
        summary = asyncio.run(_import(store, document, file_version(raw)))
    except CatalogError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"Imported the menu of {summary.branch_slug}: {summary.categories} categories,"
        f" {summary.items} items ({summary.added} added, {summary.updated} updated)"
    )
    if summary.modifier_groups:
        click.echo(
            f"  {summary.modifier_groups} modifier groups with {summary.modifiers} modifiers"
        )
    if summary.deleted or summary.retired:
        click.echo(
            f"  left out of the file: {summary.deleted} deleted,"
            f" {summary.retired} retired (kept for the orders that name them)"
        )
    click.echo(f"  currency {summary.currency}, tax {summary.tax_rate / 100:.2f}%")
    click.echo(f"  version {summary.version}")


for command in catalog_cli.COMMANDS:
    menu_group.add_command(command)
