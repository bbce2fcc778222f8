"""`restai-edge staff ...`: the people who log in on the tablets, and their PINs."""

from __future__ import annotations

import json

import click

from edge.file_modes import FileModeError
from edge.secret_files import PIN_KEY, SecretError, read_secret
from edge.staff import add_staff, list_staff, remove_staff, set_pin
from provisioning.command import Obj, pass_obj, run, with_store


@click.group("staff")
def staff_group() -> None:
    """Manage the staff who log in on the tablets."""


def _pin_key(obj: Obj) -> str:
    try:
        return read_secret(obj.data_dir, PIN_KEY)
    except (SecretError, FileModeError) as exc:
        raise click.ClickException(str(exc)) from None


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
    row = run(with_store(store, lambda s: add_staff(s, key, name, role, pin)))
    click.echo(f"Added {row['name']} ({row['role']}) with id {row['id']}")


@staff_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON")
@pass_obj
def staff_list(obj: Obj, as_json: bool) -> None:
    """List staff members."""
    rows = run(with_store(obj.provisioned_store(), list_staff))
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
    staff_id = run(with_store(obj.provisioned_store(), lambda s: remove_staff(s, who)))
    click.echo(f"Removed staff member {staff_id}")


@staff_group.command("set-pin")
@click.argument("who")
@click.option("--pin", required=True, help="4 to 8 digits, unique on this device")
@pass_obj
def staff_set_pin(obj: Obj, who: str, pin: str) -> None:
    """Change a staff member's PIN (by id or name)."""
    store, key = obj.provisioned_store(), _pin_key(obj)
    staff_id = run(with_store(store, lambda s: set_pin(s, key, who, pin)))
    click.echo(f"Changed the PIN of staff member {staff_id}")
