"""Who is calling: a diner (customer token) or a staff member (staff token), checked against the
store on every use so that tokens die with their session, their staff member (removed, role or
PIN changed) or their logout."""

from __future__ import annotations

from dataclasses import dataclass

from sanic import Request

from edge import sessions
from edge.context import EdgeContext
from edge.errors import Forbidden, SessionNotFound, TokenRequired, Unauthorized
from edge.store import Row
from edge.tokens import Claims, CustomerClaims, StaffClaims


@dataclass(frozen=True)
class Diner:
    claims: CustomerClaims
    session: Row


@dataclass(frozen=True)
class StaffMember:
    claims: StaffClaims
    name: str


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise TokenRequired()
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized()
    return token.strip()


async def diner_from_token(ctx: EdgeContext, claims: Claims, *, need_active: bool) -> Diner:
    if not isinstance(claims, CustomerClaims):
        raise Forbidden()
    try:
        session = await sessions.get_session(ctx, claims.session_id)
    except SessionNotFound:
        raise Unauthorized() from None
    if session["table_id"] != claims.table_id or session["branch_id"] != claims.branch_id:
        raise Unauthorized()
    sessions.require_usable(session, need_active=need_active)
    return Diner(claims, session)


async def staff_from_token(
    ctx: EdgeContext, claims: Claims, roles: tuple[str, ...] | None = None
) -> StaffMember:
    if not isinstance(claims, StaffClaims):
        raise Forbidden()
    row = await ctx.store.fetch_one(
        "SELECT name, role, branch_id, auth_version,"
        " EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = ?) AS revoked"
        " FROM staff WHERE id = ?",
        (claims.jti, claims.staff_id),
    )
    # A removed staff member, one whose role or PIN changed, or a token logged out: log in again.
    if (
        row is None
        or row["revoked"]
        or row["role"] != claims.role
        or row["branch_id"] != claims.branch_id
        or row["auth_version"] != claims.version
    ):
        raise Unauthorized()
    if roles is not None and claims.role not in roles:
        raise Forbidden()
    return StaffMember(claims, row["name"])


async def require_diner(ctx: EdgeContext, request: Request, *, need_active: bool) -> Diner:
    return await diner_from_token(
        ctx, ctx.tokens.decode(bearer_token(request)), need_active=need_active
    )


async def require_staff(
    ctx: EdgeContext, request: Request, roles: tuple[str, ...] | None = None
) -> StaffMember:
    return await staff_from_token(ctx, ctx.tokens.decode(bearer_token(request)), roles)
