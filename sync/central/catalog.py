"""The catalog a device pulls, and the admin endpoints an integrator sets it with.

- `GET /api/edge/v1/catalog` (device token): 200 `{"success": true, "data": CATALOG}` with an
  `ETag`, or 304 when `If-None-Match` names the current one; 404 while no catalog is set (the
  central does not offer one).
- `PUT /_catalog` (admin token): the body becomes the catalog, byte for byte. It is not checked:
  a broken catalog is what an integrator sets to see the device refuse it.
- `GET /_catalog`: the document as set; `DELETE /_catalog`: no catalog any more.

The ETag is a hash of the document, so setting the same bytes again changes nothing for devices.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from sanic import Request, Sanic
from sanic.response import HTTPResponse, raw
from sanic.response import json as json_response

from sync.central.auth import device_refusal
from sync.central.faults import BODY_MODES, answer_fault, send_body
from sync.central.responses import envelope_error
from sync.central.stats import Stats

logger = logging.getLogger("restai.central")

CATALOG_PATH = "/api/edge/v1/catalog"
ENVELOPE_HEAD = b'{"success": true, "data": '
ENVELOPE_TAIL = b"}"


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110's weak comparison against a list of entity tags (or `*`)."""
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


async def set_catalog(app: Sanic, body: bytes) -> str:
    etag = etag_of(body)
    await app.ctx.store.set_catalog(body, etag, app.ctx.clock.iso())
    logger.info("Catalog set: %d bytes, ETag %s", len(body), etag)
    return etag


def load_catalog_file(app: Sanic, path: Path) -> None:
    """Set the catalog from `path` once the store is open, before the first request
    (`central-dev --catalog FILE`)."""

    @app.before_server_start
    async def _load(app: Sanic) -> None:
        await set_catalog(app, path.read_bytes())


def add_catalog(app: Sanic, device_token: str) -> None:
    @app.get(CATALOG_PATH)
    async def catalog(request: Request) -> HTTPResponse | None:
        stats: Stats = app.ctx.stats
        entry = stats.note("catalog", if_none_match=request.headers.get("if-none-match"))
        mode, params = app.ctx.faults.take("catalog")
        entry["mode"] = mode
        if mode not in BODY_MODES:
            injected = await answer_fault(request, mode, params)
            if injected is not None:
                entry["status"] = injected.status
                return injected
        refusal = device_refusal(request, device_token)
        if refusal is not None:
            entry["status"] = refusal.status
            return refusal
        current = await app.ctx.store.catalog()
        if current is None:
            entry["status"] = 404
            return envelope_error(404, "NOT_FOUND", "No catalog is set on this central")
        document, etag, _ = current
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if matches(request.headers.get("if-none-match", ""), etag):
            entry["status"] = 304
            return raw(b"", status=304, headers=headers)
        entry["status"] = 200
        body = ENVELOPE_HEAD + document + ENVELOPE_TAIL
        return await send_body(request, body, "application/json", headers, mode, params)

    @app.put("/_catalog")
    async def put_catalog(request: Request) -> HTTPResponse:
        body = request.body or b""
        if not body:
            return envelope_error(400, "BAD_REQUEST", "The body is the catalog document")
        etag = await set_catalog(app, body)
        return json_response({"etag": etag, "bytes": len(body)})

    @app.get("/_catalog")
    async def get_catalog(request: Request) -> HTTPResponse:
        current = await app.ctx.store.catalog()
        if current is None:
            return envelope_error(404, "NOT_FOUND", "No catalog is set")
        document, etag, set_at = current
        return raw(
            document,
            content_type="application/json",
            headers={"ETag": etag, "X-Set-At": set_at},
        )

    @app.delete("/_catalog")
    async def delete_catalog(request: Request) -> HTTPResponse:
        await app.ctx.store.drop_catalog()
        logger.info("Catalog removed")
        return json_response({"deleted": True})
