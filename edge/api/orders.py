"""Order endpoints (issue #4)."""

from __future__ import annotations

from sanic import Blueprint

bp = Blueprint("orders", url_prefix="/api")
