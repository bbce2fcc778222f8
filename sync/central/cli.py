"""`restai-edge central-dev` (also `python -m sync.central`)."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

import click

from sync.central.app import create_central_app
from sync.central.auth import is_loopback

logger = logging.getLogger("restai.central")

TOKEN_ENV_VAR = "RESTAI_CENTRAL_DEVICE_TOKEN"
ADMIN_TOKEN_ENV_VAR = "RESTAI_CENTRAL_ADMIN_TOKEN"


def admin_token_file(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".admin-token")


def stored_admin_token(db_path: Path) -> str:
    """The admin token kept beside the database, made (mode 0600) on first use."""
    path = admin_token_file(db_path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(24) + "\n")
    token = path.read_text().strip()
    if not token:
        raise click.ClickException(f"{path} is empty: remove it to get a new admin token")
    return token


@click.command("central-dev")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=9100, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--db",
    "db_path",
    default="central-dev.db",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite file where received sessions, heartbeats and the catalog are stored.",
)
@click.option(
    "--device-token",
    required=True,
    envvar=TOKEN_ENV_VAR,
    show_envvar=True,
    help="Bearer token the edge device must present.",
)
@click.option(
    "--admin-token",
    envvar=ADMIN_TOKEN_ENV_VAR,
    show_envvar=True,
    help="Bearer token for the /_ endpoints (fault control, catalog, devices). Default: made"
    " once and kept in DB.admin-token (mode 0600).",
)
@click.option(
    "--catalog",
    "catalog_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Serve this CATALOG document from the start (PUT /_catalog replaces it).",
)
def central_dev_command(
    host: str,
    port: int,
    db_path: Path,
    device_token: str,
    admin_token: str | None,
    catalog_file: Path | None,
) -> None:
    """Run the reference central server (development and tests only)."""
    # Sanic installs handlers on its own loggers (which also propagate to the
    # root logger), so calling logging.basicConfig() here would print every
    # Sanic line twice. Give our logger a handler only when nobody configured
    # logging.
    if not logging.getLogger().handlers and not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    if admin_token is None:
        admin_token = stored_admin_token(db_path)
        logger.info("Admin token for the /_ endpoints: in %s", admin_token_file(db_path))
    if admin_token == device_token:
        raise click.BadParameter("must differ from the device token", param_hint="--admin-token")
    if not is_loopback(host):
        click.echo(
            f"WARNING: central-dev listens on {host}, reachable from other machines. It is a"
            " development server: plain HTTP, tokens in clear, fault injection. Bind it to"
            " 127.0.0.1 unless you must reach it from a device on the LAN.",
            err=True,
        )
    app = create_central_app(db_path, device_token, admin_token, catalog_file)
    logger.info("Central dev server listening on http://%s:%d (db=%s)", host, port, db_path)
    app.run(
        host=host,
        port=port,
        single_process=True,
        access_log=False,
        motd=False,
    )


def main(argv: list[str] | None = None) -> None:
    central_dev_command.main(args=argv, prog_name="central-dev")
