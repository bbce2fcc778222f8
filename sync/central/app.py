"""The app factory: one Sanic app with the central's endpoints, its store and its fault state."""

from __future__ import annotations

import itertools
import logging
import os
from pathlib import Path

from sanic import Request, Sanic
from sanic.exceptions import SanicException
from sanic.response import HTTPResponse

from edge.server_app import ServerApp
from sync.central.auth import guard_admin_paths
from sync.central.catalog import add_catalog, load_catalog_file
from sync.central.clock import Clock
from sync.central.control import add_control
from sync.central.faults import MAX_SLOW_DELAY, Faults
from sync.central.heartbeat import add_heartbeat
from sync.central.ingest import add_ingest
from sync.central.media import add_media
from sync.central.responses import STATUS_CODES, envelope_error
from sync.central.stats import Stats
from sync.central.store import CentralStore

logger = logging.getLogger("restai.central")

# Sanic keeps a process-wide registry of app names and refuses duplicates,
# so every app built by the factory gets its own name.
_app_counter = itertools.count(1)
# Room for the 50 MB catalog an integrator sets to see a device refuse it.
MAX_BODY_BYTES = 128 * 1024 * 1024


def create_central_app(
    db_path: Path, device_token: str, admin_token: str, catalog_file: Path | None = None
) -> Sanic:
    """Build the reference central app; each call returns a new, uniquely named app."""
    if not device_token or not admin_token:
        raise ValueError("the device token and the admin token must not be empty")
    if device_token == admin_token:
        raise ValueError("the admin token must differ from the device token")

    app: Sanic = ServerApp(f"restai_central_dev_{os.getpid()}_{next(_app_counter)}")
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.config.REQUEST_MAX_SIZE = MAX_BODY_BYTES
    # Let the `slow` fault hold a request for a long time without Sanic
    # answering 503 on its own, and keep shutdown snappy.
    app.config.RESPONSE_TIMEOUT = int(MAX_SLOW_DELAY) + 60
    app.config.GRACEFUL_SHUTDOWN_TIMEOUT = 1.0

    app.ctx.faults = Faults()
    app.ctx.stats = Stats()
    app.ctx.clock = Clock()
    app.ctx.store = CentralStore(Path(db_path))

    @app.before_server_start
    async def _open_store(app: Sanic) -> None:
        await app.ctx.store.open()
        logger.info("Central dev server using database %s", db_path)

    @app.after_server_stop
    async def _close_store(app: Sanic) -> None:
        await app.ctx.store.close()

    @app.exception(SanicException)
    async def _sanic_error(request: Request, exc: SanicException) -> HTTPResponse:
        status = getattr(exc, "status_code", 500) or 500
        code = STATUS_CODES.get(status, "ERROR")
        return envelope_error(status, code, str(exc) or code)

    @app.exception(Exception)
    async def _unexpected_error(request: Request, exc: Exception) -> HTTPResponse:
        logger.exception("Unhandled error on %s %s", request.method, request.path)
        return envelope_error(500, "INTERNAL_ERROR", "Internal server error")

    guard_admin_paths(app, admin_token)
    add_control(app)
    add_ingest(app, device_token)
    add_catalog(app, device_token)
    add_media(app)
    add_heartbeat(app, device_token)
    if catalog_file is not None:
        load_catalog_file(app, catalog_file)
    return app
