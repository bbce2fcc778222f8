"""Installer commands: what the device is (status), table QR codes, backup and restore."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from edge.retention import store_report
from edge.store import Store
from edge.table_keys import rotate_keys
from provisioning.backup import BackupError, backup, restore
from provisioning.command import Obj, pass_obj, run
from provisioning.device_lock import DeviceBusy, running_holder
from provisioning.provision import ProvisionError, check_url
from provisioning.qr import (
    QrTable,
    parse_table_ranges,
    table_url,
    write_pdf_sheet,
    write_table_files,
)

STAFF_ROLES = ("manager", "waiter", "cashier", "kitchen")


async def _branch(store: Store) -> dict[str, Any]:
    branch = await store.fetch_one("SELECT * FROM branch")
    if branch is None:
        raise click.ClickException(
            "the device has no branch yet: run 'restai-edge provision' first"
        )
    return branch


# --------------------------------------------------------------------------- status


async def device_status(store: Store, data_dir: Path, retention_days: int) -> dict[str, Any]:
    async with store:
        branch = await _branch(store)
        kept = await store_report(store, retention_days)
        tables = await store.fetch_value("SELECT count(*) FROM tables")
        roles = await store.fetch_all("SELECT role, count(*) AS n FROM staff GROUP BY role")
        waiting = await store.fetch_value(
            "SELECT count(*) FROM outbox WHERE topic = 'sessions' AND acknowledged_at IS NULL"
        )
    by_role = {role: 0 for role in STAFF_ROLES} | {row["role"]: row["n"] for row in roles}
    holder = running_holder(data_dir)
    return {
        "data_dir": str(data_dir),
        "branch": {
            "id": branch["id"],
            "slug": branch["slug"],
            "name": branch["name"],
            "currency": branch["currency"],
            "tax_rate": branch["tax_rate"],
        },
        "device_id": branch["device_id"],
        "tables": tables,
        "staff": {"total": sum(by_role.values()), "by_role": by_role},
        "base_url": branch["base_url"],
        "central_url": branch["central_url"],
        "sync": {"configured": branch["central_url"] is not None, "queue_depth": waiting},
        "server": {"running": holder is not None, "holder": holder},
        "store": kept,
    }


def _sync_line(sync: dict[str, Any]) -> str:
    waiting = sync["queue_depth"]
    sessions = f"{waiting} finished session{'' if waiting == 1 else 's'}"
    if not sync["configured"]:
        return f"off (no central URL); {sessions} kept on the device"
    return f"{sessions} waiting to upload" if waiting else "up to date (nothing waiting)"


def _store_line(store: dict[str, Any]) -> str:
    mb = store["bytes"] / 2**20
    line = f"{mb:.1f} MB, {store['finished_sessions']} finished sessions"
    if store["wal_bytes"]:
        line += f" (+ {store['wal_bytes'] / 2**20:.1f} MB write-ahead log)"
    return line


def _retention_line(retention: dict[str, Any]) -> str:
    line = (
        f"{retention['days']} days; {retention['due']} finished session"
        f"{'' if retention['due'] == 1 else 's'} past it, removed within the hour while serving"
    )
    if retention["held_for_sync"]:
        line += f"; {retention['held_for_sync']} kept until the central has them"
    return line


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON")
@pass_obj
def status_command(obj: Obj, as_json: bool) -> None:
    """Show what this device is: branch, tables, staff, URLs and sync state."""
    settings = obj.settings()
    status = run(device_status(obj.provisioned_store(), obj.data_dir, settings.retention_days))
    if as_json:
        click.echo(json.dumps(status, indent=2))
        return
    branch, staff, server = status["branch"], status["staff"], status["server"]
    roles = ", ".join(f"{n} {role}" for role, n in staff["by_role"].items() if n)
    click.echo(f"Branch:      {branch['slug']} ({branch['name']})")
    click.echo(f"Data dir:    {status['data_dir']}")
    click.echo(
        "Server:      " + (f"running ({server['holder']})" if server["running"] else "stopped")
    )
    click.echo(f"Tables:      {status['tables']}")
    click.echo(f"Staff:       {staff['total']}" + (f" ({roles})" if roles else ""))
    click.echo(f"Base URL:    {status['base_url']}")
    click.echo(f"Central URL: {status['central_url'] or '(none: sync disabled)'}")
    click.echo(f"Sync:        {_sync_line(status['sync'])}")
    click.echo(f"Store:       {_store_line(status['store'])}")
    click.echo(f"Retention:   {_retention_line(status['store']['retention'])}")


# --------------------------------------------------------------------------- qr


async def qr_tables(
    store: Store, selection: str | None, base_url: str | None
) -> tuple[dict[str, Any], list[QrTable]]:
    """The branch and the tables to print, checked before anything is written."""
    async with store:
        branch = await _branch(store)
        rows = await store.fetch_all(
            "SELECT number, code, short_code, table_key FROM tables ORDER BY number"
        )
    highest = rows[-1]["number"] if rows else 0
    try:
        wanted = set(
            parse_table_ranges(f"1-{highest}" if selection is None else selection, highest)
        )
    except ValueError as exc:
        raise click.ClickException(f"--tables: {exc}") from None
    base = base_url or branch["base_url"]
    tables = [
        QrTable(
            row["number"],
            row["code"],
            row["short_code"],
            table_url(base, branch["slug"], row["code"], row["table_key"]),
        )
        for row in rows
        if row["number"] in wanted
    ]
    return branch, tables


async def rotate_table_keys(store: Store, spec: str) -> list[int]:
    """New keys for the tables `spec` names (e.g. "3,7-9"), checked before anything changes."""
    async with store:
        highest = await store.fetch_value("SELECT coalesce(max(number), 0) FROM tables")
        try:
            numbers = parse_table_ranges(spec, highest)
        except ValueError as exc:
            raise click.ClickException(f"--rotate-keys: {exc}") from None
        await rotate_keys(store, numbers)
    return numbers


def _is_pdf(out: Path) -> bool:
    return out.suffix.lower() == ".pdf"


# A line this often when the output is not a terminal (a log, a pipe): enough to see it move.
PROGRESS_EVERY_S = 3.0


@contextmanager
def _progress(total: int, label: str) -> Iterator[Any]:
    """A progress bar on a terminal; elsewhere, where click's bar stays silent until the end, a
    line every few seconds."""
    if sys.stderr.isatty():
        with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
            yield bar.update
        return
    done, last = 0, time.monotonic()
    click.echo(f"{label}: 0/{total:,}", err=True)

    def update(count: int) -> None:
        nonlocal done, last
        done += count
        if time.monotonic() - last >= PROGRESS_EVERY_S or done == total:
            last = time.monotonic()
            click.echo(f"{label}: {done:,}/{total:,} ({done * 100 // total}%)", err=True)

    yield update


@click.command("qr")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="FILE.pdf for a printable sheet, or a directory for one PNG and SVG per table"
    " (required unless only rotating keys)",
)
@click.option("--tables", "selection", metavar="RANGES", help="e.g. 1-5,9 [default: all]")
@click.option("--base-url", help="Base of the URL in the codes [default: the branch's]")
@click.option(
    "--rotate-keys",
    "rotate",
    metavar="RANGES",
    help="Give these tables new keys first (their printed codes stop letting people join an"
    " open table); with --out, print their new cards",
)
@click.option("--force", is_flag=True, help="Overwrite FILE.pdf if it exists")
@pass_obj
def qr_command(
    obj: Obj,
    out: Path | None,
    selection: str | None,
    base_url: str | None,
    rotate: str | None,
    force: bool,
) -> None:
    """Print table QR codes: an A4 sheet of cut-out cards, or one PNG and SVG per table.

    Each code opens the table's page with its key, which joining an open table needs."""
    if out is None and rotate is None:
        raise click.UsageError("Missing option '--out'.")
    if base_url is not None:
        try:
            base_url = check_url(base_url, "--base-url")
        except ProvisionError as exc:
            raise click.ClickException(str(exc)) from None
    if out is not None and _is_pdf(out) and out.is_dir():
        raise click.ClickException(f"--out {out} is a directory, not a PDF file name")
    if out is not None and not _is_pdf(out) and out.exists() and not out.is_dir():
        raise click.ClickException(
            f"--out {out} is an existing file: give FILE.pdf for a sheet or a directory"
        )
    if out is not None and not _is_pdf(out) and not out.exists() and out.suffix:
        # `--out qr.png` would otherwise become a directory named qr.png.
        raise click.ClickException(
            f"--out {out} looks like a file name: give FILE.pdf for a sheet, or a directory"
            " (without an extension) for one PNG and one SVG per table"
        )
    if out is not None and _is_pdf(out) and out.exists() and not force:
        raise click.ClickException(f"--out {out} exists: use --force to overwrite it")
    if rotate is not None:
        numbers = run(rotate_table_keys(obj.provisioned_store(), rotate))
        click.echo(
            f"New keys for {len(numbers)} table(s) ({rotate}): their old QR codes no longer let"
            " anyone join an open table; print and stick the new ones"
        )
        if out is None:
            return
        selection = rotate if selection is None else selection
    assert out is not None
    branch, tables = run(qr_tables(obj.provisioned_store(), selection, base_url))
    with _progress(len(tables), "Drawing QR codes") as update:
        if _is_pdf(out):
            pages = write_pdf_sheet(tables, branch["name"], out, progress=update)
            what = f"{pages} page{'' if pages == 1 else 's'}"
        else:
            files = write_table_files(tables, branch["name"], out, progress=update)
            what = f"{len(files)} files"
    click.echo(f"Wrote {len(tables)} table QR codes ({what}) to {out}")
    click.echo(
        "  they open"
        f" {table_url(base_url or branch['base_url'], branch['slug'], '<table>', '<key>')}"
    )


