"""`restai-edge staff ...`: the people who log in on the tablets, and their PINs."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click

from edge.file_modes import FileModeError
from edge.secret_files import PIN_KEY, SecretError, read_secret
from edge.staff import add_staff, list_staff, remove_staff, seal_pin_hashes, set_pin, set_role
from edge.store import Store
from edge.tokens import STAFF_ROLES
from provisioning.command import Obj, pass_obj, run, with_store

T = TypeVar("T")

PIN_HELP = (
    "4 to 8 digits, unique on this device, not trivial (1234, 0000); asked for without echo"
    " when left out, so it stays out of the shell history"
)


def pin_option(function: Callable[..., None]) -> Callable[..., None]:
    return click.option(
        "--pin", prompt="PIN", hide_input=True, confirmation_prompt=True, help=PIN_HELP
    )(function)


@click.group("staff")
def staff_group() -> None:
    """Manage the staff who log in on the tablets."""


def _pin_key(obj: Obj) -> str:
    try:
        return read_secret(obj.data_dir, PIN_KEY)
    except (SecretError, FileModeError) as exc:
        raise click.ClickException(str(exc)) from None


def _with_staff(obj: Obj, work: Callable[[Store, str], Awaitable[T]]) -> T:
    """Run `work(store, pin_key)` on the device's store, sealing any PIN verifier written before
    they were keyed first (the CLI holds the key, like `serve`)."""
    store, key = obj.provisioned_store(), _pin_key(obj)

    async def sealed_then(store: Store) -> T:
        await seal_pin_hashes(store, key)
        return await work(store, key)

    return run(with_store(store, sealed_then))


@staff_group.command("add")
@click.option("--name", required=True, help="Unique on this device")
@click.option("--role", required=True, type=click.Choice(STAFF_ROLES))
@pin_option
@pass_obj
def staff_add(obj: Obj, name: str, role: str, pin: str) -> None:
    """Add a staff member."""
    row = _with_staff(obj, lambda s, key: add_staff(s, key, name, role, pin))
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
    """Remove a staff member (WHO: id or name); their tablets are logged out within seconds."""
    staff_id = run(with_store(obj.provisioned_store(), lambda s: remove_staff(s, who)))
    click.echo(f"Removed staff member {staff_id}")


@staff_group.command("set-pin")
@click.argument("who")
@pin_option
@pass_obj
def staff_set_pin(obj: Obj, who: str, pin: str) -> None:
    """Change a staff member's PIN (WHO: id or name); their tablets must log in again."""
    staff_id = _with_staff(obj, lambda s, key: set_pin(s, key, who, pin))
    click.echo(f"Changed the PIN of staff member {staff_id}")


@staff_group.command("set-role")
@click.argument("who")
@click.argument("role", type=click.Choice(STAFF_ROLES))
@pass_obj
def staff_set_role(obj: Obj, who: str, role: str) -> None:
    """Change a staff member's role (WHO: id or name); their tablets must log in again."""
    staff_id = run(with_store(obj.provisioned_store(), lambda s: set_role(s, who, role)))
    click.echo(f"Changed the role of staff member {staff_id} to {role}")
