"""`GET /api/sync/status`: the upload queue and the uplink's health, for the staff page."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from edge.api.responses import edge_ctx, ok
from edge.auth import require_staff
from sync.status import sync_status

bp = Blueprint("sync_status", url_prefix="/api")


@bp.get("/sync/status")
async def status(request: Request) -> HTTPResponse:
    ctx = edge_ctx(request)
    await require_staff(ctx, request)
    return ok(await sync_status(ctx.store))
