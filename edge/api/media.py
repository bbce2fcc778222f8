"""`GET /_media/<file>`: the catalog's pictures, fetched from the central at pull time and served
by the device, so a diner's phone never loads one from the internet."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, file

from edge.api.responses import edge_ctx
from edge.errors import NotFound
from sync.images import CONTENT_TYPES, FILE_NAME, images_dir

bp = Blueprint("media")

# Names are content hashes: a file never changes under its name.
CACHE_FOREVER = "public, max-age=31536000, immutable"


@bp.get("/_media/<name>")
async def media(request: Request, name: str) -> HTTPResponse:
    match = FILE_NAME.fullmatch(name)
    if match is None:
        raise NotFound()
    path = images_dir(edge_ctx(request).settings.data_dir) / match.group(0)
    if not path.is_file():
        raise NotFound()
    return await file(
        path,
        request_headers=request.headers,
        mime_type=CONTENT_TYPES[match.group(1)],
        # Lower case: `file` adds its own cache-control unless this one is there by that name.
        headers={"cache-control": CACHE_FOREVER, "x-content-type-options": "nosniff"},
    )
