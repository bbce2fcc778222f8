"""Diner and staff pages served by the device itself, so a table works with no internet at all.

Pages are small server-rendered shells; their scripts talk to the same JSON API and Socket.IO as
any other client. Assets live under `/_assets/`, a prefix no branch slug can take (slugs start
with a letter or digit), and pages name them with a content hash (`?v=`): a phone keeps them for
good and still fetches a new release at once. Assets and pages go out compressed to clients that
accept it (see edge.assets).
"""

from __future__ import annotations

import asyncio
import functools
import html
import re
import string
from email.utils import parsedate_to_datetime
from pathlib import Path

from sanic import Blueprint, Request, Sanic
from sanic.response import HTTPResponse, redirect
from sanic.response import html as html_response
from sanic.response import raw as raw_response

from edge.api.responses import edge_ctx
from edge.assets import MIN_COMPRESS_BYTES, AssetTable, compress, negotiate
from edge.errors import MethodNotAllowed, NotFound
from edge.store import Row

STATIC_DIR = Path(__file__).parent / "static"
TEMPLATE_DIR = Path(__file__).parent / "templates"
ASSET_PREFIX = "/_assets"
REALTIME_CLIENT = "vendor/socket.io.min.js"
# Alphabet of the short codes printed under each QR (see edge.branch); spaces and dashes that
# people type between characters are dropped first.
SHORT_CODE = re.compile(r"[23456789ABCDEFGHJKMNPQRSTVWXYZ]{5}")
# `/{slug}/...` also matches unknown `/api/...` paths (the router prefers every real API route,
# static segments first), so page routes take every method and answer those as the API would:
# a JSON 404 under /api/, a 405 elsewhere.
PAGE_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    # A page is a few hundred bytes and names its assets by hash: always ask, never go stale.
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

bp = Blueprint("pages")


@functools.cache
def assets() -> AssetTable:
    return AssetTable(STATIC_DIR)


def asset_url(path: str) -> str:
    return f"{ASSET_PREFIX}/{assets().version(path)}"


@bp.before_server_start
async def compress_assets(app: Sanic) -> None:
    """Made once at start, off the event loop: requests then only pick bytes."""
    await asyncio.get_running_loop().run_in_executor(None, assets().compress_all)


@bp.route(f"{ASSET_PREFIX}/<path:path>", methods=("GET", "HEAD"), name="assets")
async def asset(request: Request, path: str) -> HTTPResponse:
    found = assets().get(path)
    if found is None:
        raise NotFound()
    body, encoding = found.body_for(negotiate(request.headers.get("accept-encoding", "")))
    etag = found.etag(encoding)
    headers = {
        "Content-Type": found.content_type,
        "ETag": etag,
        "Last-Modified": found.last_modified,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
        # Only the URL a page names is forever: any other may change with the next release.
        "Cache-Control": "public, max-age=31536000, immutable"
        if request.args.get("v") == found.digest
        else "no-cache",
    }
    if encoding:
        headers["Content-Encoding"] = encoding
    if _not_modified(request, etag, found.last_modified):
        return HTTPResponse(status=304, headers=headers)
    return raw_response(body, headers=headers, content_type=found.content_type)


def _not_modified(request: Request, etag: str, last_modified: str) -> bool:
    match = request.headers.get("if-none-match")
    if match is not None:
        return match.strip() == "*" or etag in (tag.strip() for tag in match.split(","))
    since = request.headers.get("if-modified-since")
    if since is None:
        return False
    try:
        return parsedate_to_datetime(since) >= parsedate_to_datetime(last_modified)
    except (TypeError, ValueError):
        return False


@bp.on_response
async def compress_pages(request: Request, response: HTTPResponse) -> None:
    """Pages are rendered per request, so they are compressed per request, quickly. They carry
    no secret (tokens live in the browser's storage), so compressing what a visitor typed
    beside them gives nothing away."""
    body = response.body
    if (
        not body
        or len(body) < MIN_COMPRESS_BYTES
        or "content-encoding" in response.headers
        or not (response.content_type or "").startswith("text/html")
    ):
        return
    encoding = negotiate(request.headers.get("accept-encoding", ""))
    response.headers["Vary"] = "Accept-Encoding"
    if encoding:
        response.body = compress(body, encoding, fast=True)
        response.headers["Content-Encoding"] = encoding


@functools.cache
def _template(name: str) -> string.Template:
    return string.Template((TEMPLATE_DIR / name).read_text(encoding="utf-8"))


def render(name: str, **values: object) -> str:
    """Fill a template; every value is HTML-escaped, so nothing a person typed becomes markup."""
    return _template(name).substitute({key: html.escape(str(v)) for key, v in values.items()})


