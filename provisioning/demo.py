"""`restai-edge demo`: a provisioned demo branch in a temporary data dir, served at once."""

from __future__ import annotations

import asyncio
import secrets
import tempfile
from importlib import resources
from pathlib import Path

import click

from edge.catalog import apply_catalog, file_version, parse_menu_document
from edge.settings import Settings
from edge.staff import is_trivial_pin
from edge.store import Store
from edge.table_keys import table_key
from edge.tls import ensure_self_signed
from provisioning import demo_central, demo_printers
from provisioning.listener import listen
from provisioning.provision import ProvisionRequest, provision_with_staff
from provisioning.server import serve

DEMO_SLUG = "downtown-lima"
DEMO_NAME = "Downtown Lima"
DEMO_TABLES = 20
DEMO_TABLE = 15


async def _demo_table_key(data_dir: Path) -> str:
    async with Store(data_dir / "edge.db") as store:
        return await table_key(store, DEMO_TABLE)


async def prepare_demo(
    data_dir: Path,
    base_url: str,
    printer: tuple[str, int] | None = None,
    central: tuple[str, str] | None = None,
) -> str:
    """Provision the demo branch, its manager and its menu (and the URL and device token of its
    central, when given); returns the manager's PIN."""
    pin = f"{secrets.randbelow(10**6):06d}"
    while is_trivial_pin(pin):
        pin = f"{secrets.randbelow(10**6):06d}"
    await provision_with_staff(
        data_dir,
        ProvisionRequest(
            branch_slug=DEMO_SLUG,
            branch_name=DEMO_NAME,
            tables=DEMO_TABLES,
            base_url=base_url,
            central_url=central[0] if central else None,
            device_token=central[1] if central else None,
        ),
        [("Demo Manager", "manager", pin)],
    )
    async with Store(data_dir / "edge.db") as store:
        menu = resources.files("provisioning").joinpath("demo_menu.json").read_bytes()
        await apply_catalog(
            store, parse_menu_document(menu), source="file", version=file_version(menu)
        )
        if printer is not None:
            await demo_printers.add_stations(store, *printer)
    return pin


def run_demo(host: str, port: int, printer: str | None = None) -> None:
    address = demo_printers.parse_address(printer) if printer else None
    # Bound first: a taken port is one error line, before any banner or PIN is printed.
    listener = listen(host, port)
    pretend = None if address else demo_printers.pretend_printer()
    if pretend is not None:
        address = (pretend.host, pretend.port)
    with (
        listener,
        tempfile.TemporaryDirectory(prefix="restai-edge-demo-") as tmp,
        demo_central.running() as central,
    ):
        data_dir = Path(tmp)
        shown_host = "127.0.0.1" if host in {"0.0.0.0", "::"} else host
        base = f"http://{shown_host}:{port}"
        pin = asyncio.run(prepare_demo(data_dir, base, address, (central.url, central.token)))
        key = asyncio.run(_demo_table_key(data_dir))
        # The staff tablets' HTTPS listener, as `provision --tls` sets it up on a real device.
        tls_port = port + 443 if port + 443 <= 65535 else port - 443
        fingerprint_ = ensure_self_signed(data_dir, f"RestAI Edge {DEMO_SLUG}", shown_host)
        api = f"{base}/api/customer/{DEMO_SLUG}/{DEMO_SLUG}-{DEMO_TABLE}"
        click.echo(f"RestAI Edge demo: branch {DEMO_SLUG} ({DEMO_NAME}), {DEMO_TABLES} tables")
        click.echo(f"  data dir (deleted on exit): {data_dir}")
        click.echo(f"  manager PIN:  {pin}")
        click.echo(f"  staff page:   {base}/staff")
        click.echo(
            f"                or over HTTPS: https://{shown_host}:{tls_port}/staff (self-signed,"
            f" {fingerprint_})"
        )
        click.echo(f"  diner page:   {base}/{DEMO_SLUG}/{DEMO_SLUG}-{DEMO_TABLE}?k={key}")
        click.echo(
            f"                (what table {DEMO_TABLE}'s QR code opens; its key k={key} lets a"
            " second phone join the table once it is open)"
        )
        click.echo(f"  health:       {base}/healthz")
        click.echo("  try:")
        click.echo(f"    curl -X GET {api}/check-session")
        click.echo(
            f"    curl -X POST {api}/session -H 'Content-Type: application/json'"
            """ -d '{"customerName": "Carlos Rodriguez", "customerPhone": "+51912345678"}'"""
        )
        click.echo("  once staff approved it, a second diner joins with the table's key:")
        click.echo(
            f"    curl -X POST {api}/session -H 'Content-Type: application/json'"
            f""" -d '{{"customerName": "Rosa Quispe", "tableKey": "{key}"}}'"""
        )
        click.echo(
            "  the menu has modifiers (Lomo saltado: término and extras; Pisco sour: dulzor);"
            " diners can call the waiter, ask for the bill and cancel a pending order"
        )
        click.echo(f"    curl -X GET {api}/menu")
        where = "this terminal (a pretend printer)" if pretend else f"{printer}"
        click.echo(f"  kitchen tickets (Cocina, Bar) print on {where} when staff confirm an order")
        demo_central.explain(central, data_dir)
        click.echo("  Ctrl+C stops the demo.")
        flags = {"data_dir": data_dir, "host": host, "port": port, "tls_port": tls_port}
        flags["catalog_interval"] = demo_central.DEMO_CATALOG_INTERVAL
        try:
            serve(Settings.resolve(flags), listener)
        finally:
            if pretend is not None:
                pretend.stop()
