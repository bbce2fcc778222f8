"""Running the device's server in this process."""

from __future__ import annotations

import logging

from edge.app import create_app
from edge.settings import Settings
from provisioning.device_lock import device_lock


def configure_logging(level: str) -> None:
    root = logging.getLogger("restai_edge")
    root.setLevel(level)
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.propagate = False


def serve(settings: Settings) -> None:
    """Serve until stopped. One process: rooms, rate limits and the single writer live in it."""
    configure_logging(settings.log_level)
    # Held while serving, so `restore` and a second `serve` see the device is in use.
    with device_lock(settings.data_dir, "serving"):
        app = create_app(settings)
        app.run(
            host=settings.host,
            port=settings.port,
            single_process=True,
            access_log=settings.access_log,
            motd=False,
        )
