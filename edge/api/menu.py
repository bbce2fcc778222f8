"""Menu endpoints: the diner's menu for a table, and sold-out toggles for staff."""

from __future__ import annotations

import msgspec
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from edge import catalog, menu
from edge.api.request_body import decode_body, invalid, require_uuid
from edge.api.responses import edge_ctx, ok
from edge.auth import require_staff

bp = Blueprint("menu", url_prefix="/api")

# Whoever learns first that a dish ran out: the kitchen, or the waiter told at the pass.
AVAILABILITY_ROLES = ("manager", "waiter", "kitchen")


class AvailabilityBody(msgspec.Struct):
    # The issue names it `is_available`; request bodies elsewhere are camelCase: take either.
    is_available: bool | None = None
    isAvailable: bool | None = None


@bp.get("/customer/<branch_slug>/<table_code>/menu")
async def table_menu(request: Request, branch_slug: str, table_code: str) -> HTTPResponse:
    ctx = edge_ctx(request)
    branch, table = await ctx.directory.table(branch_slug, table_code)
    found = await catalog.read_menu(ctx.store, branch["id"])
    return ok(
        {
            "branch": found["branch"],
            "table": {"id": table["id"], "number": table["number"]},
            "categories": found["categories"],
            "items": found["items"],
        }
    )


@bp.get("/menu")
async def staff_menu(request: Request) -> HTTPResponse:
    ctx = edge_ctx(request)
    member = await require_staff(ctx, request)
    return ok(await catalog.read_menu(ctx.store, member.claims.branch_id))


@bp.patch("/menu/items/<item_id>")
async def set_availability(request: Request, item_id: str) -> HTTPResponse:
    ctx = edge_ctx(request)
    member = await require_staff(ctx, request, AVAILABILITY_ROLES)
    item_id = require_uuid(item_id, "id")
    body = decode_body(request, AvailabilityBody)
    available = body.is_available if body.is_available is not None else body.isAvailable
    if available is None:
        raise invalid("is_available", "required: true or false")
    row = await menu.set_availability(ctx.store, member.claims.branch_id, item_id, available)
    return ok(catalog.item_view(row))
