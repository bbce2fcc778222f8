"""Order endpoints: diners place and follow their table's orders; staff move them along."""

from __future__ import annotations

import re
from typing import Annotated

import msgspec
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from edge import modifiers, orders
from edge.api.request_body import decode_body, invalid, require_uuid
from edge.api.responses import edge_ctx, ok
from edge.auth import require_diner, require_staff

bp = Blueprint("orders", url_prefix="/api")

MAX_LINES = 50
MAX_LIST = 500
DEFAULT_LIST = 200
# Visible ASCII: what a client library puts in a header without escaping.
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")

Notes = Annotated[str, msgspec.Meta(max_length=500)]


class LineBody(msgspec.Struct):
    menuItemId: str
    quantity: Annotated[int, msgspec.Meta(ge=1, le=99)]
    notes: Notes | None = None
    modifiers: Annotated[list[str], msgspec.Meta(max_length=modifiers.MAX_PER_LINE)] = (
        msgspec.field(default_factory=list)
    )


class OrderBody(msgspec.Struct):
    items: Annotated[list[LineBody], msgspec.Meta(min_length=1, max_length=MAX_LINES)]
    notes: Notes | None = None


class StatusBody(msgspec.Struct):
    status: str


def _notes(value: str | None) -> str | None:
    return (value or "").strip() or None


def _new_order(request: Request) -> orders.NewOrder:
    body = decode_body(request, OrderBody)
    key = request.headers.get("idempotency-key")
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        raise invalid("Idempotency-Key", "must be 1 to 255 visible ASCII characters")
    lines = [
        orders.OrderLine(
            require_uuid(line.menuItemId, f"items[{index}].menuItemId"),
            line.quantity,
            _notes(line.notes),
            tuple(
                require_uuid(modifier_id, f"items[{index}].modifiers[{position}]")
                for position, modifier_id in enumerate(line.modifiers)
            ),
        )
        for index, line in enumerate(body.items)
    ]
    return orders.NewOrder(lines, _notes(body.notes), key)


@bp.post("/customer/orders")
async def place(request: Request) -> HTTPResponse:
    ctx = edge_ctx(request)
    diner = await require_diner(ctx, request, need_active=True)
    new = _new_order(request)
    placed = await orders.place_order(ctx, diner.session["id"], diner.claims.diner_id, new)
    response = ok(placed.order, status=201)
    if placed.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.get("/customer/orders")
async def diner_orders(request: Request) -> HTTPResponse:
    ctx = edge_ctx(request)
    diner = await require_diner(ctx, request, need_active=False)
    return ok(await orders.session_orders(ctx, diner.session["id"]))


@bp.get("/customer/orders/<order_id>")
async def diner_order(request: Request, order_id: str) -> HTTPResponse:
    ctx = edge_ctx(request)
    diner = await require_diner(ctx, request, need_active=False)
    order_id = require_uuid(order_id, "id")
    return ok(await orders.get_order(ctx, order_id, session_id=diner.session["id"]))


@bp.post("/customer/orders/<order_id>/cancel")
async def diner_cancel(request: Request, order_id: str) -> HTTPResponse:
    ctx = edge_ctx(request)
    diner = await require_diner(ctx, request, need_active=True)
    order_id = require_uuid(order_id, "id")
    return ok(await orders.cancel_for_diner(ctx, diner.session["id"], order_id))


def _statuses(raw: str | None) -> tuple[str, ...]:
    if not raw:
        return ()
    statuses = tuple(part.strip() for part in raw.split(","))
    for status in statuses:
        if status not in orders.ORDER_STATUSES:
            raise invalid("status", f"must be one of {', '.join(orders.ORDER_STATUSES)}")
    return statuses


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIST
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIST:
        raise invalid("limit", f"must be a whole number from 1 to {MAX_LIST}")
    return int(raw)


@bp.get("/orders")
async def branch_orders(request: Request) -> HTTPResponse:
    ctx = edge_ctx(request)
    member = await require_staff(ctx, request)
    session_id = request.args.get("sessionId")
    found = await orders.list_orders(
        ctx,
        member.claims.branch_id,
        statuses=_statuses(request.args.get("status")),
        session_id=require_uuid(session_id, "sessionId") if session_id is not None else None,
        limit=_limit(request.args.get("limit")),
    )
    return ok(found)


@bp.get("/orders/<order_id>")
async def branch_order(request: Request, order_id: str) -> HTTPResponse:
    ctx = edge_ctx(request)
    member = await require_staff(ctx, request)
    order_id = require_uuid(order_id, "id")
    return ok(await orders.get_order(ctx, order_id, branch_id=member.claims.branch_id))


@bp.patch("/orders/<order_id>/status")
async def change_status(request: Request, order_id: str) -> HTTPResponse:
    ctx = edge_ctx(request)
    member = await require_staff(ctx, request)
    order_id = require_uuid(order_id, "id")
    status = decode_body(request, StatusBody).status
    if status not in orders.ORDER_STATUSES:
        raise invalid("status", f"must be one of {', '.join(orders.ORDER_STATUSES)}")
    return ok(await orders.change_status(ctx, member.claims.branch_id, order_id, status))
