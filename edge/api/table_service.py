"""Table service endpoints: a diner calls the waiter or asks for the bill; staff handle it."""

from __future__ import annotations

from typing import Any

import msgspec
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from edge import table_service
from edge.api.request_body import decode_body, invalid, require_uuid
from edge.api.responses import edge_ctx, ok
from edge.auth import require_diner, require_staff
from edge.errors import Forbidden

bp = Blueprint("table_service", url_prefix="/api")

# Those who walk to the table; the kitchen sees the list but does not close requests.
HANDLER_ROLES = ("manager", "waiter", "cashier")


class TableActionBody(msgspec.Struct):
    action: str
    tableSessionId: str


@bp.post("/customer/table-action")
async def table_action(request: Request) -> HTTPResponse:
    ctx = edge_ctx(request)
    diner = await require_diner(ctx, request, need_active=True)
    body = decode_body(request, TableActionBody)
    if body.action not in table_service.ACTIONS:
        raise invalid("action", f"must be one of {', '.join(table_service.ACTIONS)}")
    if require_uuid(body.tableSessionId, "tableSessionId") != diner.session["id"]:
        raise Forbidden("Solo puedes hacer solicitudes para tu propia mesa")
    requested = await table_service.request_service(
        ctx, diner.session["id"], diner.claims.diner_id, body.action
    )
    found = requested.request
    data: dict[str, Any] = {
        "requestId": found["id"],
        "action": found["action"],
        "created_at": found["created_at"],
        "status": found["status"],
    }
    if requested.already_pending:
        data["alreadyPending"] = True
    if body.action == "request_bill":
        data["bill"] = await table_service.bill(ctx, diner.session)
    return ok(data, status=200 if requested.already_pending else 201)


@bp.get("/customer/table-requests")
async def diner_requests(request: Request) -> HTTPResponse:
    ctx = edge_ctx(request)
    diner = await require_diner(ctx, request, need_active=False)
    return ok(await table_service.session_requests(ctx, diner.session["id"]))


@bp.get("/customer/bill")
async def diner_bill(request: Request) -> HTTPResponse:
    ctx = edge_ctx(request)
    diner = await require_diner(ctx, request, need_active=False)
    return ok(await table_service.bill(ctx, diner.session))


@bp.get("/tables/requests")
async def open_requests(request: Request) -> HTTPResponse:
    ctx = edge_ctx(request)
    member = await require_staff(ctx, request)
    return ok(await table_service.open_requests(ctx, member.claims.branch_id))


@bp.patch("/tables/requests/<request_id>/done")
async def mark_done(request: Request, request_id: str) -> HTTPResponse:
    ctx = edge_ctx(request)
    member = await require_staff(ctx, request, HANDLER_ROLES)
    request_id = require_uuid(request_id, "id")
    return ok(
        await table_service.mark_done(
            ctx, member.claims.branch_id, member.claims.staff_id, request_id
        )
    )
