"""The application factory: builds the Sanic app for one device from its settings."""

from __future__ import annotations

import gc
import logging

import msgspec
from sanic.config import Config

from edge import pages
from edge.api import customer, health, media, menu, orders, staff, sync_status, table_service
from edge.api import printers as printers_api
from edge.branch import BranchDirectory
from edge.context import EdgeContext
from edge.errors import render_error
from edge.events import EventLog
from edge.http_request import EdgeRequest
from edge.live import LiveSessions
from edge.printing.worker import PrintService
from edge.ratelimit import PendingQuota, SlidingWindow
from edge.realtime import (
    EXPIRY_CHECK_SECONDS,
    REVOCATION_CHECK_SECONDS,
    attach_realtime,
    mount,
)
from edge.scheduler import build_scheduler
from edge.secret_files import JWT_SECRET, PIN_KEY, read_secret
from edge.server_app import ServerApp
from edge.settings import Settings
from edge.staff import seal_pin_hashes
from edge.store import Store
from edge.tls import TlsListener
from edge.tokens import TokenService
from sync.catalog_service import CatalogService
from sync.service import SyncService

log = logging.getLogger("restai_edge")

APP_NAME = "restai_edge"
MAX_BODY_BYTES = 64 * 1024

EdgeApp = ServerApp[Config, EdgeContext]


def build_context(settings: Settings) -> EdgeContext:
    """Everything the device holds; the store is opened when the server starts."""
    store = Store(settings.db_path)
    limit = settings.session_rate_limit
    live = LiveSessions()
    return EdgeContext(
        settings=settings,
        store=store,
        tokens=TokenService(
            read_secret(settings.data_dir, JWT_SECRET),
            settings.customer_token_ttl,
            settings.staff_token_ttl,
        ),
        directory=BranchDirectory(store),
        events=EventLog(store),
        pin_key=read_secret(settings.data_dir, PIN_KEY),
        session_limiter=SlidingWindow(limit.count, limit.seconds) if limit.enabled else None,
        pending_quota=(
            PendingQuota(settings.pending_per_address, live.is_pending)
            if settings.pending_per_address
            else None
        ),
        live=live,
    )


def _routed_app(name: str, ctx: EdgeContext) -> EdgeApp:
    """An app serving every route of the device from `ctx`, with no listeners of its own."""
    # msgspec encodes our answers several times faster than the standard library.
    # configure_logging=False: Sanic's loggers go through edge.logs like every other library's.
    app: EdgeApp = ServerApp(
        name,
        ctx=ctx,
        dumps=msgspec.json.encode,
        configure_logging=False,
        request_class=EdgeRequest,
    )
    app.config.REQUEST_MAX_SIZE = MAX_BODY_BYTES
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.error_handler.add(Exception, render_error)

    blueprints = (
        health.bp,
        customer.bp,
        staff.bp,
        menu.bp,
        orders.bp,
        table_service.bp,
        sync_status.bp,
        media.bp,
        printers_api.bp,
        pages.bp,
    )
    for blueprint in blueprints:
        app.blueprint(blueprint)
    return app


def create_app(settings: Settings, tls: TlsListener | None = None) -> EdgeApp:
    """The device's app; with `tls`, also the HTTPS listener for staff tablets (edge.tls)."""
    ctx = build_context(settings)
    app = _routed_app(APP_NAME, ctx)

    realtime = attach_realtime(app, ctx)
    if tls is not None:
        # The same device behind a second door: same context, routes and Socket.IO server, in
        # this process. Sanic starts and stops its server with the primary app's, whose
        # listeners alone open and close the store and the jobs.
        tls_app = _routed_app(f"{APP_NAME}_tls", ctx)
        mount(tls_app, realtime.server)
        tls_app.prepare(
            sock=tls.sock,
            ssl=tls.context,
            single_process=True,
            access_log=settings.access_log,
            motd=False,
        )
    scheduler = build_scheduler(ctx)
    scheduler.add_job(
        realtime.drop_expired,
        "interval",
        seconds=EXPIRY_CHECK_SECONDS,
        id="drop-expired-sockets",
        coalesce=True,
        max_instances=1,
    )
    scheduler.add_job(
        realtime.drop_revoked,
        "interval",
        seconds=REVOCATION_CHECK_SECONDS,
        id="drop-revoked-sockets",
        coalesce=True,
        max_instances=1,
    )
    SyncService(ctx).schedule(scheduler)
    CatalogService(ctx).schedule(scheduler)

    @app.before_server_start
    async def open_store(app: EdgeApp) -> None:
        await ctx.store.open()
        try:
            await seal_pin_hashes(ctx.store, ctx.pin_key)
            await ctx.directory.load()
            await ctx.live.load(ctx.store)
        except BaseException:
            # Sanic runs no stop listener after a failed start: an open store would be a thread
            # that keeps the process alive with nothing listening.
            await ctx.store.close()
            raise
        if ctx.directory.branch is None:
            log.warning("No branch is provisioned in %s", settings.data_dir)

    @app.after_server_start
    async def start_jobs(app: EdgeApp) -> None:
        # What start-up built (tables, routes, modules) lives as long as the process: keep the
        # collector from walking it again on every full collection.
        gc.collect()
        gc.freeze()
        scheduler.start()
        log.info("RestAI Edge serving on http://%s:%d", settings.host, settings.port)

    @app.before_server_stop
    async def stop_jobs(app: EdgeApp) -> None:
        await scheduler.stop()

    print_service = PrintService(ctx)

    @app.after_server_start
    async def start_printing(app: EdgeApp) -> None:
        print_service.start()

    @app.before_server_stop
    async def stop_printing(app: EdgeApp) -> None:
        await print_service.stop()

    @app.after_server_stop
    async def close_store(app: EdgeApp) -> None:
        await ctx.store.close()
        log.info("RestAI Edge stopped")

    return app
