"""`restai-edge`: the one command that fronts the device (serve, demo) and its set-up tools."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from edge.branch import (
    BRANCH_SETTINGS,
    BRANCH_SETTINGS_BY_NAME,
    parse_branch_setting,
    read_branch_settings,
)
from edge.branch import write_branch_setting as store_branch_setting
from edge.tls import CERT_FILE, ensure_self_signed
from provisioning import device_cli, printer_cli, staff_cli, sync_cli
from provisioning.command import USER_ERRORS, Obj, pass_obj, run, with_store
from provisioning.menu_cli import menu_group
from provisioning.provision import ProvisionRequest, provision


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
@click.option(
    "--tls",
    is_flag=True,
    help="Also make a self-signed certificate for the staff tablets' HTTPS listener (kept if"
    " there is one) and print its fingerprint",
)
@pass_obj
def provision_command(obj: Obj, tls: bool, **options: Any) -> None:
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
    click.echo("  table keys:  one per table, in its QR code (kept; 'qr --rotate-keys' renews)")
    if tls:
        host = urlsplit(summary.base_url).hostname
        print_ = ensure_self_signed(obj.data_dir, f"RestAI Edge {summary.branch_slug}", host)
        click.echo(f"  TLS:         {obj.data_dir / CERT_FILE} (self-signed), fingerprint")
        click.echo(f"               {print_}")
        click.echo(
            "               staff tablets: open https://<this device>:8443/staff, check that the"
            " certificate's SHA-256 fingerprint is this one, and trust it"
        )


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
        run(with_store(store, lambda s: store_branch_setting(s, key, parsed)))
        click.echo(f"{key} = {json.dumps(parsed)}")
        return
    current = asdict(run(with_store(store, read_branch_settings)))
    for setting in BRANCH_SETTINGS:
        if key is None or key == setting.name:
            click.echo(f"{setting.name} = {json.dumps(current[setting.name])}  # {setting.help}")


@cli.command("serve")
@click.option("--host", help="Listen address [env RESTAI_EDGE_HOST; default 0.0.0.0]")
@click.option(
    "--port", type=click.IntRange(0, 65535), help="Listen port [env RESTAI_EDGE_PORT; default 8000]"
)
@click.option(
    "--tls-port",
    type=click.IntRange(0, 65535),
    help="HTTPS port for staff tablets, when a certificate is set [env RESTAI_EDGE_TLS_PORT;"
    " default 8443]",
)
@click.option(
    "--tls-cert",
    type=click.Path(path_type=Path, dir_okay=False),
    help="PEM certificate for the HTTPS listener [env RESTAI_EDGE_TLS_CERT; default: the data"
    " dir's tls.crt from 'provision --tls', if any]",
)
@click.option(
    "--tls-key",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Its unencrypted PEM key [env RESTAI_EDGE_TLS_KEY; default: the data dir's tls.key]",
)
@pass_obj
def serve_command(
    obj: Obj,
    host: str | None,
    port: int | None,
    tls_port: int | None,
    tls_cert: Path | None,
    tls_key: Path | None,
) -> None:
    """Serve the API, realtime and pages for this branch (and HTTPS for staff tablets)."""
    from provisioning.server import serve

    settings = obj.settings(
        host=host, port=port, tls_port=tls_port, tls_cert=tls_cert, tls_key=tls_key
    )
    obj.provisioned_store()
    try:
        serve(settings)
    except USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from None


@cli.command("demo")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--printer",
    metavar="HOST[:PORT]",
    help="Print kitchen tickets on this ESC/POS printer [default: a pretend one, in the terminal]",
)
def demo_command(port: int, host: str, printer: str | None) -> None:
    """Serve a ready demo branch (downtown-lima) from a temporary data dir."""
    from provisioning.demo import run_demo

    try:
        run_demo(host, port, printer)
    except USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from None


for command in (staff_cli.staff_group, menu_group, *device_cli.COMMANDS, *sync_cli.COMMANDS):
    cli.add_command(command)
for command in printer_cli.COMMANDS:
    cli.add_command(command)


def main() -> None:
    cli(prog_name="restai-edge")
