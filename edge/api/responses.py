"""The success half of the envelope (the failure half is `edge.errors.render_error`)."""

from __future__ import annotations

from typing import Any, cast

from sanic import Request
from sanic.response import HTTPResponse, json

from edge.context import EdgeContext
from edge.errors import API_HEADERS


def ok(data: Any, status: int = 200) -> HTTPResponse:
    return json({"success": True, "data": data}, status=status, headers=API_HEADERS)


def edge_ctx(request: Request) -> EdgeContext:
    return cast(EdgeContext, request.app.ctx)