def page(
    template: str,
    title: str,
    scripts: tuple[str, ...] = (),
    status: int = 200,
    realtime: bool = False,
    **values: object,
) -> HTTPResponse:
    """A whole page. `realtime` names the Socket.IO client for common.js to load when the page
    first goes live (most first views, a join form or a PIN pad, never need it)."""
    body = render(template, **values)
    tags = [f'<script src="{html.escape(asset_url(script))}" defer></script>' for script in scripts]
    if realtime:
        client = html.escape(asset_url(REALTIME_CLIENT))
        tags.insert(0, f'<meta name="restai-realtime-client" content="{client}">')
    document = _template("layout.html").substitute(
        title=html.escape(title),
        stylesheet=html.escape(asset_url("css/app.css")),
        icon=html.escape(asset_url("img/icon.svg")),
        scripts="\n".join(tags),
        body=body,
    )
    return html_response(document, status=status, headers=PAGE_HEADERS)


def _not_found(message: str, branch: Row | None) -> HTTPResponse:
    code_link = f"/{branch['slug']}/codigo" if branch else ""
    return page(
        "not_found.html",
        "No encontrado",
        status=404,
        message=message,
        code_link=code_link or "#",
        code_link_hidden="" if code_link else "hidden",
    )


def _branch(request: Request, slug: str) -> Row | None:
    """The branch a page URL names, or None; paths that are not pages raise the API's errors."""
    if slug == "api":
        raise NotFound()
    if request.method not in ("GET", "HEAD"):
        raise MethodNotAllowed()
    branch = edge_ctx(request).directory.branch
    return branch if branch is not None and branch["slug"] == slug else None


@bp.get("/staff")
async def staff_page(request: Request) -> HTTPResponse:
    branch = edge_ctx(request).directory.branch
    name = branch["name"] if branch else "RestAI Edge"
    return page(
        "staff.html",
        f"Personal · {name}",
        scripts=("js/common.js", "js/modifiers.js", "js/staff_service.js", "js/staff.js"),
        realtime=True,
        branch_name=name,
    )


async def _table_by_short_code(request: Request, branch: Row, raw: str) -> Row | None:
    code = re.sub(r"[\s-]", "", raw).upper()
    if not SHORT_CODE.fullmatch(code):
        return None
    try:
        return await edge_ctx(request).directory.table_by_short_code(branch["slug"], code)
    except NotFound:
        return None


def _code_page(branch: Row, typed: str = "", error: str = "", status: int = 200) -> HTTPResponse:
    return page(
        "code.html",
        f"Código de mesa · {branch['name']}",
        status=status,
        branch_name=branch["name"],
        action=f"/{branch['slug']}/codigo",
        typed=typed,
        error=error,
        error_hidden="" if error else "hidden",
        invalid="true" if error else "false",
    )


@bp.route("/<branch_slug:slug>/codigo", methods=PAGE_METHODS)
async def code_form(request: Request, branch_slug: str) -> HTTPResponse:
    """For diners who cannot scan: type the 5-character code printed under the QR."""
    branch = _branch(request, branch_slug)
    if branch is None:
        return _not_found("Este restaurante no existe en este dispositivo.", None)
    typed = request.args.get("code")
    if typed is None:
        return _code_page(branch)
    return await _to_table(request, branch, typed, status=303)


@bp.route("/<branch_slug:slug>/codigo/<short_code>", methods=PAGE_METHODS)
async def code_link(request: Request, branch_slug: str, short_code: str) -> HTTPResponse:
    branch = _branch(request, branch_slug)
    if branch is None:
        return _not_found("Este restaurante no existe en este dispositivo.", None)
    return await _to_table(request, branch, short_code, status=302)


async def _to_table(request: Request, branch: Row, short_code: str, status: int) -> HTTPResponse:
    """Redirect a short code to its table's page, or show the code form again with the error."""
    table = await _table_by_short_code(request, branch, short_code[:20])
    if table is None:
        message = "No encontramos una mesa con ese código. Revisa las 5 letras y números."
        return _code_page(branch, short_code[:20], message, status=404)
    return redirect(f"/{branch['slug']}/{table['code']}", status=status)


@bp.route("/<branch_slug:slug>/<table_code>", methods=PAGE_METHODS)
async def diner_page(request: Request, branch_slug: str, table_code: str) -> HTTPResponse:
    branch = _branch(request, branch_slug)
    if branch is None:
        return _not_found("Este restaurante no existe en este dispositivo.", None)
    try:
        _, table = await edge_ctx(request).directory.table(branch_slug, table_code)
    except NotFound:
        message = "Esta mesa no existe. Revisa el código QR o escribe el código de tu mesa."
        return _not_found(message, branch)
    return page(
        "diner.html",
        f"Mesa {table['number']} · {branch['name']}",
        scripts=("js/common.js", "js/modifiers.js", "js/diner_service.js", "js/diner.js"),
        realtime=True,
        branch_name=branch["name"],
        branch_slug=branch["slug"],
        table_code=table["code"],
        table_number=table["number"],
    )
