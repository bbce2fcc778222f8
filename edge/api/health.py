"""`GET /healthz`: is the store open, and what is this device."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from edge.api.responses import edge_ctx, ok

bp = Blueprint("health")


@bp.get("/healthz")
async def healthz(request: Request) -> HTTPResponse:
    ctx = edge_ctx(request)
    await ctx.store.fetch_value("SELECT 1")
    branch = ctx.directory.branch
    return ok(
        {
            "status": "ok",
            "branch": branch["slug"] if branch else None,
            "tables": len(ctx.directory.tables()),
        }
    )
