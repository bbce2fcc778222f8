"""Pictures a catalog's `image_url`s can point at, so the whole loop runs on one laptop.

- `PUT /_media/<name>` (admin token): the body, with its Content-Type, is stored as is (not
  checked: a "picture" that is not an image is a test case).
- `GET /_media`: what is stored; `DELETE /_media/<name>`.
- `GET /media/<name>` (public, like a CDN): the bytes, with the body faults of the `media`
  target.
"""

from __future__ import annotations

import logging
import re

from sanic import Request, Sanic
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from sync.central.catalog import etag_of, matches
from sync.central.faults import BODY_MODES, answer_fault, send_body
from sync.central.responses import envelope_error
from sync.central.stats import Stats

logger = logging.getLogger("restai.central")

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def _bad_name() -> HTTPResponse:
    return envelope_error(400, "BAD_REQUEST", "Names are letters, digits, '.', '_' and '-'")


def add_media(app: Sanic) -> None:
    @app.get("/media/<name>")
    async def media(request: Request, name: str) -> HTTPResponse | None:
        stats: Stats = app.ctx.stats
        entry = stats.note("media", name=name)
        mode, params = app.ctx.faults.take("media")
        entry["mode"] = mode
        if mode not in BODY_MODES:
            injected = await answer_fault(request, mode, params)
            if injected is not None:
                entry["status"] = injected.status
                return injected
        found = await app.ctx.store.media(name) if NAME.fullmatch(name) else None
        if found is None:
            entry["status"] = 404
            return envelope_error(404, "NOT_FOUND", "No such picture")
        content_type, body, etag = found
        if matches(request.headers.get("if-none-match", ""), etag):
            entry["status"] = 304
            return HTTPResponse(status=304, headers={"ETag": etag})
        entry["status"] = 200
        return await send_body(request, body, content_type, {"ETag": etag}, mode, params)

    @app.put("/_media/<name>")
    async def put_media(request: Request, name: str) -> HTTPResponse:
        if not NAME.fullmatch(name):
            return _bad_name()
        body = request.body or b""
        content_type = request.headers.get("content-type", "application/octet-stream")
        etag = etag_of(body)
        await app.ctx.store.set_media(name, content_type, body, etag)
        logger.info("Picture %s set: %d bytes (%s)", name, len(body), content_type)
        return json_response({"name": name, "url": f"/media/{name}", "bytes": len(body)})

    @app.get("/_media")
    async def list_media(request: Request) -> HTTPResponse:
        return json_response({"media": await app.ctx.store.media_names()})

    @app.delete("/_media/<name>")
    async def delete_media(request: Request, name: str) -> HTTPResponse:
        if not NAME.fullmatch(name):
            return _bad_name()
        await app.ctx.store.drop_media(name)
        return json_response({"deleted": True})
