"""`restai-edge`: the one command that fronts the device (serve, demo) and its set-up tools."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

import click

from edge.branch import (
    BRANCH_SETTINGS,
    BRANCH_SETTINGS_BY_NAME,
    parse_branch_setting,
    read_branch_settings,
)
from edge.branch import write_branch_setting as store_branch_setting
from edge.secret_files import PIN_KEY, SecretMissing, read_secret
from edge.settings import Settings, SettingsError
from edge.staff import StaffError, add_staff, list_staff, remove_staff, set_pin
from edge.store import Store
from provisioning import device_cli, sync_cli
from provisioning.device_lock import DeviceBusy
from provisioning.menu_cli import menu_group
from provisioning.provision import ProvisionError, ProvisionRequest, provision

T = TypeVar("T")

USER_ERRORS = (ProvisionError, StaffError, SettingsError, SecretMissing, DeviceBusy)


def run(coro: Awaitable[T]) -> T:
    """Run a coroutine for a command, turning user mistakes into one clear line."""
    try:
        return asyncio.run(coro)  # type: ignore[arg-type]
    except USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from None


class Obj:
    """What the group hands its commands: the data dir as given (flag, env or default)."""

    def __init__(self, data_dir: str | None) -> None:
        self._data_dir = data_dir

    def settings(self, **flags: Any) -> Settings:
        try:
            return Settings.resolve({"data_dir": self._data_dir, **flags})
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from None

    @property
    def data_dir(self) -> Path:
        return self.settings().data_dir

    def provisioned_store(self) -> Store:
        db = self.data_dir / "edge.db"
        if not db.exists():
            raise click.ClickException(
                f"no device store in {self.data_dir}: run 'restai-edge provision' first"
            )
        return Store(db)


pass_obj = click.make_pass_decorator(Obj)


@click.group()
@click.option(
    "--data-dir",
    metavar="DIR",
    help="Device data directory [env RESTAI_EDGE_DATA_DIR; default ./var]",
)
@click.version_option(package_name="restai-edge")
@click.pass_context
def cli(ctx: click.Context, data_dir: str | None) -> None:
    """RestAI Edge: offline-first table ordering for one restaurant branch."""
    ctx.obj = Obj(data_dir)


@cli.command("provision")
@click.option("--branch-slug", required=True, help="e.g. downtown-lima")
@click.option("--branch-name", help='e.g. "Downtown Lima" (required the first time)')
@click.option("--tables", type=int, help="Number of tables (only ever grows)")
@click.option("--base-url", help="Base of the URL printed in QR codes")
@click.option("--central-url", help="Central RestAI API for upstream sync")
@click.option("--device-token", help="Token the central API gave this device")
@click.option("--currency", help="ISO 4217 code [default PEN]")
@click.option("--tax-rate", type=int, help="Hundredths of a percent [default 1800 = 18%]")
@pass_obj
def provision_command(obj: Obj, **options: Any) -> None:
    """Set the device up for its branch (safe to run again)."""
    summary = run(provision(obj.data_dir, ProvisionRequest(**options)))
    verb = "Provisioned" if summary.created else "Updated"
    click.echo(f"{verb} branch {summary.branch_slug} ({summary.branch_name}) in {obj.data_dir}")
    click.echo(f"  tables:      {summary.tables} ({summary.tables_added} added)")
    if options["tables"] is not None and options["tables"] < summary.tables:
        click.echo(f"  note:        tables are never removed; keeping {summary.tables}")
    click.echo(f"  base URL:    {summary.base_url}")
    click.echo(f"  central URL: {summary.central_url or '(none: sync disabled)'}")
    secrets = "jwt.secret, pin.key" + (", device.token" if options["device_token"] else "")
    click.echo(f"  secrets:     {secrets} (mode 0600, in the data dir)")


@cli.group("staff")
def staff_group() -> None:
    """Manage the staff who log in on the tablets."""


def _pin_key(obj: Obj) -> str:
    try:
        return read_secret(obj.data_dir, PIN_KEY)
    except SecretMissing as exc:
        raise click.ClickException(str(exc)) from None


async def _with_store(store: Store, work: Any) -> Any:
    async with store:
        return await work(store)


@staff_group.command("add")
@click.option("--name", required=True)
@click.option(
    "--role", required=True, type=click.Choice(["manager", "waiter", "cashier", "kitchen"])
)
@click.option("--pin", required=True, help="4 to 8 digits, unique on this device")
@pass_obj
def staff_add(obj: Obj, name: str, role: str, pin: str) -> None:
    """Add a staff member."""
    store, key = obj.provisioned_store(), _pin_key(obj)
    row = run(_with_store(store, lambda s: add_staff(s, key, name, role, pin)))
    click.echo(f"Added {row['name']} ({row['role']}) with id {row['id']}")


@staff_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON")
@pass_obj
def staff_list(obj: Obj, as_json: bool) -> None:
    """List staff members."""
    rows = run(_with_store(obj.provisioned_store(), list_staff))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(f"{row['id']}  {row['role']:<8} {row['name']}")
    if not rows:
        click.echo("No staff yet: add one with 'restai-edge staff add'")


@staff_group.command("remove")
@click.argument("who")
@pass_obj
def staff_remove(obj: Obj, who: str) -> None:
    """Remove a staff member (by id or name); their tablet logins stop working at once."""
    staff_id = run(_with_store(obj.provisioned_store(), lambda s: remove_staff(s, who)))
    click.echo(f"Removed staff member {staff_id}")


@staff_group.command("set-pin")
@click.argument("who")
@click.option("--pin", required=True, help="4 to 8 digits, unique on this device")
@pass_obj
def staff_set_pin(obj: Obj, who: str, pin: str) -> None:
    """Change a staff member's PIN (by id or name)."""
    store, key = obj.provisioned_store(), _pin_key(obj)
    staff_id = run(_with_store(store, lambda s: set_pin(s, key, who, pin)))
    click.echo(f"Changed the PIN of staff member {staff_id}")


