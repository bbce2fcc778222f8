"""`restai-edge central-dev` (also `python -m sync.central`)."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from sync.central.app import create_central_app

logger = logging.getLogger("restai.central")

TOKEN_ENV_VAR = "RESTAI_CENTRAL_DEVICE_TOKEN"


@click.command("central-dev")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=9100, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--db",
    "db_path",
    default="central-dev.db",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite file where received sessions are stored.",
)
@click.option(
    "--device-token",
    required=True,
    envvar=TOKEN_ENV_VAR,
    show_envvar=True,
    help="Bearer token the edge device must present.",
)
def central_dev_command(host: str, port: int, db_path: Path, device_token: str) -> None:
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
    app = create_central_app(db_path, device_token)
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
