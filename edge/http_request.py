"""Sanic's request class, able to answer a request whose URL cannot be parsed (a NUL byte in the
path) with the API's 400 instead of a traceback and a dropped connection.

Sanic refuses such a URL with `BadURL`, then builds a placeholder request from the same URL to
render that error, which fails the same way; the connection task dies with the error logged
and the client gets no answer. Here the placeholder (method "NONE", built only to render an
error) falls back to "/" when its URL cannot be parsed; real requests are refused as before.
"""

from __future__ import annotations

from typing import Any

from sanic import Request
from sanic.exceptions import BadURL

PLACEHOLDER_METHOD = "NONE"


class EdgeRequest(Request):
    def __init__(self, url_bytes: bytes, *args: Any, **kwargs: Any) -> None:
        try:
            super().__init__(url_bytes, *args, **kwargs)
        except BadURL:
            if kwargs.get("method") != PLACEHOLDER_METHOD:
                raise
            super().__init__(b"/", *args, **kwargs)