@cli.command("settings")
@click.argument("key", required=False)
@click.argument("value", required=False)
@pass_obj
def settings_command(obj: Obj, key: str | None, value: str | None) -> None:
    """Show or change branch settings; a running device applies a change within 5 s."""
    store = obj.provisioned_store()
    if key is not None and key not in BRANCH_SETTINGS_BY_NAME:
        raise click.ClickException(
            f"unknown setting {key!r} (known: {', '.join(BRANCH_SETTINGS_BY_NAME)})"
        )
    if key is not None and value is not None:
        try:
            parsed = parse_branch_setting(key, value)
        except ValueError as exc:
            raise click.ClickException(f"{key}={value!r}: {exc}") from None
        run(_with_store(store, lambda s: store_branch_setting(s, key, parsed)))
        click.echo(f"{key} = {json.dumps(parsed)}")
        return
    current = asdict(run(_with_store(store, read_branch_settings)))
    for setting in BRANCH_SETTINGS:
        if key is None or key == setting.name:
            click.echo(f"{setting.name} = {json.dumps(current[setting.name])}  # {setting.help}")


@cli.command("serve")
@click.option("--host", help="Listen address [env RESTAI_EDGE_HOST; default 0.0.0.0]")
@click.option(
    "--port", type=click.IntRange(0, 65535), help="Listen port [env RESTAI_EDGE_PORT; default 8000]"
)
@pass_obj
def serve_command(obj: Obj, host: str | None, port: int | None) -> None:
    """Serve the API, realtime and pages for this branch."""
    from provisioning.server import serve

    settings = obj.settings(host=host, port=port)
    obj.provisioned_store()
    try:
        serve(settings)
    except USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from None


@cli.command("demo")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
def demo_command(port: int, host: str) -> None:
    """Serve a ready demo branch (downtown-lima) from a temporary data dir."""
    from provisioning.demo import run_demo

    try:
        run_demo(host, port)
    except USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from None


cli.add_command(menu_group)
for command in (*device_cli.COMMANDS, *sync_cli.COMMANDS):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="restai-edge")
