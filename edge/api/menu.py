"""Menu endpoints (issue #4)."""

from __future__ import annotations

from sanic import Blueprint

bp = Blueprint("menu", url_prefix="/api")
