"""Staff endpoints for the kitchen printers: their state, and reprinting an order."""

from __future__ import annotations

import msgspec
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from edge import orders
from edge.api.request_body import decode_body, require_uuid
from edge.api.responses import edge_ctx, ok
from edge.auth import require_staff
from edge.errors import ApiError, NotFound
from edge.printing import jobs
from edge.printing.status import printer_statuses

bp = Blueprint("printers", url_prefix="/api")


class PrinterNotFound(NotFound):
    message = "Impresora no encontrada"


class NoPrinter(ApiError):
    status = 409
    code = "NO_PRINTER"
    message = "Ninguna impresora imprime los productos de este pedido"


class ReprintBody(msgspec.Struct):
    printerId: str | None = None


@bp.get("/printers")
async def printers(request: Request) -> HTTPResponse:
    ctx = edge_ctx(request)
    await require_staff(ctx, request)
    return ok(await printer_statuses(ctx.store))


@bp.post("/orders/<order_id>/print")
async def reprint(request: Request, order_id: str) -> HTTPResponse:
    """Print an order's tickets again (marked as a reprint), on every station that prints its
    lines, or only on `printerId`."""
    ctx = edge_ctx(request)
    member = await require_staff(ctx, request)
    order_id = require_uuid(order_id, "id")
    printer_id = None
    if (request.body or b"").strip():
        body = decode_body(request, ReprintBody)
        if body.printerId is not None:
            printer_id = require_uuid(body.printerId, "printerId")
    order = await orders.get_order(ctx, order_id, branch_id=member.claims.branch_id)
    if printer_id is not None and not await ctx.store.fetch_value(
        "SELECT 1 FROM printers WHERE id = ?", (printer_id,)
    ):
        raise PrinterNotFound()
    try:
        queued = await jobs.reprint(ctx.store, order, printer_id)
    except jobs.NothingToPrint:
        raise NoPrinter() from None
    return ok(
        {
            "order_id": order_id,
            "printers": [{"id": printer.id, "name": printer.name} for printer in queued],
        },
        status=202,
    )
