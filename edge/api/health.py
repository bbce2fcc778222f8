"""`GET /healthz`: is the store open, what is this device, and is its uplink keeping up."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from edge.api.responses import edge_ctx, ok
from sync.catalog_status import catalog_health
from sync.status import sync_status

bp = Blueprint("health")


@bp.get("/healthz")
async def healthz(request: Request) -> HTTPResponse:
    ctx = edge_ctx(request)
    branch = ctx.directory.branch
    return ok(
        {
            "status": "ok",
            "branch": branch["slug"] if branch else None,
            "tables": len(ctx.directory.tables()),
            # Reading the sync state also proves the store answers.
            "sync": await sync_status(ctx.store),
            "catalog": await catalog_health(ctx.store),
        }
    )
