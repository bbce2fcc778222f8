"""The demo's reference central (`central-dev` in a subprocess) serving the demo menu as its
catalog, so `make demo` shows the whole loop: catalog pulls with pictures-free ETag/304, a price
changed on the central reaching open pages, heartbeats, uploads of finished tables."""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import click

from sync.central.harness import CentralDev

# Short, so that a change made on the central shows within seconds.
DEMO_CATALOG_INTERVAL = 5


@contextmanager
def running() -> Iterator[CentralDev]:
    """A central in a temporary dir of its own, stopped and removed on exit."""
    with tempfile.TemporaryDirectory(prefix="restai-edge-demo-central-") as tmp:
        workdir = Path(tmp)
        catalog = workdir / "catalog.json"
        menu = resources.files("provisioning").joinpath("demo_menu.json").read_bytes()
        catalog.write_bytes(menu)
        central = CentralDev(workdir, secrets.token_urlsafe(24), catalog_file=catalog).start()
        try:
            yield central
        finally:
            central.stop()


def explain(central: CentralDev, data_dir: Path) -> None:
    admin = f"-H 'Authorization: Bearer {central.admin_token}'"
    click.echo(f"  central (reference, catalog every {DEMO_CATALOG_INTERVAL} s): {central.url}")
    click.echo("    change a price there and watch the open pages follow, without a reload:")
    click.echo(f"    curl {admin} {central.url}/_catalog > menu.json   # edit, then:")
    click.echo(f"    curl -X PUT {admin} --data-binary @menu.json {central.url}/_catalog")
    click.echo(f"    curl {admin} {central.url}/_devices   # heartbeats, queue, clock skew")
    click.echo(f"    restai-edge --data-dir {data_dir} menu status")
