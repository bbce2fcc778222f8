"""Sanic's request class, able to answer a request whose URL cannot be parsed (a NUL byte in the
path) with the API's 400 instead of a traceback and a dropped connection.

Sanic refuses such a URL with `BadURL`, then builds a placeholder request from the same URL to
render that error, which fails the same way; the connection task dies with the error logged
and the client gets no answer. Here the placeholder (method "NONE", built only to render an
error) falls back to "/" when its URL cannot be parsed; real requests are refused as before.

It also refuses two kinds of malformed read as bad input, before Sanic would log them as errors:
a GET or HEAD carrying a body (answered with the body left unread, and the connection closed),
and a path climbing out with `..` (a traversal attempt at the static files). Here rather than as
middleware of every read route: Sanic's middleware machinery made a `session-status` read 289k
instructions, 284k with the same check here.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from sanic import Request
from sanic.exceptions import BadURL

from edge.errors import BadRequest, NotFound

PLACEHOLDER_METHOD = "NONE"
READS = frozenset({"GET", "HEAD"})


class EdgeRequest(Request):
    def __init__(self, url_bytes: bytes, *args: Any, **kwargs: Any) -> None:
        try:
            super().__init__(url_bytes, *args, **kwargs)
        except BadURL:
            if kwargs.get("method") != PLACEHOLDER_METHOD:
                raise
            super().__init__(b"/", *args, **kwargs)
            return
        if self.method in READS:
            _refuse_malformed_read(self)


def _refuse_malformed_read(request: Request) -> None:
    headers = request.headers
    if "transfer-encoding" in headers or headers.get("content-length", "0") != "0":
        raise BadRequest("Una solicitud de lectura no lleva cuerpo")
    if ".." in unquote(request.path):
        raise NotFound()
