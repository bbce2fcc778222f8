"""`GET /healthz`: is the store open, what is this device, and is its uplink keeping up."""

from __future__ import annotations

from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from edge.api.responses import edge_ctx, ok
from sync.status import sync_status

bp = Blueprint("health")

# Anyone on the Wi-Fi can read /healthz: where the central lives and what it last answered are
# for staff (`GET /api/sync/status`) and the CLI (`sync status`).
STAFF_ONLY_SYNC_FIELDS = ("central_url", "last_error")


def public_sync(status: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in status.items() if key not in STAFF_ONLY_SYNC_FIELDS}


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
            "sync": public_sync(await sync_status(ctx.store)),
        }
    )
