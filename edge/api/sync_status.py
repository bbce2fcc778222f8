"""`GET /api/sync/status`: the upload queue, the uplink's health, the device clock against the
central's and where the menu stands (`catalog`, as `restai-edge menu status`), for the staff
page."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from edge.api.responses import edge_ctx, ok
from edge.auth import require_staff
from sync.catalog_status import menu_status
from sync.status import sync_status

bp = Blueprint("sync_status", url_prefix="/api")


@bp.get("/sync/status")
async def status(request: Request) -> HTTPResponse:
    ctx = edge_ctx(request)
    await require_staff(ctx, request)
    return ok({**await sync_status(ctx.store), "catalog": await menu_status(ctx.store)})
