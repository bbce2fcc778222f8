"""Staff endpoints: PIN login and logout, the tables board, pending requests, approve / reject /
end."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import msgspec
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from edge import sessions, staff
from edge.api.request_body import decode_body, invalid, require_uuid
from edge.api.responses import edge_ctx, ok
from edge.auth import require_staff
from edge.context import EdgeContext
from edge.store import Row

bp = Blueprint("staff_tables", url_prefix="/api")

SESSION_ROLES = ("manager", "waiter")


class LoginBody(msgspec.Struct):
    pin: Annotated[str, msgspec.Meta(min_length=1, max_length=16)]


@bp.post("/auth/staff/login")
async def login(request: Request) -> HTTPResponse:
    body = decode_body(request, LoginBody)
    if not staff.PIN_PATTERN.fullmatch(body.pin):
        raise invalid("pin", "must be 4 to 8 digits")
    result = await staff.login(edge_ctx(request), body.pin, request.ip)
    return ok({"token": result.token, "staff": result.staff, "branch": result.branch})


@bp.post("/auth/staff/logout")
async def logout(request: Request) -> HTTPResponse:
    """End the calling token; its open sockets are dropped within seconds."""
    ctx = edge_ctx(request)
    member = await require_staff(ctx, request)
    await staff.logout(ctx, member.claims)
    return ok({"loggedOut": True})


@bp.get("/tables")
async def tables(request: Request) -> HTTPResponse:
    ctx = edge_ctx(request)
    await require_staff(ctx, request)
    return ok(await sessions.tables_overview(ctx))


@bp.get("/tables/sessions/pending")
async def pending(request: Request) -> HTTPResponse:
    ctx = edge_ctx(request)
    await require_staff(ctx, request)
    return ok(await sessions.pending_sessions(ctx))


async def _decide(
    request: Request, session_id: str, decide: Callable[[EdgeContext, str, str], Awaitable[Row]]
) -> HTTPResponse:
    ctx = edge_ctx(request)
    member = await require_staff(ctx, request, SESSION_ROLES)
    session = await decide(ctx, member.claims.staff_id, require_uuid(session_id, "id"))
    return ok(sessions.session_view(session))


@bp.patch("/tables/sessions/<session_id>/approve")
async def approve(request: Request, session_id: str) -> HTTPResponse:
    return await _decide(request, session_id, sessions.approve)


@bp.patch("/tables/sessions/<session_id>/reject")
async def reject(request: Request, session_id: str) -> HTTPResponse:
    return await _decide(request, session_id, sessions.reject)


@bp.patch("/tables/sessions/<session_id>/end")
async def end(request: Request, session_id: str) -> HTTPResponse:
    ctx = edge_ctx(request)
    member = await require_staff(ctx, request, SESSION_ROLES)
    force = request.args.get("force", "false").lower() in {"1", "true", "yes"}
    session = await sessions.end(
        ctx, member.claims.staff_id, member.claims.role, require_uuid(session_id, "id"), force
    )
    return ok(sessions.session_view(session))
