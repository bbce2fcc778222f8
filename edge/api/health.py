"""`GET /healthz`: is the store open and taking writes, what is this device, and is its uplink
keeping up. While writes fail on a full disk it answers 503 with `status: "degraded"`, so a
monitor (or systemd's watchdog, or a load balancer) sees what diners see."""

from __future__ import annotations

from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from edge.api.responses import edge_ctx, ok
from edge.clock import iso
from edge.store import Store
from sync.catalog_status import catalog_health
from sync.status import sync_status

bp = Blueprint("health")

# Anyone on the Wi-Fi can read /healthz: where the central lives and what it last answered are
# for staff (`GET /api/sync/status`) and the CLI (`sync status`).
STAFF_ONLY_SYNC_FIELDS = ("central_url", "last_error")


def public_sync(status: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in status.items() if key not in STAFF_ONLY_SYNC_FIELDS}


def storage(store: Store) -> dict[str, Any]:
    failing = store.health.failing_since
    return {
        "writable": failing is None,
        "problem": None if failing is None else "disk full",
        "failing_since": None if failing is None else iso(failing),
    }


@bp.get("/healthz")
async def healthz(request: Request) -> HTTPResponse:
    ctx = edge_ctx(request)
    branch = ctx.directory.branch
    degraded = ctx.store.health.degraded
    return ok(
        {
            "status": "degraded" if degraded else "ok",
            "branch": branch["slug"] if branch else None,
            "tables": len(ctx.directory.tables()),
            "storage": storage(ctx.store),
            # Reading the sync state also proves the store answers.
            "sync": public_sync(await sync_status(ctx.store)),
            "catalog": await catalog_health(ctx.store),
        },
        status=503 if degraded else 200,
    )
