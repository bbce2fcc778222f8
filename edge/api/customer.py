"""Diner endpoints of the seed page: ask for a table, check it, poll a request, refresh a token."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Annotated

import msgspec
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from edge import sessions
from edge.api.request_body import decode_body, invalid, require_uuid
from edge.api.responses import edge_ctx, ok
from edge.auth import require_diner
from edge.quotas import AddressQuotas
from edge.table_keys import KEY_MAX_LENGTH

bp = Blueprint("customer_sessions", url_prefix="/api/customer")

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
Phone = Annotated[str, msgspec.Meta(max_length=20)]
PHONE_PATTERN = re.compile(r"\+?[0-9][0-9 ()-]*")
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# Control (Cc), format (Cf: bidi overrides and isolates, zero-width spaces and joiners, BOM),
# line and paragraph separators (Zl, Zp).
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


class SessionBody(msgspec.Struct):
    customerName: Name
    customerPhone: Phone | None = None
    # From the table's QR code (`?k=`): joining an active table proves presence with it.
    tableKey: Annotated[str, msgspec.Meta(max_length=KEY_MAX_LENGTH)] | None = None


class RegisterBody(SessionBody):
    email: Annotated[str, msgspec.Meta(max_length=254)] | None = None
    birthDate: Annotated[str, msgspec.Meta(max_length=10)] | None = None
    marketingOptIn: bool = False


def _diner_info(body: SessionBody) -> sessions.DinerInfo:
    name = " ".join(body.customerName.split())
    if not name:
        raise invalid("customerName", "must not be blank")
    # Every hidden character is unprintable: most names are settled by one C call, not a
    # category lookup per character.
    if not body.customerName.isprintable() and any(
        unicodedata.category(ch) in HIDDEN_CATEGORIES for ch in body.customerName
    ):
        # Staff read this name to pick who to let in: bidi overrides and zero-width
        # characters would let one request pass for another on the tablet.
        raise invalid(
            "customerName", "must not contain control, invisible or direction-changing characters"
        )
    phone = (body.customerPhone or "").strip() or None
    if phone is not None and not PHONE_PATTERN.fullmatch(phone):
        raise invalid("customerPhone", "must be a phone number (digits, spaces, + ( ) -)")
    email = birth_date = None
    opt_in = False
    if isinstance(body, RegisterBody):
        email = (body.email or "").strip() or None
        if email is not None and not EMAIL_PATTERN.fullmatch(email):
            raise invalid("email", "must be an email address")
        birth_date = body.birthDate or None
        if birth_date is not None:
            try:
                born = date.fromisoformat(birth_date)
            except ValueError:
                raise invalid("birthDate", "must be a date as YYYY-MM-DD") from None
            if len(birth_date) != 10 or not date(1900, 1, 1) <= born <= date.today():
                raise invalid("birthDate", "must be a past date as YYYY-MM-DD")
        opt_in = body.marketingOptIn
    return sessions.DinerInfo(name, phone, email, birth_date, opt_in)


async def _request_table(
    request: Request, branch_slug: str, table_code: str, body_type: type[SessionBody]
) -> HTTPResponse:
    ctx = edge_ctx(request)
    body = decode_body(request, body_type)
    diner, key = _diner_info(body), body.tableKey
    # Resolve the table first so a typo in a URL does not use up the diner's allowance.
    branch, table = await ctx.directory.table(branch_slug, table_code)
    with AddressQuotas(ctx, request.ip) as quotas:
        outcome = await sessions.request_table(ctx, branch, table, diner, key)
        quotas.settle(outcome)
    if outcome.closed:
        return ok({"status": "active"})
    assert outcome.session is not None
    view = sessions.session_view(outcome.session)
    if outcome.existing:
        # A joiner sees the table's session, not the phone number of whoever opened it.
        view["customer_phone"] = None
    data = {
        "session": view,
        "token": outcome.token,
        "sessionId": outcome.session["id"],
        "dinerId": outcome.diner_id,
    }
    if outcome.existing:
        data["existing"] = True
        return ok(data)
    return ok(data, status=201)


@bp.post("/<branch_slug>/<table_code>/session")
async def start_session(request: Request, branch_slug: str, table_code: str) -> HTTPResponse:
    return await _request_table(request, branch_slug, table_code, SessionBody)


@bp.post("/<branch_slug>/<table_code>/register")
async def register(request: Request, branch_slug: str, table_code: str) -> HTTPResponse:
    return await _request_table(request, branch_slug, table_code, RegisterBody)


@bp.get("/<branch_slug>/<table_code>/check-session")
async def check_session(request: Request, branch_slug: str, table_code: str) -> HTTPResponse:
    live = await sessions.table_status(edge_ctx(request), branch_slug, table_code)
    if live is None:
        return ok({"hasSession": False})
    return ok(
        {
            "hasSession": True,
            "status": live.status,
            "sessionId": live.id,
            "customerName": live.customer_name,
        }
    )


@bp.get("/<branch_slug>/<table_code>/session-status/<session_id>")
async def session_status(
    request: Request, branch_slug: str, table_code: str, session_id: str
) -> HTTPResponse:
    session_id = require_uuid(session_id, "sessionId")
    row = await sessions.session_for_table(edge_ctx(request), branch_slug, table_code, session_id)
    data = {"id": row["id"], "status": row["status"], "customer_name": row["customer_name"]}
    if row["reason"]:
        data["reason"] = row["reason"]
    return ok(data)


@bp.post("/session/refresh")
async def refresh(request: Request) -> HTTPResponse:
    ctx = edge_ctx(request)
    diner = await require_diner(ctx, request, need_active=True)
    token = await sessions.refresh_token(ctx, diner.session, diner.claims.diner_id)
    return ok({"token": token})