# --------------------------------------------------------------------------- backup, restore


@click.command("backup")
@click.option(
    "--out", required=True, type=click.Path(path_type=Path), help="File to write the copy to"
)
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists")
@pass_obj
def backup_command(obj: Obj, out: Path, force: bool) -> None:
    """Copy the store to FILE (mode 0600); safe while the device serves."""
    store = obj.provisioned_store()
    summary = run(backup(store.path, out, force=force))
    info = summary.store
    click.echo(
        f"Backed up branch {info.branch_slug} ({info.sessions} sessions, schema"
        f" {info.schema_version}) to {summary.path} ({summary.size} bytes, mode 0600)"
    )
    click.echo("  secrets are not in the backup: keep a copy of pin.key to restore staff PINs")


@click.command("restore")
@click.argument("source", metavar="FILE", type=click.Path(path_type=Path))
@pass_obj
def restore_command(obj: Obj, source: Path) -> None:
    """Put a backup in place of the store; the device must be stopped."""
    try:
        summary = restore(obj.data_dir, source)
    except (BackupError, DeviceBusy) as exc:
        raise click.ClickException(str(exc)) from None
    info = summary.store
    click.echo(
        f"Restored branch {info.branch_slug} ({info.sessions} sessions, schema"
        f" {info.schema_version}) from {source} into {obj.data_dir}"
    )
    if summary.replaced is not None:
        click.echo(f"  previous store kept as {summary.replaced}")
    if summary.same_device is None:
        click.echo(
            "  note: the replaced store could not be read, so whether this backup comes from"
            " this device is unknown; if staff PINs fail, copy the backup's pin.key here or"
            " reset them with 'restai-edge staff set-pin'"
        )
    elif not summary.same_device:
        click.echo(
            "  note: this backup comes from another device; staff PINs only work with that"
            " device's pin.key (copy it here, or reset them with 'restai-edge staff set-pin')"
        )


COMMANDS: list[click.Command] = [status_command, qr_command, backup_command, restore_command]
